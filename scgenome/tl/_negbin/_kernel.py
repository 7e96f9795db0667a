"""Fused CPU kernels for the NB and Poisson families (numba), used by :mod:`._fit` on the CPU.

One pass over the cells of each gene computes the per-gene log-likelihood, the gradient and the
Hessian in the coefficients directly (the chain rule through the designs is accumulated cell by
cell), so no genes x cells temporaries are allocated: the torch version needs ~40 elementwise
passes over each chunk per Newton iteration. Genes run in parallel (``numba.prange``).

The log-likelihood omits ``lgamma(y + 1)`` (constant in the parameters; the caller subtracts it).
For a count ``y > 0`` the differences ``lgamma(y + r) - lgamma(r)``, ``digamma(y + r) - digamma(r)``
and ``trigamma(y + r) - trigamma(r)`` are, for small counts, exact finite sums over ``j < y`` of
``1 / (r + j)`` and ``-1 / (r + j)^2`` and the log of the product of ``r + j``; for larger counts
the gamma functions are used directly. Where ``r >= 1e3`` the asymptotic (Stirling) series of the
differences avoid cancellation, as :mod:`._model` does. For ``y == 0`` every one of them is zero.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_SMALL_Y = 24.0
_LARGE_R = 1e3
_TABLE = 64


@numba.njit(cache=True, inline="always")
def _digamma(x):  # pragma: no cover - compiled
    acc = 0.0
    while x < 10.0:
        acc -= 1.0 / x
        x += 1.0
    x2 = 1.0 / (x * x)
    series = x2 * (
        -1.0 / 12
        + x2 * (1.0 / 120 + x2 * (-1.0 / 252 + x2 * (1.0 / 240 + x2 * (-1.0 / 132 + x2 * (691.0 / 32760 - x2 / 12)))))
    )
    return acc + math.log(x) - 0.5 / x + series


@numba.njit(cache=True, inline="always")
def _trigamma(x):  # pragma: no cover - compiled
    acc = 0.0
    while x < 10.0:
        acc += 1.0 / (x * x)
        x += 1.0
    ix = 1.0 / x
    x2 = ix * ix
    series = (
        ix
        + 0.5 * x2
        + ix
        * x2
        * (
            1.0 / 6
            + x2
            * (-1.0 / 30 + x2 * (1.0 / 42 + x2 * (-1.0 / 30 + x2 * (5.0 / 66 + x2 * (-691.0 / 2730 + x2 * 7.0 / 6)))))
        )
    )
    return acc + series


@numba.njit(cache=True, inline="always")
def _diffs(y, r, derivs):  # pragma: no cover - compiled
    """``lgamma(y+r)-lgamma(r)``, ``digamma(y+r)-digamma(r)``, ``trigamma(y+r)-trigamma(r)`` for ``y > 0``."""
    yr = y + r
    if y <= _SMALL_Y:
        dg = 0.0
        tg = 0.0
        if derivs:
            for j in range(int(y)):
                inv = 1.0 / (r + j)
                dg += inv
                tg -= inv * inv
        if r < _LARGE_R:
            # prod_j (r + j) < (r + y)^y stays far below the float64 range here
            prod = r
            for j in range(1, int(y)):
                prod *= r + j
            return math.log(prod), dg, tg
        return _lgamma_series(y, r, yr), dg, tg
    if r >= _LARGE_R:
        lg = _lgamma_series(y, r, yr)
        if not derivs:
            return lg, 0.0, 0.0
        ryr = r * yr
        dg = math.log1p(y / r) + y / (2.0 * ryr) + y * (2.0 * r + y) / (12.0 * ryr * ryr)
        # trigamma(x) ~ 1/x + 1/(2x^2) + 1/(6x^3) - 1/(30x^5): differences without cancellation
        tg = (
            -y / ryr
            - y * (2.0 * r + y) / (2.0 * ryr * ryr)
            - y * (yr * yr + yr * r + r * r) / (6.0 * ryr * ryr * ryr)
            - (yr**-5 - r**-5) / 30.0
        )
        return lg, dg, tg
    lg = math.lgamma(yr) - math.lgamma(r)
    if not derivs:
        return lg, 0.0, 0.0
    return lg, _digamma(yr) - _digamma(r), _trigamma(yr) - _trigamma(r)


@numba.njit(cache=True, inline="always")
def _lgamma_series(y, r, yr):  # pragma: no cover - compiled
    corr = (1.0 / yr - 1.0 / r) / 12.0 - (yr**-3 - r**-3) / 360.0
    return (r - 0.5) * math.log1p(y / r) + y * math.log(yr) - y + corr


@numba.njit(cache=True, parallel=True)
def glm_eval(y, genes, x, z, off, params, nb, const_r, derivs, ll, grad, hess):  # pragma: no cover - compiled
    """Per-gene log-likelihood (and, when ``derivs``, gradient and Hessian) of NB / Poisson GLMs.

    ``y``: counts (chunk genes x cells); ``genes``: rows of ``y`` to evaluate; ``x`` (cells x p) mean
    design, ``z`` (cells x q) dispersion design (ignored unless ``nb``); ``off``: log-mean offset per
    cell; ``params`` (len(genes) x (p + q)). ``const_r``: ``z`` is one column of ones (one NB size per
    gene), so the special-function differences come from a per-gene table over the counts. Writes ``ll[i]``, ``grad[i]``, ``hess[i]`` (upper and
    lower triangles) for ``i < len(genes)``.
    """
    n_cells = y.shape[1]
    p = x.shape[1]
    q = z.shape[1] if nb else 0
    k = p + q
    for i in numba.prange(genes.shape[0]):
        row = genes[i]
        beta = params[i, :p]
        gam = params[i, p:k]
        acc = 0.0
        g = np.zeros(k)
        h = np.zeros((k, k))
        r0 = math.exp(gam[0]) if nb and const_r else 1.0
        tab = np.zeros((3, _TABLE))
        if nb and const_r:  # differences for counts 0 .. _TABLE - 1 at this gene's single r
            for j in range(1, _TABLE):
                rj = r0 + (j - 1)
                inv = 1.0 / rj
                tab[0, j] = tab[0, j - 1] + math.log(rj)
                tab[1, j] = tab[1, j - 1] + inv
                tab[2, j] = tab[2, j - 1] - inv * inv
        for c in range(n_cells):
            eta = off[c]
            for a in range(p):
                eta += x[c, a] * beta[a]
            yv = y[row, c]
            mu = math.exp(eta)
            if not nb:
                acc += yv * eta - mu
                if derivs:
                    de = yv - mu
                    for a in range(p):
                        xa = x[c, a]
                        g[a] += de * xa
                        for b in range(a, p):
                            h[a, b] -= mu * xa * x[c, b]
                continue
            if const_r:
                theta = gam[0]
                r = r0
            else:
                theta = 0.0
                for b in range(q):
                    theta += z[c, b] * gam[b]
                r = math.exp(theta)
            rm = r + mu
            l1p = math.log1p(mu / r)
            if yv > 0.0:
                if const_r and yv < _TABLE:
                    iy = int(yv)
                    lg, dg, tg = tab[0, iy], tab[1, iy], tab[2, iy]
                else:
                    lg, dg, tg = _diffs(yv, r, derivs)
                acc += lg + yv * (eta - theta - l1p) - r * l1p
            else:
                dg = 0.0
                tg = 0.0
                acc -= r * l1p
            if not derivs:
                continue
            frac = r / rm
            ymu = yv - mu
            de = frac * ymu
            dt = r * (dg - l1p - ymu / rm)
            fmu = frac * mu / rm
            wee = -(yv + r) * fmu
            wet = ymu * fmu
            wtt = dt + r * r * tg + mu * frac + r * frac * ymu / rm
            for a in range(p):
                xa = x[c, a]
                g[a] += de * xa
                for b in range(a, p):
                    h[a, b] += wee * xa * x[c, b]
                for b in range(q):
                    h[a, p + b] += wet * xa * z[c, b]
            for a in range(q):
                za = z[c, a]
                g[p + a] += dt * za
                for b in range(a, q):
                    h[p + a, p + b] += wtt * za * z[c, b]
        ll[i] = acc
        if derivs:
            for a in range(k):
                grad[i, a] = g[a]
                for b in range(a, k):
                    hess[i, a, b] = h[a, b]
                    hess[i, b, a] = h[a, b]


def set_threads(n: int) -> None:
    """Use at most ``n`` numba threads (follows ``torch.get_num_threads()``)."""
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))

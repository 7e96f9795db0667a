"""Linear mixed model and linear model association tests (GEMMA ``-lmm 4`` / ``-lm 4``), vectorised over SNPs.

Nothing here knows about AnnData. Notation follows Zhou & Stephens (2012): in the eigenbasis of the
(double-centred) kinship, ``K = U diag(e) U'``, the phenotype covariance is ``tau^-1 (lambda K + I)`` and every
quantity of a model reduces to weighted inner products with weights ``h_i = 1 / (lambda e_i + 1)``.
For a SNP with covariates ``Z = [W, x]`` we build the weighted Gram matrix of ``[Z, y]`` and take Schur
complements (the ``Pab`` recursions of GEMMA) in batch for all SNPs of a chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from scipy import stats

L_MIN, L_MAX, N_REGION = 1e-5, 1e5, 10
LOG_2PI = np.log(2 * np.pi)


#: Relative tolerance of the kinship checks: asymmetry ``max |K - K'|`` up to this times ``max |K|``, and
#: eigenvalues of the double-centred kinship down to minus this times the largest absolute eigenvalue (round-off of
#: a kinship stored in float32 or as text with 6 significant digits stays below 1e-6 of it).
KINSHIP_RTOL = 1e-5


def check_kinship_symmetric(K: np.ndarray, *, what: str) -> None:
    """Raise unless ``K`` is symmetric up to :data:`KINSHIP_RTOL` times its largest absolute entry."""
    if K.size == 0:
        return
    scale = float(np.max(np.abs(K)))
    worst, i, j = 0.0, 0, 0
    for start in range(0, K.shape[0], 1024):  # row blocks against column blocks: no n x n temporary
        block = np.abs(K[start : start + 1024] - K[:, start : start + 1024].T)
        k = int(np.argmax(block))
        if block.flat[k] > worst:
            worst = float(block.flat[k])
            i, j = start + k // K.shape[1], k % K.shape[1]
    if worst > KINSHIP_RTOL * scale:
        msg = (
            f"The kinship ({what}) is not symmetric: |K[{i}, {j}] - K[{j}, {i}]| = {worst:.3g}, {worst / scale:.2g} of "
            f"its largest entry (tolerance {KINSHIP_RTOL:g}). A kinship (genetic relatedness) matrix is symmetric: "
            "check how it was built (rows and columns in the order of gdata.obs_names), or pass (K + K.T) / 2 if the "
            "asymmetry is known round-off."
        )
        raise ValueError(msg)


def eigen_kinship(
    K: np.ndarray, *, center: bool = True, tol: float = 1e-10, what: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Eigendecomposition of the analysed individuals' kinship as GEMMA does it.

    The matrix is double-centred (``(I - 11'/n) K (I - 11'/n)``) and eigenvalues below ``tol`` are set to 0.
    With ``what`` (how the kinship was given, for the message), raise first unless the centred matrix is positive
    semi-definite: no eigenvalue below ``-KINSHIP_RTOL`` times the largest absolute one, and a positive largest one.
    """
    K = np.asarray(K, dtype=np.float64)
    if center:
        K = K - K.mean(0, keepdims=True)
        K = K - K.mean(1, keepdims=True)
    evals, U = np.linalg.eigh((K + K.T) / 2)
    if what is not None and evals.size:
        top = float(np.max(np.abs(evals)))
        low, high = float(evals[0]), float(evals[-1])
        if low < -KINSHIP_RTOL * top or high <= tol:
            n_neg = int((evals < -KINSHIP_RTOL * top).sum())
            msg = (
                f"The kinship ({what}) is not positive semi-definite: after centring, on the {evals.size} analysed "
                f"individuals, its smallest eigenvalue is {low:.4g} and its largest {high:.4g} ({n_neg} eigenvalue(s) "
                f"below -{KINSHIP_RTOL:g} x the largest absolute one). A kinship (genetic relatedness) matrix has no "
                "negative eigenvalues (a sign flip, an inverse or a distance matrix?). Recompute it (sg.pp.kinship), "
                "or project it onto the PSD matrices: w, V = np.linalg.eigh(K); K = (V * np.clip(w, 0, None)) @ V.T."
            )
            raise ValueError(msg)
    evals = np.where(evals < tol, 0.0, evals)
    return evals, U


# ---------------------------------------------------------------------------------------------------------------
# weighted Gram matrices of [W, x, y]
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Rotated:
    """Rotated covariates ``W`` (n x c), phenotype ``y`` (n), SNP chunk ``X`` (n x s) and products of them."""

    W: np.ndarray
    y: np.ndarray
    X: np.ndarray

    def __post_init__(self) -> None:
        self.W = np.ascontiguousarray(self.W, dtype=np.float64)
        self.y = np.ascontiguousarray(self.y, dtype=np.float64)
        self.XT = np.ascontiguousarray(self.X.T, dtype=np.float64)  # SNP-major copy for the compiled kernel
        c = self.W.shape[1]
        iu = np.triu_indices(c)
        self._iu = iu
        # shared products: W_j W_k (upper), W_j y, y y   -> (n, m)
        self.shared = np.column_stack([self.W[:, iu[0]] * self.W[:, iu[1]], self.W * self.y[:, None], self.y**2])
        # the only per-SNP product formed: x x (n, s); W_j x and x y fold into the (small) weight matrices
        self.X2 = self.X * self.X

    @property
    def c(self) -> int:
        return self.W.shape[1]

    @property
    def s(self) -> int:
        return self.X.shape[1]

    def subset(self, idx: np.ndarray) -> Rotated:
        """Return the same data restricted to SNPs ``idx``."""
        out = object.__new__(Rotated)
        out.W, out.y, out.X, out.XT = self.W, self.y, self.X[:, idx], self.XT[idx]
        out._iu, out.shared = self._iu, self.shared
        out.X2 = self.X2[:, idx]
        return out

    def gram(self, h: np.ndarray) -> np.ndarray:
        """Gram matrices of ``[W, x, y]`` weighted by ``h``.

        ``h`` is (n,) (one lambda for all SNPs; result (s, c+2, c+2)), (n, s) (one lambda per SNP; result
        (s, c+2, c+2)) or (k, n) with ``grid=True`` via :meth:`gram_grid` (result (k, s, c+2, c+2)).
        """
        if h.ndim == 1:
            return self.gram_grid(h[None, :])[0]
        sh = h.T @ self.shared
        hx = h * self.X
        ps = [self.W[:, j] @ hx for j in range(self.c)] + [np.einsum("ns,ns->s", h, self.X2), self.y @ hx]
        return self._assemble(sh, ps, (self.s,))

    def gram_grid(self, H: np.ndarray) -> np.ndarray:
        """Gram matrices for k shared weight vectors ``H`` (k, n) at once (two matrix-matrix products)."""
        k, s, c = H.shape[0], self.s, self.c
        sh = np.broadcast_to((H @ self.shared)[:, None, :], (k, s, self.shared.shape[1]))
        V = np.column_stack([self.W, self.y])  # (n, c+1)
        HV = (H[None, :, :] * V.T[:, None, :]).reshape((c + 1) * k, -1)
        P = (HV @ self.X).reshape(c + 1, k, s)
        ps = [P[j] for j in range(c)] + [H @ self.X2, P[c]]
        return self._assemble(sh, ps, (k, s))

    def _assemble(self, sh, ps, shape) -> np.ndarray:
        c = self.c
        q = c + 2
        M = np.empty((*shape, q, q))
        nww = len(self._iu[0])
        M[..., self._iu[0], self._iu[1]] = sh[..., :nww]
        M[..., self._iu[1], self._iu[0]] = sh[..., :nww]
        M[..., :c, c + 1] = sh[..., nww : nww + c]
        M[..., c + 1, :c] = sh[..., nww : nww + c]
        M[..., c + 1, c + 1] = sh[..., -1]
        for j in range(c):
            M[..., j, c] = M[..., c, j] = ps[j]
        M[..., c, c] = ps[c]
        M[..., c, c + 1] = M[..., c + 1, c] = ps[c + 1]
        return M


@numba.njit(cache=True, parallel=True)
def _gram_own_lambda(XT, W, y, evals, lam, rows, logl):  # pragma: no cover - compiled
    """Weighted Gram matrices of ``[W, x, y]`` for SNP rows ``rows`` of ``XT`` (SNPs x n), each at its own lambda.

    One fused pass over the individuals per SNP: weights ``h = 1 / (lam e + 1)``, ``h^2``, ``h^3``; returns the
    three (m, q, q) Gram matrices, ``sum h``, ``sum h^2`` and (when ``logl``) ``sum log(lam e + 1)``.
    """
    m = rows.shape[0]
    n, c = W.shape
    q = c + 2
    G = np.zeros((3, m, q, q))
    tr = np.zeros((3, m))
    if c == 1:
        _gram_own_lambda_c1(XT, W[:, 0].copy(), y, evals, lam, rows, logl, G, tr)
        return G, tr
    for j in numba.prange(m):
        x = XT[rows[j]]
        lj = lam[j]
        acc = np.zeros((3, q, q))
        v = np.empty(q)
        s1 = 0.0
        s2 = 0.0
        sl = 0.0
        for i in range(n):
            d = lj * evals[i] + 1.0
            h = 1.0 / d
            h2 = h * h
            h3 = h2 * h
            s1 += h
            s2 += h2
            if logl:
                sl += np.log(d)
            for k in range(c):
                v[k] = W[i, k]
            v[c] = x[i]
            v[c + 1] = y[i]
            for a in range(q):
                va = v[a]
                for b in range(a, q):
                    p = va * v[b]
                    acc[0, a, b] += h * p
                    acc[1, a, b] += h2 * p
                    acc[2, a, b] += h3 * p
        for t in range(3):
            for a in range(q):
                for b in range(a, q):
                    G[t, j, a, b] = acc[t, a, b]
                    G[t, j, b, a] = acc[t, a, b]
        tr[0, j] = s1
        tr[1, j] = s2
        tr[2, j] = sl
    return G, tr


@numba.njit(cache=True, parallel=True, fastmath={"reassoc", "contract"})
def _gram_own_lambda_c1(XT, w, y, evals, lam, rows, logl, G, tr):  # pragma: no cover - compiled
    """:func:`_gram_own_lambda` for a single covariate column (scalar accumulators)."""
    n = w.shape[0]
    for j in numba.prange(rows.shape[0]):
        x = XT[rows[j]]
        lj = lam[j]
        s1 = s2 = sl = 0.0
        a_ww = a_wx = a_wy = a_xx = a_xy = a_yy = 0.0
        b_ww = b_wx = b_wy = b_xx = b_xy = b_yy = 0.0
        c_ww = c_wx = c_wy = c_xx = c_xy = c_yy = 0.0
        for i in range(n):
            d = lj * evals[i] + 1.0
            h = 1.0 / d
            h2 = h * h
            h3 = h2 * h
            s1 += h
            s2 += h2
            wi, xi, yi = w[i], x[i], y[i]
            p_ww, p_wx, p_wy, p_xx, p_xy, p_yy = wi * wi, wi * xi, wi * yi, xi * xi, xi * yi, yi * yi
            a_ww += h * p_ww
            a_wx += h * p_wx
            a_wy += h * p_wy
            a_xx += h * p_xx
            a_xy += h * p_xy
            a_yy += h * p_yy
            b_ww += h2 * p_ww
            b_wx += h2 * p_wx
            b_wy += h2 * p_wy
            b_xx += h2 * p_xx
            b_xy += h2 * p_xy
            b_yy += h2 * p_yy
            c_ww += h3 * p_ww
            c_wx += h3 * p_wx
            c_wy += h3 * p_wy
            c_xx += h3 * p_xx
            c_xy += h3 * p_xy
            c_yy += h3 * p_yy
        if logl:  # log of products of 8 factors (each < 1e12 here): 8x fewer logs, no overflow
            for i0 in range(0, n, 8):
                pr = 1.0
                for i in range(i0, min(i0 + 8, n)):
                    pr *= lj * evals[i] + 1.0
                sl += np.log(pr)
        for t, (vww, vwx, vwy, vxx, vxy, vyy) in enumerate(
            (
                (a_ww, a_wx, a_wy, a_xx, a_xy, a_yy),
                (b_ww, b_wx, b_wy, b_xx, b_xy, b_yy),
                (c_ww, c_wx, c_wy, c_xx, c_xy, c_yy),
            )
        ):
            G[t, j, 0, 0] = vww
            G[t, j, 0, 1] = G[t, j, 1, 0] = vwx
            G[t, j, 0, 2] = G[t, j, 2, 0] = vwy
            G[t, j, 1, 1] = vxx
            G[t, j, 1, 2] = G[t, j, 2, 1] = vxy
            G[t, j, 2, 2] = vyy
        tr[0, j] = s1
        tr[1, j] = s2
        tr[2, j] = sl


#: evaluations of at most this many SNPs use numpy products (:meth:`Rotated.gram`) instead of the compiled pass
FEW_ROWS = 8


def _drop_x(M: np.ndarray, c: int) -> np.ndarray:
    keep = [*range(c), c + 1]
    return M[..., keep, :][..., keep]


def _profile(Ms: tuple[np.ndarray, np.ndarray, np.ndarray], M0: np.ndarray | None, n: int, tr_h, tr_h2, logdet_h):
    """Profile likelihood pieces from Gram matrices of ``[Z, y]`` with weights h, h^2, h^3 (and 1 in ``M0``).

    Returns ``g = lambda dlogL/dlambda`` and ``dg/dlog(lambda)`` for REML and ML, and, when ``M0`` and ``logdet_h``
    are given, the REML and ML log-likelihoods.
    """
    M1, M2, M3 = Ms
    q = M1.shape[1] - 1
    df = n - q
    A, b, yy = M1[:, :-1, :-1], M1[:, :-1, -1], M1[:, -1, -1]
    B, b2, yy2 = M2[:, :-1, :-1], M2[:, :-1, -1], M2[:, -1, -1]
    C, b3, yy3 = M3[:, :-1, :-1], M3[:, :-1, -1], M3[:, -1, -1]
    Ainv = np.linalg.inv(A)
    beta = np.einsum("sjk,sk->sj", Ainv, b)
    y1 = np.maximum(yy - np.einsum("sk,sk->s", b, beta), 1e-300)
    y2 = yy2 - 2 * np.einsum("sk,sk->s", beta, b2) + np.einsum("sj,sjk,sk->s", beta, B, beta)
    u = b2 - np.einsum("sjk,sk->sj", B, beta)
    y3 = yy3 - 2 * np.einsum("sk,sk->s", beta, b3) + np.einsum("sj,sjk,sk->s", beta, C, beta)
    y3 = y3 - np.einsum("sj,sjk,sk->s", u, Ainv, u)
    AiB = np.einsum("sij,sjk->sik", Ainv, B)
    tr_ab = np.trace(AiB, axis1=1, axis2=2)
    tr_p = tr_h - tr_ab
    tr_pp = tr_h2 - 2 * np.einsum("sij,sji->s", Ainv, C) + np.einsum("sij,sji->s", AiB, AiB)
    ratio = 1.0 - y2 / y1
    curv = 2 * (y2 - y3) / y1 - y2 * (y1 - y2) / (y1 * y1)
    out = {
        "g_reml": -0.5 * (df - tr_p) + 0.5 * df * ratio,
        "dg_reml": -0.5 * (tr_p - tr_pp) + 0.5 * df * curv,
        "g_ml": -0.5 * (n - tr_h) + 0.5 * n * ratio,
        "dg_ml": -0.5 * (tr_h - tr_h2) + 0.5 * n * curv,
    }
    if M0 is not None and logdet_h is not None:
        logdet_a = np.linalg.slogdet(A)[1]
        logdet_0 = np.linalg.slogdet(M0[:, :-1, :-1])[1]
        out["logl_ml"] = 0.5 * n * (np.log(n) - LOG_2PI - 1) - 0.5 * logdet_h - 0.5 * n * np.log(y1)
        out["logl_reml"] = (
            0.5 * df * (np.log(df) - LOG_2PI - 1) - 0.5 * logdet_h - 0.5 * (logdet_a - logdet_0) - 0.5 * df * np.log(y1)
        )
    return out


class _Evaluator:
    """Evaluate the profile likelihoods of the null (``with_x=False``) or alternative model at given lambdas."""

    def __init__(self, rot: Rotated, evals: np.ndarray, *, with_x: bool) -> None:
        self.rot, self.evals, self.with_x = rot, evals, with_x
        self.n = len(evals)
        self.M0 = self._fix(rot.gram(np.ones(self.n)))

    def _fix(self, M):
        return M if self.with_x else _drop_x(M, self.rot.c)

    def at_shared(self, lam: float, *, logl: bool = False):
        """All SNPs at one lambda."""
        return {k: v[0] for k, v in self.at_grid(np.array([lam]), logl=logl).items()}

    def at_grid(self, lams: np.ndarray, *, logl: bool = False):
        """All SNPs at each of the shared lambdas ``lams`` (k,): results of shape (k, s), by matrix products.

        The last grid evaluated is cached (the REML and ML searches share GEMMA's grid).
        """
        key = (lams.tobytes(), logl)
        cache = getattr(self, "_grid_cache", None)
        if cache is not None and cache[0] == key:
            return cache[1]
        out = self._at_grid(lams, logl=logl)
        self._grid_cache = (key, out)
        return out

    def _at_grid(self, lams: np.ndarray, *, logl: bool = False):
        k, s = len(lams), self.rot.s
        d = np.multiply.outer(lams, self.evals) + 1.0
        h = 1.0 / d
        h2 = h * h
        G = self.rot.gram_grid(np.concatenate([h, h2, h2 * h]))
        q = G.shape[-1] if self.with_x else G.shape[-1] - 1
        G = self._fix(G).reshape(3, k * s, q, q)
        M0 = np.broadcast_to(self.M0[None], (k, *self.M0.shape)).reshape(k * s, q, q)

        def rep(v):
            return np.repeat(v, s)

        out = _profile(
            (G[0], G[1], G[2]), M0, self.n, rep(h.sum(1)), rep(h2.sum(1)), rep(np.log(d).sum(1)) if logl else None
        )
        return {key: v.reshape(k, s) for key, v in out.items()}

    def at(self, lam: np.ndarray, idx: np.ndarray | None = None, *, logl: bool = False):
        """SNPs ``idx`` (all if None) at their own lambdas ``lam`` (one fused compiled pass per SNP)."""
        M0 = self.M0 if idx is None else self.M0[idx]
        rows = np.arange(self.rot.s) if idx is None else np.asarray(idx, dtype=np.int64)
        lam = np.ascontiguousarray(np.broadcast_to(np.asarray(lam, dtype=np.float64), rows.shape))
        if len(rows) <= FEW_ROWS:
            # a few SNPs (a null model, the last Newton steps): numpy products beat waking the compiled thread pool
            d = np.multiply.outer(self.evals, lam) + 1.0  # (n, rows)
            h = 1.0 / d
            sub = self.rot.subset(rows)
            G = np.stack([sub.gram(h), sub.gram(h * h), sub.gram(h * h * h)])
            tr = np.stack([h.sum(0), (h * h).sum(0), np.log(d).sum(0) if logl else np.zeros(len(rows))])
        else:
            G, tr = _gram_own_lambda(self.rot.XT, self.rot.W, self.rot.y, self.evals, lam, rows, logl)
        Ms = tuple(self._fix(G[t]) for t in range(3))
        return _profile(Ms, M0, self.n, tr[0], tr[1], tr[2] if logl else None)


def optimise_lambda(
    ev: _Evaluator,
    *,
    which: str,
    start: float | np.ndarray | None = None,
    need_logl: bool = True,
    tol: float = 1e-5,
    max_iter: int = 60,
):
    """Maximise the REML (``which="reml"``) or ML profile likelihood over lambda for every SNP, as GEMMA does.

    GEMMA (``CalcLambda``) evaluates the derivative at the ends of ``N_REGION`` log-spaced intervals over
    ``[L_MIN, L_MAX]``, refines the root of every interval where it changes sign (Brent, then Newton) and keeps the
    root with the highest likelihood; without a sign change it takes the better end point. Here the grid is shared
    by all SNPs (matrix products) and every bracket is refined by vectorised, bracket-safeguarded Newton steps in
    log-lambda with the analytic second derivative, until a step is below ``tol`` (Newton converges quadratically,
    so the result is then exact to about ``tol**2``). ``start`` (a scalar or one value per SNP, e.g. the null-model
    lambda) is the first Newton point for brackets that contain it.

    Returns (lambda, logL) per SNP; logL is NaN for SNPs with a single bracket when ``need_logl`` is False.
    """
    gk, dk, fk = f"g_{which}", f"dg_{which}", f"logl_{which}"
    grid = L_MIN * np.exp(np.log(L_MAX / L_MIN) / N_REGION * np.arange(N_REGION + 1))
    t_grid = np.log(grid)
    res = ev.at_grid(grid, logl=True)
    g = res[gk]  # (G, s)
    s = g.shape[1]
    ends = [res[fk][0], res[fk][-1]]
    best_l = np.where(ends[0] >= ends[1], grid[0], grid[-1])
    best_f = np.maximum(ends[0], ends[1])
    found = np.zeros(s, dtype=bool)
    sign = np.sign(g)
    change = sign[:-1] * sign[1:] <= 0  # (N_REGION, s)
    n_brackets = change.sum(0)
    start_t = None if start is None else np.broadcast_to(np.log(np.asarray(start, dtype=float)), (s,))
    for r in range(N_REGION):
        idx = np.flatnonzero(change[r])
        if len(idx) == 0:
            continue
        m = len(idx)
        lo, hi = np.full(m, t_grid[r]), np.full(m, t_grid[r + 1])
        glo = g[r, idx].copy()
        ghi = g[r + 1, idx]
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(ghi != glo, hi - ghi * (hi - lo) / (ghi - glo), 0.5 * (lo + hi))
        t = np.where(np.isfinite(t), t, 0.5 * (lo + hi))
        if start_t is not None:
            st = start_t[idx]
            t = np.where((st > lo) & (st < hi), st, t)
        active = np.ones(m, dtype=bool)
        for _ in range(max_iter):
            act = np.flatnonzero(active)
            if len(act) == 0:
                break
            # evaluating converged SNPs again is cheaper than copying while most are still active
            if len(act) > 0.6 * m:
                sel, pick = np.arange(m), act
            else:
                sel, pick = act, np.arange(len(act))
            out = ev.at(np.exp(t[sel]), None if (m == s and len(sel) == m) else idx[sel])
            gv, dg = out[gk][pick], out[dk][pick]
            same_lo = np.sign(gv) == np.sign(glo[act])
            lo[act] = np.where(same_lo, t[act], lo[act])
            glo[act] = np.where(same_lo, gv, glo[act])
            hi[act] = np.where(same_lo, hi[act], t[act])
            with np.errstate(invalid="ignore", divide="ignore"):
                t_new = t[act] - gv / dg
            bad = (~np.isfinite(t_new) | (t_new <= lo[act]) | (t_new >= hi[act])) & (gv != 0)
            t_new = np.where(bad, 0.5 * (lo[act] + hi[act]), np.where(gv == 0, t[act], t_new))
            step = np.abs(t_new - t[act])
            t[act] = t_new
            done = ((step < tol) & ~bad) | (gv == 0) | (np.abs(hi[act] - lo[act]) < tol)
            active[act[done]] = False
        lam = np.exp(t)
        if need_logl or (n_brackets[idx] > 1).any():
            fl = ev.at(lam, None if m == s else idx, logl=True)[fk]
        else:
            fl = np.full(m, np.nan)
        better = ~found[idx] | (fl > best_f[idx]) | np.isnan(fl)
        best_l[idx[better]] = lam[better]
        best_f[idx[better]] = fl[better]
        found[idx] = True
    return best_l, best_f


# ---------------------------------------------------------------------------------------------------------------
# null model
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class NullModel:
    """GEMMA's null model: REML and ML lambda, PVE (and se), vg, ve, log-likelihoods."""

    lambda_reml: float
    lambda_ml: float
    logl_reml: float
    logl_ml: float
    pve: float
    pve_se: float
    vg: float
    ve: float
    beta: np.ndarray
    beta_se: np.ndarray
    trace_g: float

    def as_dict(self) -> dict:
        """Plain dict (for ``uns``)."""
        return {
            "lambda_reml": self.lambda_reml,
            "lambda_ml": self.lambda_ml,
            "logl_reml": self.logl_reml,
            "logl_ml": self.logl_ml,
            "pve": self.pve,
            "pve_se": self.pve_se,
            "vg": self.vg,
            "ve": self.ve,
            "beta": np.asarray(self.beta),
            "beta_se": np.asarray(self.beta_se),
            "trace_g": self.trace_g,
        }


def fit_null(evals: np.ndarray, UtW: np.ndarray, Uty: np.ndarray) -> NullModel:
    """Fit the null LMM ``y = W b + g + e`` (GEMMA ``CalcLambda`` for REML and ML, ``CalcPve``, ``CalcLmmVgVeBeta``)."""
    n, c = UtW.shape
    rot = Rotated(UtW, Uty, np.zeros((n, 1)))
    ev = _Evaluator(rot, evals, with_x=False)
    l_reml, f_reml = optimise_lambda(ev, which="reml")
    l_ml, f_ml = optimise_lambda(ev, which="ml", start=float(l_reml[0]))
    l_reml, l_ml = float(l_reml[0]), float(l_ml[0])
    trace_g = float(evals.mean())
    # d2 logL_REML / d lambda2 at the optimum (where g = 0): dg/dlog(lambda) / lambda^2
    res = ev.at_shared(l_reml)
    dev2 = float((res["dg_reml"][0] - res["g_reml"][0]) / l_reml**2)
    se_l = np.sqrt(-1.0 / dev2) if dev2 < 0 else np.nan
    pve = trace_g * l_reml / (trace_g * l_reml + 1.0)
    pve_se = trace_g / (trace_g * l_reml + 1.0) ** 2 * se_l
    h = 1.0 / (l_reml * evals + 1.0)
    WHW = UtW.T @ (h[:, None] * UtW)
    WHy = UtW.T @ (h * Uty)
    beta = np.linalg.solve(WHW, WHy)
    ve = float((Uty @ (h * Uty) - WHy @ beta) / (n - c))
    beta_se = np.sqrt(np.diag(np.linalg.inv(WHW)) * ve)
    return NullModel(
        lambda_reml=l_reml,
        lambda_ml=l_ml,
        logl_reml=float(f_reml[0]),
        logl_ml=float(f_ml[0]),
        pve=float(pve),
        pve_se=float(pve_se),
        vg=ve * l_reml,
        ve=ve,
        beta=beta,
        beta_se=beta_se,
        trace_g=trace_g,
    )


# ---------------------------------------------------------------------------------------------------------------
# per-SNP tests
# ---------------------------------------------------------------------------------------------------------------


def _schur(M: np.ndarray, c: int):
    """P_xx, P_xy, P_yy after projecting out W (the first c columns), batched."""
    A = M[:, :c, :c]
    R = M[:, :c, c:]
    S = M[:, c:, c:] - np.einsum("sjk,sjl->skl", R, np.linalg.solve(A, R))
    return S[:, 0, 0], S[:, 0, 1], S[:, 1, 1]


def _wald_score(M: np.ndarray, c: int, n: int):
    p_xx, p_xy, p_yy = _schur(M, c)
    df = n - c - 1
    beta = p_xy / p_xx
    px_yy = p_yy - p_xy * p_xy / p_xx
    tau = df / px_yy
    se = np.sqrt(1.0 / (tau * p_xx))
    f_wald = (p_yy - px_yy) * tau
    f_score = n * p_xy * p_xy / (p_yy * p_xx)
    return beta, se, stats.f.sf(f_wald, 1, df), stats.f.sf(f_score, 1, df), p_yy, px_yy


def lmm_chunk(
    evals: np.ndarray, UtW: np.ndarray, Uty: np.ndarray, UtX: np.ndarray, null: NullModel
) -> dict[str, np.ndarray]:
    """GEMMA ``-lmm 4`` for a chunk of rotated SNPs ``UtX`` (n x s): Wald (REML), LRT (ML) and score tests."""
    n, c = UtW.shape
    rot = Rotated(UtW, Uty, UtX)
    ev = _Evaluator(rot, evals, with_x=True)
    l_remle, _ = optimise_lambda(ev, which="reml", start=null.lambda_reml, need_logl=False)
    # the ML optimum sits close to the REML one: start there, shifted as in the null model
    l_mle, logl_h1 = optimise_lambda(ev, which="ml", start=l_remle * (null.lambda_ml / null.lambda_reml))
    G, _ = _gram_own_lambda(rot.XT, rot.W, rot.y, evals, np.ascontiguousarray(l_remle), np.arange(rot.s), False)
    beta, se, p_wald, _, _, _ = _wald_score(G[0], c, n)
    h0 = 1.0 / (null.lambda_ml * evals + 1.0)
    _, _, _, p_score, _, _ = _wald_score(rot.gram(h0), c, n)
    p_lrt = stats.chi2.sf(np.maximum(2.0 * (logl_h1 - null.logl_ml), 0.0), 1)
    return {
        "beta": beta,
        "se": se,
        "logl_H1": logl_h1,
        "l_remle": l_remle,
        "l_mle": l_mle,
        "p_wald": p_wald,
        "p_lrt": p_lrt,
        "p_score": p_score,
    }


#: a SNP whose residual variance after regressing out the covariates is at most this fraction of its variance is
#: collinear with them: not tested (its effect is not identifiable)
COLLINEAR_TOL = 1e-8


def collinear_with(Q: np.ndarray, X: np.ndarray, *, tol: float = COLLINEAR_TOL) -> np.ndarray:
    """Flag the columns of ``X`` (n x s, no missing) that the covariates explain (``Q``: an orthonormal basis of them).

    A column is collinear when its residual sum of squares after projecting out the covariates is at most ``tol``
    times its centred sum of squares (e.g. the dosage of a SNP used as covariate, in a conditional analysis).
    """
    X = np.asarray(X, dtype=np.float64)
    resid = X - Q @ (Q.T @ X)
    centred = X - X.mean(0)
    return np.einsum("ns,ns->s", resid, resid) <= tol * np.einsum("ns,ns->s", centred, centred)


def lm_chunk(W: np.ndarray, y: np.ndarray, X: np.ndarray) -> dict[str, np.ndarray]:
    """GEMMA ``-lm 4`` (ordinary least squares): Wald, likelihood-ratio and score tests for each column of ``X``."""
    return lm_from_sums(W, y, W.T @ X, np.einsum("ns,ns->s", X, X), y @ X)


_TILE = 16  # columns gathered at a time by linear_sums when X is not read in place


@numba.njit(cache=True, fastmath={"reassoc", "contract"}, inline="always")
def _column_sums(col, Vt, j, nmiss, mono, sx, sm, sxx):  # pragma: no cover - compiled
    """Add the sums of one contiguous genotype column into column ``j`` of the outputs of :func:`linear_sums`."""
    n = col.shape[0]
    k = Vt.shape[0]
    y = Vt[k - 1]
    x0 = np.float64(col[0])
    s1 = s2 = sy = d = 0.0
    for i in range(n):  # no test per genotype: SIMD, one read of memory
        x = np.float64(col[i])
        e = x - x0
        s1 += x
        s2 += x * x
        sy += y[i] * x
        d += e * e  # > 0 exactly when some genotype differs from the first
    if s1 == s1:  # a missing genotype (NaN) would have made the sum NaN
        mono[j] = not d > 0.0
        sx[0, j] = s1
        sx[k - 1, j] = sy
        sxx[j] = s2
        for t in range(1, k - 1):
            v = Vt[t]
            acc = 0.0
            for i in range(n):
                acc += v[i] * np.float64(col[i])
            sx[t, j] = acc
        return
    cnt = 0
    lo, hi = np.inf, -np.inf
    s2 = 0.0
    for i in range(n):
        x = np.float64(col[i])
        if np.isnan(x):
            cnt += 1
            for t in range(k):
                sm[t, j] += Vt[t, i]
        else:
            lo = min(lo, x)
            hi = max(hi, x)
            s2 += x * x
            for t in range(k):
                sx[t, j] += Vt[t, i] * x
    nmiss[j] = cnt
    mono[j] = not hi > lo
    sxx[j] = s2


@numba.njit(cache=True, fastmath={"reassoc", "contract"})
def linear_sums(X, rows, a, b, Vt):  # pragma: no cover - compiled
    """One pass over SNP columns ``a:b`` of ``X`` (NaN = missing; C or F order) with ``Vt = [W, y]'`` ((c+1) x n).

    ``rows`` are the analysed rows of ``X`` (empty: all). Per SNP: missing count, whether the observed genotypes
    are all equal, ``sum_obs v x`` and ``sum_missing v`` for every row ``v`` of ``Vt`` (the first is the
    intercept), and ``sum_obs x^2``, in float64, so that the mean-imputed products follow in closed form. Columns
    of an F-ordered ``X`` are read in place when all rows are analysed, else gathered ``_TILE`` at a time.
    A column is summed without a missing-value test; only columns whose sum came out NaN are summed again.
    """
    k, n = Vt.shape
    s = b - a
    nmiss = np.zeros(s, dtype=np.int64)
    mono = np.zeros(s, dtype=np.bool_)
    sx = np.zeros((k, s))
    sm = np.zeros((k, s))
    sxx = np.zeros(s)
    subset = rows.shape[0] > 0
    if not subset and X.flags.f_contiguous:
        for j in range(s):
            _column_sums(X[:, a + j], Vt, j, nmiss, mono, sx, sm, sxx)
        return nmiss, mono, sx, sm, sxx
    buf = np.empty((_TILE, n), dtype=X.dtype)
    for j0 in range(0, s, _TILE):
        w = min(_TILE, s - j0)
        if X.flags.f_contiguous:
            for jj in range(w):
                col = X[:, a + j0 + jj]
                for i in range(n):
                    buf[jj, i] = col[rows[i]]
        else:
            for i in range(n):
                row = X[rows[i] if subset else i]
                for jj in range(w):
                    buf[jj, i] = row[a + j0 + jj]
        for jj in range(w):
            _column_sums(buf[jj], Vt, j0 + jj, nmiss, mono, sx, sm, sxx)
    return nmiss, mono, sx, sm, sxx


def lm_from_sums(
    W: np.ndarray, y: np.ndarray, WtX: np.ndarray, xx: np.ndarray, xy: np.ndarray
) -> dict[str, np.ndarray]:
    """:func:`lm_chunk` from the products ``W'X`` (c, s), ``diag(X'X)`` and ``X'y`` of the (imputed) genotypes.

    ``W``'s first column is the intercept. SNPs collinear with ``W`` (residual sum of squares at most
    ``COLLINEAR_TOL`` times the centred one) get NaN results and ``True`` in the returned ``collinear``.
    """
    n, c = W.shape
    WtW_inv = np.linalg.inv(W.T @ W)
    Wty = W.T @ y
    B = WtW_inv @ WtX
    p_xx = xx - np.einsum("cs,cs->s", WtX, B)
    collinear = p_xx <= COLLINEAR_TOL * (xx - WtX[0] * WtX[0] / n)
    p_xx = np.where(collinear, np.nan, p_xx)
    p_xy = xy - Wty @ B
    p_yy = y @ y - Wty @ WtW_inv @ Wty
    df = n - c - 1
    beta = p_xy / p_xx
    px_yy = p_yy - p_xy * p_xy / p_xx
    tau = df / px_yy
    se = np.sqrt(1.0 / (tau * p_xx))
    p_wald = stats.f.sf((p_yy - px_yy) * tau, 1, df)
    p_score = stats.f.sf(n * p_xy * p_xy / (p_yy * p_xx), 1, df)
    p_lrt = stats.chi2.sf(np.maximum(n * (np.log(p_yy) - np.log(px_yy)), 0.0), 1)
    return {"beta": beta, "se": se, "p_wald": p_wald, "p_lrt": p_lrt, "p_score": p_score, "collinear": collinear}


def lambda_gc(p: np.ndarray) -> float:
    """Genomic-control inflation: median chi2(1) quantile of the p-values over its expectation."""
    p = np.asarray(p, dtype=float)
    p = p[np.isfinite(p)]
    if len(p) == 0:
        return float("nan")
    # the chi2 quantile is decreasing in p: the median quantile is that of the middle p-value(s)
    k = len(p)
    mid = np.partition(p, [(k - 1) // 2, k // 2])[[(k - 1) // 2, k // 2]]
    return float(np.mean(stats.chi2.isf(mid, 1)) / stats.chi2.ppf(0.5, 1))


__all__ = [
    "COLLINEAR_TOL",
    "KINSHIP_RTOL",
    "NullModel",
    "check_kinship_symmetric",
    "collinear_with",
    "eigen_kinship",
    "fit_null",
    "lambda_gc",
    "linear_sums",
    "lm_chunk",
    "lm_from_sums",
    "lmm_chunk",
    "optimise_lambda",
]

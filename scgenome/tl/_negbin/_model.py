"""Log-likelihoods of count families and their derivatives, batched over genes (torch float64).

Every family is written in terms of per-cell linear predictors: ``eta = log mean`` (with the
offset), ``theta = log size`` (NB size ``r``, ``Var = mu + mu^2 / r``) and ``xi = logit`` of the
zero-inflation probability. A family function takes counts ``y`` (genes x cells) and the list of
linear predictors (each genes x cells) and returns the per-gene log-likelihood, the first
derivatives per cell and the second derivatives per cell (a dict keyed by predictor pairs).
The parameter gradient and Hessian follow by the chain rule in :mod:`._fit`.

NB log-likelihood per cell (``mu = exp(eta)``, ``r = exp(theta)``)::

    l = lgamma(y + r) - lgamma(r) - lgamma(y + 1) + y (eta - log(r + mu)) - r log1p(mu / r)

with exact derivatives (digamma ``psi``, trigamma ``psi1``)::

    dl/deta        = r (y - mu) / (r + mu)
    dl/dtheta      = r [psi(y + r) - psi(r) - log1p(mu / r) + (mu - y) / (r + mu)]
    d2l/deta2      = -(y + r) mu r / (r + mu)^2
    d2l/deta dtheta = r mu (y - mu) / (r + mu)^2
    d2l/dtheta2    = dl/dtheta + r^2 [psi1(y + r) - psi1(r)] + r mu / (r + mu) - r^2 (mu - y) / (r + mu)^2
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from collections.abc import Callable

#: Above this fraction of non-zero counts the special functions are evaluated densely.
_DENSE_ABOVE = 0.4


class Counts:
    """Counts of a chunk of genes with cached per-gene constants and the non-zero pattern."""

    def __init__(self, y: torch.Tensor, lgamma_y1: torch.Tensor | None = None) -> None:
        self.y = y
        self.lgamma_y1 = torch.lgamma(y + 1).sum(1) if lgamma_y1 is None else lgamma_y1

    @cached_property
    def nz(self) -> torch.Tensor:
        """Non-zero pattern."""
        return self.y > 0

    @cached_property
    def sparse(self) -> bool:
        """Whether the special functions are evaluated on the non-zeros only."""
        return bool(self.nz.float().mean() < _DENSE_ABOVE)

    @cached_property
    def yv(self) -> torch.Tensor | None:
        """The non-zero counts (when ``sparse``)."""
        return self.y[self.nz] if self.sparse else None

    def subset(self, idx: torch.Tensor) -> Counts:
        """Return the counts of the genes ``idx``."""
        return Counts(self.y[idx], self.lgamma_y1[idx])


#: Above this NB size the differences of gamma-function values use their asymptotic series
#: (below it the direct differences lose less than 1e-12 to cancellation).
_LARGE = 1e3


def _split(direct, series, y: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Evaluate ``direct`` where ``r < _LARGE`` and ``series`` elsewhere, each on its own entries only."""
    big = r >= _LARGE
    if not big.any():
        return direct(y, r)
    if big.all():
        return series(y, r)
    out = torch.empty_like(r)
    out[big] = series(y[big], r[big])
    small = ~big
    out[small] = direct(y[small], r[small])
    return out


def _lgamma_series(y: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    yr = y + r
    corr = (1 / yr - 1 / r) / 12 - (yr.pow(-3) - r.pow(-3)) / 360
    return (r - 0.5) * torch.log1p(y / r) + y * torch.log(yr) - y + corr


def _lgamma_direct(y: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    return torch.lgamma(y + r) - torch.lgamma(r)


def _digamma_series(y: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    yr = y + r
    return torch.log1p(y / r) + y / (2 * r * yr) + y * (2 * r + y) / (12 * (r * yr) ** 2)


def _digamma_direct(y: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    return torch.digamma(y + r) - torch.digamma(r)


def _lgamma_diff(y: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """``lgamma(y + r) - lgamma(r)`` without the cancellation of large ``r`` (Stirling series)."""
    return _split(_lgamma_direct, _lgamma_series, y, r)


def _digamma_diff(y: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """``digamma(y + r) - digamma(r)`` without the cancellation of large ``r`` (asymptotic series)."""
    return _split(_digamma_direct, _digamma_series, y, r)


def _trigamma_diff(y: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    return torch.special.polygamma(1, y + r) - torch.special.polygamma(1, r)


def _diff(fn: Callable, counts: Counts, r: torch.Tensor) -> torch.Tensor:
    """``fn(y, r)`` where ``y > 0`` and exactly zero where ``y == 0`` (evaluated on the non-zeros only)."""
    r = r.expand_as(counts.y)
    if not counts.sparse:
        return torch.where(counts.nz, fn(counts.y, r), torch.zeros_like(r))
    out = torch.zeros_like(r)
    out[counts.nz] = fn(counts.yv, r[counts.nz])
    return out


def nb_loglik(counts: Counts, etas: list[torch.Tensor]) -> torch.Tensor:
    """Per-gene NB log-likelihood."""
    y = counts.y
    eta, theta = etas[0], etas[1]
    mu, r = torch.exp(eta), torch.exp(theta)
    ll = _diff(_lgamma_diff, counts, r) + y * (eta - torch.log(r + mu)) - r * torch.log1p(mu / r)
    return ll.sum(1) - counts.lgamma_y1


def nb_terms(counts: Counts, etas: list[torch.Tensor], *, hessian: bool = True):
    """NB log-likelihood with per-cell first and second derivatives in (eta, theta)."""
    y = counts.y
    eta, theta = etas[0], etas[1]
    mu, r = torch.exp(eta), torch.exp(theta)
    rm = r + mu
    l1p = torch.log1p(mu / r)
    ll = (_diff(_lgamma_diff, counts, r) + y * (eta - torch.log(rm)) - r * l1p).sum(1) - counts.lgamma_y1
    frac = r / rm
    d_eta = frac * (y - mu)
    d_theta = r * (_diff(_digamma_diff, counts, r) - l1p + (mu - y) / rm)
    if not hessian:
        return ll, [d_eta, d_theta], None
    fmu = frac * mu / rm
    h_ee = -(y + r) * fmu
    h_et = (y - mu) * fmu
    h_tt = d_theta + r * r * _diff(_trigamma_diff, counts, r) + mu * frac - r * frac * (mu - y) / rm
    return ll, [d_eta, d_theta], {(0, 0): h_ee, (0, 1): h_et, (1, 1): h_tt}


def poisson_loglik(counts: Counts, etas: list[torch.Tensor]) -> torch.Tensor:
    """Per-gene Poisson log-likelihood."""
    eta = etas[0]
    return (counts.y * eta - torch.exp(eta)).sum(1) - counts.lgamma_y1


def poisson_terms(counts: Counts, etas: list[torch.Tensor], *, hessian: bool = True):
    """Poisson log-likelihood with per-cell derivatives in eta."""
    eta = etas[0]
    mu = torch.exp(eta)
    ll = (counts.y * eta - mu).sum(1) - counts.lgamma_y1
    return ll, [counts.y - mu], ({(0, 0): -mu} if hessian else None)


def _zinb_cells(counts: Counts, eta: torch.Tensor, theta: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
    """Per-cell zero-inflated NB log-likelihood (without ``lgamma(y + 1)``)."""
    y = counts.y
    mu, r = torch.exp(eta), torch.exp(theta)
    log_p0 = -r * torch.log1p(mu / r)
    log_nb = torch.lgamma(y + r) - torch.lgamma(r) + y * (eta - torch.log(r + mu)) + log_p0
    soft = torch.nn.functional.softplus(xi)
    zero = torch.logaddexp(xi, log_p0) - soft  # NB(0) only: finite second derivatives for y > 0 cells too
    return torch.where(counts.nz, log_nb - soft, zero)


def zinb_loglik(counts: Counts, etas: list[torch.Tensor]) -> torch.Tensor:
    """Per-gene zero-inflated NB log-likelihood."""
    return _zinb_cells(counts, *etas).sum(1) - counts.lgamma_y1


def zinb_terms(counts: Counts, etas: list[torch.Tensor], *, hessian: bool = True):
    """ZINB log-likelihood with per-cell derivatives in (eta, theta, xi), by automatic differentiation.

    The log-likelihood is a sum of per-cell terms, so the gradient of the sum with respect to
    the per-cell predictors is the per-cell derivative, and differentiating each of those sums
    again gives the per-cell second derivatives (three extra backward passes).
    """
    with torch.enable_grad():
        leaves = [e.detach().expand_as(counts.y).contiguous().requires_grad_(True) for e in etas]
        cell = _zinb_cells(counts, *leaves)
        ll = cell.sum(1).detach() - counts.lgamma_y1
        grads = torch.autograd.grad(cell.sum(), leaves, create_graph=hessian)
        if not hessian:
            return ll, [g.detach() for g in grads], None
        second = {}
        for a in range(3):
            row = torch.autograd.grad(grads[a].sum(), leaves, retain_graph=a < 2)
            for b in range(a, 3):
                second[(a, b)] = row[b].detach()
    return ll, [g.detach() for g in grads], second


FAMILIES = {
    "nb": (nb_terms, nb_loglik, 2),
    "poisson": (poisson_terms, poisson_loglik, 1),
    "zinb": (zinb_terms, zinb_loglik, 3),
}

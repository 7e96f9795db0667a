"""Batched damped Newton optimisation of count GLMs across genes (torch float64).

One call fits a chunk of genes: counts ``Y`` (genes x cells, dense), designs ``D_a`` (cells x p_a)
for each linear predictor of the family, and an offset on the log mean. Steps:

1. start: Poisson IRLS (Newton with the canonical link) for the mean coefficients, then the
   method-of-moments NB size projected onto the dispersion design (and the excess-zero fraction
   for the zero-inflation design);
2. joint Newton on all coefficients with the exact Hessian, Levenberg damping where the Hessian
   is not negative definite, a per-gene step-halving line search, and convergence when the largest
   absolute gradient falls below ``tol`` (or the log-likelihood stops changing, relative 1e-12,
   with a gradient below ``sqrt(tol)``);
3. standard errors from the inverse observed information at the optimum, or (``information="expected"``)
   from the expected information at fixed dispersion for the mean coefficients (:func:`expected_standard_errors`);
4. boundary flags: the NB size at its bound (:data:`R_BOUND`) and separation of the mean design
   (:func:`mean_separated`), where the maximum of the likelihood lies at infinity.

On the CPU the NB and Poisson evaluations run in the fused numba kernel of :mod:`._kernel` (one
pass over the cells per gene); elsewhere (GPU, ``zinb``) in elementwise torch (:mod:`._model`).
The line search reuses the derivatives computed at the full step and evaluates several step
halvings of the failing genes per pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ._model import FAMILIES, Counts

_MAX_STEP = 5.0
_MAX_HALVINGS = 30
#: Step halvings evaluated together per line-search round (sum: _MAX_HALVINGS).
_HALVING_ROUNDS = (1, 2, 4, 8, 15)
#: Use the fused numba kernels (:mod:`._kernel`) for NB / Poisson chunks on the CPU.
USE_FUSED = True
#: NB sizes at or above this (overdispersion ``1 / r <= 1e-4``) are at the bound: the start's cap, kept or passed by
#: the fit when the counts show no overdispersion (the likelihood rises toward the Poisson limit ``r = inf``).
R_BOUND = 1e4


@dataclass
class ChunkFit:
    """Result of one chunk: parameters (genes x sum p_a), standard errors and diagnostics."""

    params: torch.Tensor
    se: torch.Tensor
    loglik: torch.Tensor
    converged: torch.Tensor
    n_iter: torch.Tensor
    dispersion_at_bound: torch.Tensor
    separated: torch.Tensor


class _Layout:
    """Design matrices, their per-cell outer products and the parameter slices."""

    def __init__(self, designs: list[torch.Tensor]) -> None:
        self.designs = designs
        sizes = [d.shape[1] for d in designs]
        self.slices = []
        start = 0
        for p in sizes:
            self.slices.append(slice(start, start + p))
            start += p
        self.k = start
        self.constant = [bool(d.shape[1] == 1 and bool((d == 1).all())) for d in designs]
        self.outer = {}
        for a in range(len(designs)):
            for b in range(a, len(designs)):
                da, db = designs[a], designs[b]
                self.outer[(a, b)] = (da[:, :, None] * db[:, None, :]).reshape(da.shape[0], -1)

    def etas(self, params: torch.Tensor, offset: torch.Tensor | None) -> list[torch.Tensor]:
        out = [
            params[:, s] if const else params[:, s] @ d.T
            for s, d, const in zip(self.slices, self.designs, self.constant, strict=True)
        ]
        if offset is not None:
            out[0] = out[0] + offset
        return out

    def grad_hess(self, d1: list[torch.Tensor], d2: dict) -> tuple[torch.Tensor, torch.Tensor]:
        n_cells = self.designs[0].shape[0]
        d1 = [d.expand(-1, n_cells) for d in d1]
        g = torch.cat(
            [d.sum(1, keepdim=True) if c else d @ D for d, D, c in zip(d1, self.designs, self.constant, strict=True)],
            dim=1,
        )
        n_genes = g.shape[0]
        h = g.new_zeros(n_genes, self.k, self.k)
        for (a, b), w in d2.items():
            w = w.expand(-1, n_cells)
            sa, sb = self.slices[a], self.slices[b]
            block = (w @ self.outer[(a, b)]).reshape(n_genes, sa.stop - sa.start, sb.stop - sb.start)
            h[:, sa, sb] = block
            if a != b:
                h[:, sb, sa] = block.transpose(1, 2)
        return g, h


def _newton_direction(g: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Solve ``(-H + lambda I) step = g`` with Levenberg damping where ``-H`` is not positive definite."""
    a = -0.5 * (h + h.transpose(1, 2))
    eye = torch.eye(a.shape[1], dtype=a.dtype, device=a.device)
    finite = torch.isfinite(a).all(dim=2).all(dim=1) & torch.isfinite(g).all(dim=1)
    if not finite.all():  # no usable curvature: no step (the gene ends unconverged)
        a = torch.where(finite[:, None, None], a, eye)
        g = torch.where(finite[:, None], g, torch.zeros_like(g))
    chol, info = torch.linalg.cholesky_ex(a)
    bad = info != 0
    if bad.any():
        ab = a[bad]
        try:
            ev = torch.linalg.eigvalsh(ab)
            lo, scale = ev[:, 0], ev.abs().max(dim=1).values.clamp_min(1e-12)
        except RuntimeError:  # pragma: no cover - eigh did not converge: Gershgorin bound
            scale = ab.abs().sum(dim=2).max(dim=1).values.clamp_min(1e-12)
            lo = -scale
        lam = (-lo).clamp_min(0) + 1e-6 * scale
        chol_bad, info_bad = torch.linalg.cholesky_ex(a[bad] + lam[:, None, None] * eye)
        if (info_bad != 0).any():  # pragma: no cover - extreme ill-conditioning
            lam = lam * 10 + 1e-8
            chol_bad, _ = torch.linalg.cholesky_ex(a[bad] + lam[:, None, None] * eye)
        chol[bad] = chol_bad
    step = torch.cholesky_solve(g[:, :, None], chol)[:, :, 0]
    size = step.abs().amax(dim=1, keepdim=True)
    return step * torch.clamp(_MAX_STEP / size.clamp_min(1e-300), max=1.0)


def _se_from_hessian(h: torch.Tensor) -> torch.Tensor:
    """Square roots of the diagonal of ``(-H)^-1`` (NaN where ``-H`` is not positive definite)."""
    info = -0.5 * (h + h.transpose(1, 2))
    chol, bad = torch.linalg.cholesky_ex(info)
    eye = torch.eye(h.shape[1], dtype=h.dtype, device=h.device).expand_as(info)
    se = torch.sqrt(torch.diagonal(torch.cholesky_solve(eye, chol), dim1=1, dim2=2))
    se[bad != 0] = float("nan")
    return se


class _TorchEval:
    """Log-likelihood, gradient and Hessian of a chunk by elementwise torch operations (any device)."""

    def __init__(self, counts: Counts, layout: _Layout, offset: torch.Tensor | None, family: str) -> None:
        self.counts, self.layout, self.offset = counts, layout, offset
        self._terms, self._loglik, _ = FAMILIES[family]
        self._cache = (None, counts)

    def _sub(self, idx: torch.Tensor | None) -> Counts:
        if idx is None:
            return self.counts
        if self._cache[0] is not None and self._cache[0].shape == idx.shape and bool((self._cache[0] == idx).all()):
            return self._cache[1]
        sub = self.counts.subset(idx)
        self._cache = (idx, sub)
        return sub

    def terms(self, idx: torch.Tensor | None, p: torch.Tensor):
        ll, d1, d2 = self._terms(self._sub(idx), self.layout.etas(p, self.offset))
        g, h = self.layout.grad_hess(d1, d2)
        return ll, g, h

    def loglik(self, idx: torch.Tensor | None, p: torch.Tensor) -> torch.Tensor:
        cached = self._cache[0]
        if idx is None or (cached is not None and cached.shape == idx.shape and bool((cached == idx).all())):
            sub = self._sub(idx)
        else:
            sub = self.counts.subset(idx)
        return self._loglik(sub, self.layout.etas(p, self.offset))


class _FusedEval:
    """The same quantities from one fused numba pass per gene (CPU, NB and Poisson families)."""

    def __init__(self, counts: Counts, layout: _Layout, offset: torch.Tensor | None, family: str) -> None:
        from ._kernel import set_threads

        set_threads(torch.get_num_threads())
        self.y = counts.y.numpy()
        self.lgamma_y1 = counts.lgamma_y1
        self.nb = family == "nb"
        self.x = layout.designs[0].contiguous().numpy()
        self.z = layout.designs[1].contiguous().numpy() if self.nb else self.x
        n_cells = self.y.shape[0 if self.y.ndim == 1 else 1]
        self.off = offset.contiguous().numpy() if offset is not None else np.zeros(n_cells)
        self.const_r = self.nb and layout.constant[1]
        self.k = layout.k
        self.all = np.arange(self.y.shape[0], dtype=np.int64)

    def _run(self, idx: torch.Tensor | None, p: torch.Tensor, derivs: bool):
        from ._kernel import glm_eval

        genes = self.all if idx is None else idx.numpy().astype(np.int64)
        m = genes.shape[0]
        ll = np.empty(m)
        g = np.empty((m, self.k) if derivs else (0, self.k))
        h = np.empty((m, self.k, self.k) if derivs else (0, self.k, self.k))
        glm_eval(
            self.y,
            genes,
            self.x,
            self.z,
            self.off,
            np.ascontiguousarray(p.numpy()),
            self.nb,
            self.const_r,
            derivs,
            ll,
            g,
            h,
        )
        lgy1 = self.lgamma_y1 if idx is None else self.lgamma_y1[idx]
        return torch.from_numpy(ll) - lgy1, torch.from_numpy(g), torch.from_numpy(h)

    def terms(self, idx: torch.Tensor | None, p: torch.Tensor):
        return self._run(idx, p, True)

    def loglik(self, idx: torch.Tensor | None, p: torch.Tensor) -> torch.Tensor:
        return self._run(idx, p, False)[0]


def _evaluator(counts: Counts, layout: _Layout, offset: torch.Tensor | None, family: str):
    fused = (
        USE_FUSED
        and counts.y.device.type == "cpu"
        and family in ("nb", "poisson")
        and len(layout.designs) == (2 if family == "nb" else 1)
    )
    return (_FusedEval if fused else _TorchEval)(counts, layout, offset, family)


def newton(
    counts: Counts,
    layout: _Layout,
    offset: torch.Tensor | None,
    params: torch.Tensor,
    family: str,
    *,
    max_iter: int,
    tol: float,
    se_out: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Damped Newton with a per-gene line search; returns params, loglik, converged, n_iter.

    When ``se_out`` is given, the standard errors of genes that converge are written into it from
    the Hessian of the converging iteration (no extra pass).
    """
    ev = _evaluator(counts, layout, offset, family)
    n_genes = params.shape[0]
    params = params.clone()
    converged = torch.zeros(n_genes, dtype=torch.bool, device=params.device)
    n_iter = torch.zeros(n_genes, dtype=torch.long, device=params.device)
    ll_all = torch.full((n_genes,), float("nan"), dtype=params.dtype, device=params.device)
    active = torch.arange(n_genes, device=params.device)
    subset = False  # whether ``active`` is a strict subset of the chunk
    prev_ll = None
    p = params
    ll, g, h = ev.terms(None, p)
    for it in range(max_iter):
        # ll, g, h: log-likelihood and derivatives at the current parameters p of the active genes
        gmax = g.abs().amax(dim=1)
        done = gmax <= tol
        if prev_ll is not None:
            flat = (ll - prev_ll).abs() <= 1e-12 * (1 + ll.abs())
            done |= flat & (gmax <= tol**0.5)
        ll_all[active] = ll
        converged[active[done]] = True
        if se_out is not None and done.any():
            se_out[active[done]] = _se_from_hessian(h[done])
        keep = ~done
        if not keep.any():
            break
        if not keep.all():
            active, p, g, h, ll = active[keep], p[keep], g[keep], h[keep], ll[keep]
            subset = True
        step = _newton_direction(g, h)
        t = torch.ones(active.numel(), dtype=p.dtype, device=p.device)
        new = p + step
        last = it == max_iter - 1
        # the full step's log-likelihood comes with the derivatives there (used next iteration)
        if last:
            new_ll, new_g, new_h = ev.loglik(active if subset else None, new), None, None
        else:
            new_ll, new_g, new_h = ev.terms(active if subset else None, new)
        ok = torch.isfinite(new_ll) & (new_ll >= ll - 1e-10 * (1 + ll.abs()))
        halved = ~ok
        for n_half in _HALVING_ROUNDS:
            if ok.all():
                break
            # the next n_half step halvings of every failing gene in one evaluation; the first
            # acceptable one is taken, as successive halving would
            bad = (~ok).nonzero()[:, 0]
            half = 0.5 ** torch.arange(1, n_half + 1, dtype=p.dtype, device=p.device)
            tt = t[bad, None] * half[None, :]
            trial = p[bad, None, :] + tt[:, :, None] * step[bad, None, :]
            trial_ll = ev.loglik(active[bad].repeat_interleave(n_half), trial.reshape(-1, p.shape[1]))
            trial_ll = trial_ll.reshape(bad.numel(), n_half)
            lo = ll[bad, None] - 1e-10 * (1 + ll[bad, None].abs())
            acc = torch.isfinite(trial_ll) & (trial_ll >= lo)
            found = acc.any(dim=1)
            pick = torch.where(found, acc.to(torch.int8).argmax(dim=1), n_half - 1)
            rows = torch.arange(bad.numel(), device=p.device)
            t[bad] = tt[rows, pick]
            new[bad] = trial[rows, pick]
            new_ll[bad] = trial_ll[rows, pick]
            ok[bad] = found
        # genes whose line search failed keep their parameters and stop (flagged unless the gradient was tiny)
        stuck = ~ok
        new[stuck] = p[stuck]
        new_ll[stuck] = ll[stuck]
        params[active] = new
        ll_all[active] = new_ll
        n_iter[active] += 1
        if stuck.any():
            converged[active[stuck]] = g[stuck].abs().amax(dim=1) <= tol**0.5
        if last:
            break
        fix = (halved & ok).nonzero()[:, 0]
        if fix.numel():  # derivatives at the shortened steps
            _, new_g[fix], new_h[fix] = ev.terms(active[fix], new[fix])
        prev_ll = ll
        p, ll, g, h = new, new_ll, new_g, new_h
        if stuck.any():
            keep2 = ~stuck
            active, p, ll, g, h, prev_ll = active[keep2], p[keep2], ll[keep2], g[keep2], h[keep2], prev_ll[keep2]
            subset = True
    return params, ll_all, converged, n_iter


def standard_errors(
    counts: Counts, layout: _Layout, offset: torch.Tensor | None, params: torch.Tensor, family: str
) -> torch.Tensor:
    """Square roots of the diagonal of the inverse observed information (NaN where it is singular)."""
    _, _, h = _evaluator(counts, layout, offset, family).terms(None, params)
    return _se_from_hessian(h)


def _block_se(h: torch.Tensor, slices: list[slice]) -> torch.Tensor:
    """Return the standard errors of a block-diagonal information: each block ``slices[a]`` inverted alone."""
    return torch.cat([_se_from_hessian(h[:, s, s].contiguous()) for s in slices], dim=1)


def expected_standard_errors(
    counts: Counts, layout: _Layout, offset: torch.Tensor | None, params: torch.Tensor, family: str
) -> torch.Tensor:
    """Return standard errors with the mean coefficients' from the expected information at fixed dispersion.

    The mean block is ``X' W X`` with ``W = mu / (1 + mu / r)`` (``W = mu`` for Poisson), the information
    of the IRLS weights that MASS::glm.nb, DESeq2 and glmGamPoi invert. The expected cross information of
    the NB's log mean and log size is zero (``E[r mu (y - mu) / (r + mu)^2] = 0``), so the joint expected
    information is block-diagonal and the mean standard errors ignore the dispersion's uncertainty. Its
    dispersion block, ``r^2 E[psi1(r) - psi1(y + r)] - r mu / (r + mu)``, is an infinite series; the
    dispersion coefficients get the observed information of their own block instead (the mean
    coefficients fixed: MASS's ``SE.theta``), which estimates it consistently.
    """
    if family not in ("nb", "poisson"):
        msg = f"expected information is only available for the 'nb' and 'poisson' families, not {family!r}."
        raise ValueError(msg)
    _, _, h = _evaluator(counts, layout, offset, family).terms(None, params)
    etas = layout.etas(params, offset)
    n_genes, n_cells = counts.y.shape
    mu = torch.exp(etas[0]).expand(n_genes, n_cells)
    w = mu / (1 + mu * torch.exp(-etas[1])) if family == "nb" else mu
    s0 = layout.slices[0]
    p = s0.stop - s0.start
    h = h.clone()
    h[:, s0, s0] = -(w @ layout.outer[(0, 0)]).reshape(n_genes, p, p)
    return _block_se(h, layout.slices)


def mean_separated(counts: Counts, design: torch.Tensor) -> torch.Tensor:
    """Whether the mean coefficients of each gene are separated: their likelihood maximum lies at infinity.

    With a log link the likelihood rises without bound along a direction ``d`` when ``x_i' d = 0`` for
    every cell with counts and ``x_i' d <= 0`` for the cells without, not all zero (e.g. a gene with
    no counts in one level of a categorical covariate): the zero cells' means go to 0 while the others
    stay. Such a ``d`` exists only when the designs of the cells with counts have rank below the number
    of coefficients (checked for all genes at once from their Gram matrices); for those genes, the
    null space of that design is checked for such a direction (a sign check, or a linear programme).
    """
    nz = counts.nz.to(design.dtype)
    n_genes = nz.shape[0]
    p = design.shape[1]
    outer = (design[:, :, None] * design[:, None, :]).reshape(design.shape[0], -1)
    ev = torch.linalg.eigvalsh((nz @ outer).reshape(n_genes, p, p))
    candidates = (ev[:, 0] <= 1e-10 * ev[:, -1].abs().clamp_min(1e-300)).nonzero()[:, 0].cpu().numpy()
    out = np.zeros(n_genes, dtype=bool)
    if candidates.size:
        x = design.cpu().numpy()
        mask = counts.nz.cpu().numpy()
        tol = 1e-9 * max(1.0, float(np.abs(x).max()))
        for g in candidates:
            out[g] = _separated_direction(x[mask[g]], x[~mask[g]], tol)
    return torch.as_tensor(out, device=design.device)


def _separated_direction(x_pos: np.ndarray, x_zero: np.ndarray, tol: float) -> bool:
    """Whether some ``d`` has ``x_pos d = 0``, ``x_zero d <= 0`` and ``x_zero d != 0``."""
    if x_zero.shape[0] == 0:
        return False
    _, sv, vt = np.linalg.svd(x_pos, full_matrices=True)
    rank = int((sv > 1e-10 * max(sv[0], 1e-300)).sum()) if sv.size else 0
    null = vt[rank:].T
    if null.shape[1] == 0:
        return False
    a = x_zero @ null
    if null.shape[1] == 1:
        col = a[:, 0]
        return bool(np.abs(col).max() > tol and (col.max() <= tol or col.min() >= -tol))
    from scipy.optimize import linprog

    # feasible c with a c <= 0 and sum(a c) <= -1 (a scale): the direction d = null c
    res = linprog(
        np.zeros(a.shape[1]),
        A_ub=np.vstack([a, a.sum(0)]),
        b_ub=np.r_[np.full(a.shape[0], tol), -1.0],
        bounds=[(None, None)] * a.shape[1],
        method="highs",
    )
    return bool(res.status == 0)


def dispersion_at_bound(layout: _Layout, params: torch.Tensor) -> torch.Tensor:
    """Whether the fitted NB size of some cell is at least :data:`R_BOUND`."""
    theta = layout.etas(params, None)[1]
    return theta.amax(dim=1) >= float(np.log(R_BOUND)) - 1e-9


def _project(designs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Least-squares coefficients of ``target`` (genes x cells) on ``designs`` (cells x p)."""
    sol = torch.linalg.lstsq(designs, target.T).solution
    return sol.T


def start_values(
    counts: Counts, layout: _Layout, offset: torch.Tensor | None, family: str, *, irls_iter: int = 4
) -> torch.Tensor:
    """Poisson IRLS start for the mean, moment NB size and excess zeros for the other predictors."""
    y = counts.y
    n_genes, n_cells = y.shape
    x = layout.designs[0]
    sf = torch.exp(offset) if offset is not None else torch.ones(n_cells, dtype=y.dtype, device=y.device)
    rate = (y.sum(1) / sf.sum()).clamp_min(1e-8)
    beta = _project(x, torch.log(rate)[:, None].expand(n_genes, n_cells))
    mean_layout = _Layout([x])
    beta, _, _, _ = newton(counts, mean_layout, offset, beta, "poisson", max_iter=irls_iter, tol=1e-6)
    parts = [beta]
    if family in ("nb", "zinb"):
        mu = torch.exp(beta @ x.T + (offset if offset is not None else 0.0))
        excess = ((y - mu) ** 2 - y).sum(1)
        size = ((mu**2).sum(1) / excess.clamp_min(1e-12)).clamp(1e-3, R_BOUND)
        size = torch.where(excess > 0, size, torch.full_like(size, R_BOUND))
        z = layout.designs[1]
        parts.append(_project(z, torch.log(size)[:, None].expand(n_genes, n_cells)))
        if family == "zinb":
            r = size[:, None]
            p0 = torch.exp(-r * torch.log1p(mu / r)).mean(1)
            obs0 = (y == 0).to(y.dtype).mean(1)
            pi = ((obs0 - p0) / (1 - p0).clamp_min(1e-8)).clamp(0.02, 0.8)
            w = layout.designs[2]
            parts.append(_project(w, torch.logit(pi)[:, None].expand(n_genes, n_cells)))
    return torch.cat(parts, dim=1)


def fit_chunk(
    y: torch.Tensor,
    designs: list[torch.Tensor],
    offset: torch.Tensor | None,
    family: str,
    *,
    max_iter: int,
    tol: float,
    information: str = "observed",
) -> ChunkFit:
    """Fit one chunk of genes (all with at least one non-zero count); standard errors from ``information``."""
    counts = Counts(y)
    layout = _Layout(designs)
    params = start_values(counts, layout, offset, family)
    if family == "zinb":  # settle the NB part first, then free the zero-inflation
        nb_layout = _Layout(designs[:2])
        nb_params, _, _, _ = newton(counts, nb_layout, offset, params[:, : nb_layout.k], "nb", max_iter=20, tol=tol)
        params = torch.cat([nb_params, params[:, nb_layout.k :]], dim=1)
    observed = information == "observed"
    se = torch.full_like(params, float("nan"))
    # the observed SEs come from the Newton iterations' own Hessians (genes that converge) or one more pass
    params, ll, conv, n_iter = newton(
        counts, layout, offset, params, family, max_iter=max_iter, tol=tol, se_out=se if observed else None
    )
    if observed:
        rest = (~conv | torch.isnan(se).all(dim=1)).nonzero()[:, 0]
        if rest.numel():
            se[rest] = standard_errors(counts.subset(rest), layout, offset, params[rest], family)
    else:
        se = expected_standard_errors(counts, layout, offset, params, family)
    conv = conv & torch.isfinite(ll) & torch.isfinite(params).all(1)
    at_bound = dispersion_at_bound(layout, params) if family in ("nb", "zinb") else torch.zeros_like(conv)
    return ChunkFit(
        params=params,
        se=se,
        loglik=ll,
        converged=conv,
        n_iter=n_iter,
        dispersion_at_bound=at_bound,
        separated=mean_separated(counts, designs[0]),
    )

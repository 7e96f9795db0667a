"""Phenotype and covariate models for synthetic cohorts (no AnnData here).

A quantitative phenotype follows the LMM ``y = W b + X_lead beta + Z u + e`` with ``u ~ N(0, vg I_p)``
(``K = Z Z'``), ``e ~ N(0, ve I)``. ``vg``, ``ve`` come from the null model of the real GWAS; the lead
SNP effects ``beta`` and covariate effects ``b`` are fitted jointly by GLS at ``lambda = vg / ve``; the
SNP effects ``u`` are their posterior mean given the real data (BLUP), or one posterior draw (Matheron's
rule, covariance ``vg K_syn`` marginally); either keeps the real direction of the genetic signal, and its
scale is set so that the synthetic null-model PVE equals the real one. Binary phenotypes are a latent quantitative trait built the same way
(targets corrected for the attenuation by dichotomisation) and cut at the real prevalence (labels of a few
case/control pairs near the cut then swapped to remove the cut's noise from the statistics): the
liability-threshold model (Dempster & Lerner 1950). Covariates follow a Gaussian copula with the real marginals (quantile mapping).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
from scipy import optimize, stats

from .._gwas._model import fit_null, lm_chunk, lmm_chunk

if TYPE_CHECKING:
    from collections.abc import Callable

#: largest ratio of the synthetic to the real locus variance when the locus effects are re-solved
LOCUS_CAP = 1.25
#: fewer analysed synthetic individuals than this: no locus statistics or PVE matched (the fitted model as it is)
MIN_MATCHED = 10
#: ridges tried per locus (times the mean squared correlation), smallest first, until the locus variance fits LOCUS_CAP
LOCUS_RIDGES = (1e-4, 1e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0)
#: targets within this many t units of a hit threshold are moved this far to their own side of it
HIT_MARGIN = 0.1
#: a binary trait's calibration score and label swaps weigh the amount by which a statistic lies on the wrong side of
#: a hit threshold (``HIT_MARGIN / 2`` inside its goal's class) this many times its squared error
CLASS_WEIGHT = 100.0


@dataclass
class PhenoModel:
    """Fitted genetic model of one phenotype."""

    name: str
    binary: bool
    intercept: float
    cov_effects: np.ndarray  # (q,)
    lead_idx: np.ndarray  # SNP columns (into the QC SNP set of the full matrix)
    lead_effects: np.ndarray
    lead_means: np.ndarray
    snp_idx: np.ndarray  # QC SNP columns used for the polygenic term
    u: np.ndarray  # (len(snp_idx),) polygenic SNP effects (per centred dosage / sqrt(p))
    vg: float
    ve: float
    trace_g: float  # mean eigenvalue of the double-centred real kinship
    prevalence: float = np.nan
    locus_var: float = 0.0  # variance of the locus fixed effects in the real data
    locus_blocks: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # locus (clump) of each SNP
    locus_var_blocks: np.ndarray = field(default_factory=lambda: np.zeros(0))  # real variance of each locus


def column_blocks(
    fn, X: np.ndarray, cols: np.ndarray | None = None, rows: np.ndarray | None = None, block: int = 2**24
) -> np.ndarray:
    """``fn`` (a column-wise reduction) over ``X[rows][:, cols]``, a block of about ``block`` elements at a time.

    The blocks' results are concatenated: the whole-matrix result without its whole-matrix temporaries (per-column
    results do not depend on the blocking). ``cols=None``: every column, as views; ``rows=None``: every row.
    """
    n = X.shape[0] if rows is None else len(rows)
    cols_all = np.arange(X.shape[1]) if cols is None else cols
    step = max(1, block // max(n, 1))
    parts = []
    for s in range(0, len(cols_all), step):
        c = slice(s, s + step) if cols is None else cols[s : s + step]
        parts.append(fn(X[:, c] if rows is None else X[np.ix_(rows, cols_all[s : s + step])]))
    return np.concatenate(parts) if parts else np.zeros(0)


def centred_snps(X: np.ndarray, snp_idx: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``Z = (X[rows][:, snp_idx] - column means) / sqrt(p)``: the centred kinship of those rows is ``Z Z'``."""
    Z = X[np.ix_(rows, snp_idx)].astype(np.float64, copy=False)  # the fancy index already copied
    Z -= Z.mean(0)
    Z /= np.sqrt(len(snp_idx))
    return Z


def kinship_eig(X: np.ndarray, snp_idx: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centred SNP matrix ``Z`` of ``X[rows]`` (:func:`centred_snps`, ``K = Z Z'``) and the eigen-decomposition of ``K``.

    Eigenvalues are clipped at 0.
    """
    Z = centred_snps(X, snp_idx, rows)
    s, U = np.linalg.eigh(Z @ Z.T)
    return Z, np.clip(s, 0.0, None), U


def _gls_and_posterior(
    X: np.ndarray,
    y: np.ndarray,
    W: np.ndarray,
    lead_idx: np.ndarray,
    eig: tuple[np.ndarray, np.ndarray, np.ndarray],
    vg: float,
    ve: float,
    rng: np.random.Generator,
    ridge: float = 0.1,
    draw: bool = False,
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """GLS fixed effects and the SNP effects' posterior mean (or one draw); ``eig`` from :func:`kinship_eig`.

    Returns (fixed, u, trace_g, fixed_near_unpenalised).
    """
    n = X.shape[0]
    Z, s, U = eig
    p = Z.shape[1]
    F = np.column_stack([np.ones(n), W, X[:, lead_idx].astype(np.float64)])
    d = 1.0 / (vg * s + ve)
    UF = U.T @ F
    Uy = U.T @ y
    A = UF.T @ (UF * d[:, None])
    # ridge on the locus SNPs only (collinear within a locus): 10% of their mean information
    q0 = F.shape[1] - len(lead_idx)
    pen = np.zeros(A.shape[0])
    if len(lead_idx):
        pen[q0:] = ridge * np.mean(np.diag(A)[q0:])
    rhs = UF.T @ (Uy * d)

    def gls(scale: float) -> np.ndarray:
        return np.linalg.lstsq(A + np.diag(scale * pen) + 1e-10 * np.eye(A.shape[0]), rhs, rcond=None)[0]

    coef = gls(1.0)
    # the locus projection of the data, near-unpenalised: the variance the loci carry (signal and the noise
    # in their span) when their marginal statistics are reproduced
    coef_lo = gls(1e-2)
    r = y - F @ coef
    # Matheron: u* = u0 + vg Z' V^-1 (r - Z u0 - e0), V = vg K + ve I
    u0 = rng.normal(0.0, np.sqrt(vg), p)
    e0 = rng.normal(0.0, np.sqrt(ve), n)
    if not draw:  # the posterior mean (BLUP)
        u0, e0 = 0 * u0, 0 * e0
    resid = r - Z @ u0 - e0
    u = u0 + vg * (Z.T @ (U @ (d * (U.T @ resid))))
    # mean eigenvalue of the double-centred kinship: Z is column-centred, so H K H = K
    trace_g = float(s.sum() / n)
    return coef, u, trace_g, coef_lo


def fit_pheno(
    X: np.ndarray,
    y: np.ndarray,
    W: np.ndarray,
    *,
    name: str,
    lead_idx: np.ndarray,
    snp_idx: np.ndarray,
    vg: float,
    ve: float,
    rng: np.random.Generator,
    ridge: float = 0.1,
    blocks: np.ndarray | None = None,
    draw: bool = False,
    eig: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> PhenoModel:
    """Fit the genetic model of one phenotype on the rows with a value (``X`` mean-imputed dosages).

    ``eig``: :func:`kinship_eig` of those rows, when already computed.
    """
    ok = ~np.isnan(y)
    lead_idx = np.asarray(lead_idx, dtype=np.int64)
    # only the locus SNPs' dosages are needed here (the kinship comes in ``eig``): no copy of the whole matrix
    ok_rows = np.flatnonzero(ok)
    XL, yo, Wo = X[np.ix_(ok_rows, lead_idx)], y[ok].astype(np.float64), W[ok]
    if eig is None:
        eig = kinship_eig(X, snp_idx, ok_rows)
    binary = is_binary(yo)
    blocks = np.zeros(len(lead_idx), dtype=np.int64) if blocks is None else np.asarray(blocks, dtype=np.int64)
    ub = np.unique(blocks)
    nl = np.arange(len(lead_idx))
    coef, u, trace_g, coef_lo = _gls_and_posterior(XL, yo, Wo, nl, eig, vg, ve, rng, ridge, draw)
    q = Wo.shape[1]
    return PhenoModel(
        name=name,
        binary=binary,
        intercept=float(coef[0]),
        cov_effects=coef[1 : 1 + q],
        lead_idx=lead_idx,
        lead_effects=coef[1 + q :],
        lead_means=XL.mean(0) if len(lead_idx) else np.zeros(0),
        snp_idx=snp_idx,
        u=u,
        vg=float(vg),
        ve=float(ve),
        trace_g=trace_g,
        prevalence=float(yo.mean()) if binary else np.nan,
        locus_var=float(np.var(XL @ coef[1 + q :])) if len(lead_idx) else 0.0,
        locus_blocks=blocks,
        locus_var_blocks=np.array([np.var(XL[:, blocks == b] @ coef_lo[1 + q :][blocks == b]) for b in ub]),
    )


#: calibration rounds of the locus statistics (LMM) and of the linear model's (``gwas_method="linear"``)
CALIBRATION_ROUNDS = 6
CALIBRATION_ROUNDS_LINEAR = 16
#: linear model: a calibration round may not take the locus variance past this many times the first solve's (or the
#: genetic variance target), and the rounds stop once their step is below MIN_STEP
LOCUS_GROWTH = 2.0
MIN_STEP = 1.0 / 64


def sample_pheno(
    model: PhenoModel,
    Xs: np.ndarray,
    Ws: np.ndarray,
    noise: np.ndarray,
    *,
    target_t: np.ndarray | None = None,
    target_pve: float | None = None,
    eig: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    calibrate: int | None = None,
    extra: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    diagnostics: dict | None = None,
    check: tuple[np.ndarray, np.ndarray] | None = None,
    hit_thresholds: tuple[float, ...] = (),
    rows: np.ndarray | None = None,
    linear: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Synthetic phenotype values from synthetic dosages ``Xs``, covariates ``Ws`` and standard-normal ``noise``.

    The polygenic term is rescaled so that the total genetic variance (locus SNPs plus polygenic) equals
    ``vg * trace_g`` computed on the synthetic kinship, which keeps the null-model PVE.

    With ``target_t`` (the real Wald statistics of the locus SNPs, scaled to the synthetic cohort size),
    the locus effects are re-solved on the synthetic genotypes so that each locus SNP's marginal GLS
    effect (at the real ``lambda = vg / ve`` with the synthetic kinship) over its standard error
    ``sqrt(ve / x'Px)`` equals its target statistic, and the polygenic term plus noise are made
    GLS-orthogonal to the intercept, covariates and locus SNPs. ``calibrate`` rounds then run the GEMMA
    ``-lmm 4`` Wald test of :func:`scgenome.tl.gwas` on the locus SNPs of the synthetic phenotype and shift
    the targets by the remaining error (the Wald test re-estimates lambda and the residual variance under
    the alternative, and a binary trait is cut from its latent trait); the round closest to the targets
    is kept. The synthetic GWAS then reproduces the real association profile at the lead loci.
    A binary trait's statistics carry the noise of the cut (about ``sqrt(1 - a^2)`` each, which shifting the latent
    targets does not remove): :func:`_swap_refine` then swaps the labels of case/control pairs near the cut while
    that lowers the calibration score (``label_swaps``, ``label_swap_snps`` in ``diagnostics``). ``check = (Xc, tc)``:
    further SNPs (dosages of the analysed individuals) whose statistics the swaps also steer to ``tc``, e.g. the
    lead windows' SNPs outside the locus set, which otherwise follow the synthetic LD alone. With ``hit_thresholds``,
    a binary trait's score and swaps also weigh the distance of each statistic outside its target's hit class
    (:func:`_class_bounds`, :data:`CLASS_WEIGHT`).

    ``hit_thresholds`` (p-values): targets within ``HIT_MARGIN`` of one of these thresholds (as a Wald ``|t|`` at
    the synthetic degrees of freedom) are moved ``HIT_MARGIN`` to their own side of it, so that the calibration error
    (RMS about 0.05-0.1) does not flip the hit class of a SNP that sits on the threshold (``hit_margin_snps`` in
    ``diagnostics``; a larger margin makes the targets of SNPs in LD inconsistent: 0.2 raised the locus t RMS error
    of a small simulated cohort from 0.04 to 0.15). The calibration rounds shift each target by its remaining
    error; a statistic whose error changed sign (it overshot, e.g. moved by other loci's effects through chance
    correlations between loci) has its own step halved; six rounds (three left HS1940 CD8 at seed 1 at a locus t
    RMS error of 0.06 and MCH's lead 0.15 under its target, across the 1e-8 threshold).

    With ``target_pve`` (the real null-model PVE), the polygenic scale is set by Brent's method so that the
    synthetic null-model REML PVE, fitted on the synthetic kinship as :func:`scgenome.tl.gwas` fits it,
    equals ``target_pve``, while the noise of a quantitative trait shrinks (or grows) to keep the phenotypic
    variance of the variance-matched scale. Last, the part of a quantitative trait beyond intercept and covariates is
    scaled so that the synthetic null model's ``vg`` and ``ve`` match the real ones as a pair (``residual_scale`` in
    ``diagnostics``; statistics and PVE are invariant to it): without it both came out 5-15% low on simulated
    cohorts (the projections above take variance out). A binary
    trait whose loci alone exceed the latent PVE gets more latent noise instead (:func:`_match_pve_noise`).

    ``linear``: the locus statistics matched are the linear model's (ordinary least squares, GEMMA ``-lm``) instead of
    the LMM's: the same projections and Wald test with every kinship eigenvalue 0, the test's residual variance
    ``ve + vg * trace`` for the first solve, :data:`CALIBRATION_ROUNDS_LINEAR` rounds by default; a round may not take
    the locus variance past :data:`LOCUS_GROWTH` times the first solve's (or the genetic target), and the rounds stop
    once their step falls below :data:`MIN_STEP` (targets inflated by structure are out of the loci's reach).
    ``calibrate``: the number of rounds (default :data:`CALIBRATION_ROUNDS`, or the linear model's).

    ``rows``: the analysed individuals, as row indices into ``Xs`` (default: all of them); ``Ws`` and ``noise`` belong
    to those rows. Only the locus SNPs' columns and the SNP means are read from ``Xs`` (no copy of the whole matrix).

    ``extra = (Xe, We, noise_e)``: individuals outside the analysed set (e.g. a covariate missing) get values
    from the same fitted model (locus effects, polygenic scale, liability threshold) without the exact
    projections; ``(y, y_extra)`` is then returned.
    """
    if calibrate is None:
        # the linear model's statistics answer more slowly to the target shifts (the loci take variance from the
        # polygenic term, which its residual carries): more rounds (HS1940-size cohorts: each a few null-model fits)
        calibrate = CALIBRATION_ROUNDS_LINEAR if linear else CALIBRATION_ROUNDS
    rows = np.arange(Xs.shape[0]) if rows is None else np.asarray(rows)
    m = len(rows)
    W1 = np.column_stack([np.ones(m), Ws])
    if m < MIN_MATCHED or np.linalg.matrix_rank(W1) < W1.shape[1]:
        # too few synthetic individuals to match statistics or a PVE on: the fitted model as it is
        target_t = target_pve = None
    elif target_t is not None:
        # a locus SNP constant (or a combination of the covariates) among the synthetic individuals of a small
        # cohort has no statistic to match, and its effect is absorbed by the intercept and covariates
        live = _varying(Xs[np.ix_(rows, model.lead_idx)], W1)
        if not live.all():
            model = _keep_locus_snps(model, live)
            target_t = np.asarray(target_t)[live]
            if diagnostics is not None:
                diagnostics["locus_snps_constant"] = int((~live).sum())
    Zs, s, U = eig if eig is not None else kinship_eig(Xs, model.snp_idx, rows)
    # the statistics matched: the LMM's (the kinship's eigenvalues) or, with ``linear``, ordinary least squares, the
    # same formulas with every eigenvalue 0 (V = I, invariant to the rotation U); the PVE and variance scale stay LMM
    s_t = np.zeros_like(s) if linear else s
    g = Zs @ model.u
    g_mean = g.mean()
    g -= g_mean
    Xl = Xs[np.ix_(rows, model.lead_idx)].astype(np.float64)
    F = np.column_stack([np.ones(m), Ws, Xl])
    q0 = 1 + Ws.shape[1]
    lam = model.vg / model.ve
    d = 1.0 / (lam * s_t + 1.0)
    a = 1.0
    goal = None if target_t is None else np.asarray(target_t, dtype=float)
    n_moved = 0
    thr = np.zeros(0)
    if goal is not None and hit_thresholds:
        thr = stats.t.isf(np.asarray(hit_thresholds, dtype=float) / 2, m - W1.shape[1] - 1)
        goal, n_moved = _clear_thresholds(goal, thr)
        if check is not None:
            check = (check[0], _clear_thresholds(np.asarray(check[1], dtype=float), thr)[0])
    if model.binary:
        # a binary trait is a latent quantitative trait cut at the prevalence: dichotomising attenuates
        # correlations by a = phi(t) / sqrt(p (1 - p)) and the PVE by a^2 (Dempster & Lerner 1950), so the
        # latent trait gets the real statistics divided by a and the real PVE divided by a^2
        t = stats.norm.isf(model.prevalence)
        a = float(stats.norm.pdf(t) / np.sqrt(model.prevalence * (1.0 - model.prevalence)))
    pve_goal = None if target_pve is None or not np.isfinite(target_pve) else float(target_pve)
    pve_latent = None if pve_goal is None else min(pve_goal / a**2, 0.95)
    exact = goal is not None and len(model.lead_idx) > 0
    parts = np.column_stack([g, np.sqrt(model.ve) * noise])
    if exact:
        UF = U.T @ F
        A = UF.T @ (UF * d[:, None])  # F' V^-1 F (V up to ve)
        # P = V^-1 - V^-1 F0 (F0' V^-1 F0)^-1 F0' V^-1 restricted to the locus columns
        A00, A0l, All = A[:q0, :q0], A[:q0, q0:], A[q0:, q0:]
        XPX = All - A0l.T @ np.linalg.solve(A00, A0l)
        D = np.diag(XPX)
        M = XPX / D[:, None]
        # GLS projection: part - F (F' V^-1 F)^-1 F' V^-1 part (linear, so each part separately)
        coef = np.linalg.solve(A + 1e-10 * np.eye(A.shape[0]), UF.T @ (d[:, None] * (U.T @ parts)))
        parts = parts - F @ coef
    UtW = U.T @ np.column_stack([np.ones(m), Ws])
    Uparts = U.T @ parts
    trace_syn = float(np.einsum("ij,ij->", Zs, Zs) / m)  # no m x p temporary
    target = model.vg * trace_syn
    # residual variance of the test: the LMM's ve; ordinary least squares leaves the polygenic part in the residual
    sig2 = model.ve + (model.vg * trace_syn if linear else 0.0)

    def solve_loci(
        tt: np.ndarray, fixed: tuple[list[float], bool] | None = None
    ) -> tuple[np.ndarray, list[float], bool]:
        """Locus effects with GLS statistics ``tt``; per locus the smallest ridge within LOCUS_CAP, joint solve or not.

        ``fixed = (ridges, joint)`` keeps both choices of an earlier solve (the effects are then linear in ``tt``).
        """
        tb = tt * np.sqrt(sig2 / D)  # effects with those statistics
        beta = np.zeros(len(D))
        ridges, penalty, caps = [], np.zeros(len(D)), []
        blocks = np.unique(model.locus_blocks)
        for j, (b, vb) in enumerate(zip(blocks, model.locus_var_blocks, strict=True)):
            ix = np.flatnonzero(model.locus_blocks == b)
            Mb = M[np.ix_(ix, ix)]
            sb = np.trace(Mb.T @ Mb) / len(ix)
            # a locus explains at least what its strongest SNP explains on its own
            # (a binary trait's locus variance is on the 0/1 scale: a^-2 times that on the latent scale)
            vb = max(vb / a**2, float(np.max(Xl[:, ix].var(0) * tb[ix] ** 2)))
            for ridge in LOCUS_RIDGES if fixed is None else (fixed[0][j],):
                bb = np.linalg.solve(Mb.T @ Mb + ridge * sb * np.eye(len(ix)), Mb.T @ tb[ix])
                if np.var(Xl[:, ix] @ bb) <= LOCUS_CAP * vb:
                    break
            beta[ix] = bb
            ridges.append(ridge)
            penalty[ix] = ridge * sb
            caps.append((ix, LOCUS_CAP * vb))
        use_joint = False
        if len(blocks) > 1 and (fixed is None or fixed[1]):
            # with each locus' ridge chosen, one joint solve: a locus SNP's statistic also carries the other loci's
            # effects through the synthetic cohort's chance correlations between loci (kept where every locus stays
            # within its variance cap; the calibration rounds keep the first solve's choice, which otherwise may
            # flip between rounds and stop them converging)
            joint = np.linalg.solve(M.T @ M + np.diag(penalty), M.T @ tb)
            if fixed is not None or all(np.var(Xl[:, ix] @ joint[ix]) <= cap for ix, cap in caps):
                beta, use_joint = joint, True
        return beta, ridges, use_joint

    def build(
        tt: np.ndarray | None, pve: float | None, ridges: tuple[list[float], bool] | None = None
    ) -> tuple[np.ndarray, dict]:
        info: dict = {}
        if tt is None:
            beta = model.lead_effects
        else:
            beta, info["locus_ridge"], info["locus_joint"] = solve_loci(tt, ridges)
        lead = Xl @ beta
        lead_c = lead - lead.mean()
        vl, vp, cov = lead_c.var(), g.var(), np.mean(lead_c * g)
        c = _root(vp, 2 * cov, vl - target)  # var(lead + c g) = target
        info.update({"locus_var": float(vl), "polygenic_scale": float(c)})
        base = model.intercept + Ws @ model.cov_effects + lead
        dn = 1.0
        if pve is not None and parts[:, 0].var() > 0:
            # a binary trait's latent scale has no variance to keep (the cut at the prevalence sets it)
            scale = None if model.binary else _variance_keeping_noise(lead_c, parts, c)
            Ub = U.T @ base
            c = _match_pve(s, UtW, Ub, Uparts, pve, c, scale)
            dn = 1.0 if scale is None else scale(c)
            if model.binary and c == 0.0:
                # the loci alone explain more than the latent PVE (dense binary loci): more noise on the free
                # latent scale instead (the statistics' calibration rounds then weigh the loci against the PVE)
                dn = _match_pve_noise(s, UtW, Ub, Uparts[:, 1], pve)
            info.update({"polygenic_scale_pve": float(c), "noise_scale_pve": dn})
        y = base + c * parts[:, 0] + dn * parts[:, 1]
        info["_fit"] = (beta, c, dn, y)
        return (_threshold(y, model.prevalence) if model.binary else y), info

    latent = None if not exact else goal / a
    y, info = build(latent, pve_latent)
    # a binary trait's PVE: the attenuation a^2 holds for a single normal predictor only, so the latent PVE is
    # corrected by the ratio of the real to the observed null-model PVE of the cut trait, jointly with the
    # locus statistics (one PVE point weighs like 0.2 in the RMS t error)
    cal_pve = model.binary and pve_goal is not None and calibrate > 0
    cal_t = exact and calibrate > 0
    if cal_pve or cal_t:
        UtX = U.T @ Xl if cal_t else None

        # a binary trait's statistics miss their goals by more than the calibration error of a quantitative one: its
        # score also weighs a statistic on the wrong side of a hit threshold (CLASS_WEIGHT)
        by_class = model.binary and cal_t and len(thr) > 0
        goal_class = _class_bounds(goal, thr) if by_class else None

        def errors(
            yy: np.ndarray,
            X: np.ndarray | None = UtX,
            tt: np.ndarray | None = goal,
            classes: tuple[np.ndarray, np.ndarray] | None = goal_class,
        ) -> tuple:
            """Errors of the Wald statistics of the rotated SNPs ``X`` against ``tt`` and of the PVE; their score."""
            uy = U.T @ yy
            e_t = (_ols_t(UtW, uy, X) if linear else _wald_t(s, UtW, uy, X)) - tt if cal_t else np.zeros(1)
            e_p = fit_null(s, UtW, uy).pve - pve_goal if cal_pve else 0.0
            sq = e_t**2
            if classes is not None:
                sq = sq + CLASS_WEIGHT * _hinge(tt + e_t, *classes) ** 2
            return e_t, e_p, float(np.sqrt(np.mean(sq))) + 20.0 * abs(e_p)

        err, pve_err, score = errors(y)
        first_t = float(np.sqrt(np.mean(err**2)))
        first_var = info.get("locus_var", 0.0)
        step = 1.0
        # per statistic: a locus SNP whose error changed sign overshot (a statistic may also move with the effects of
        # other loci, through the synthetic cohort's chance correlations between them): its own step halves
        step_t = np.ones_like(err)
        for _ in range(calibrate):
            cand = latent - step * step_t * err / a if cal_t else latent
            cand_pve = pve_latent
            if cal_pve:
                cand_pve = float(np.clip(pve_latent * (pve_goal / (pve_goal + pve_err)) ** step, 0.01, 0.95))
            # a quantitative trait keeps the ridges of the first solve: the effects are then linear in the targets, and
            # the shifts converge (a capped locus re-choosing its ridge made the rounds overshoot). A binary trait's
            # latent targets move in large steps, which may take a locus past its variance cap: its ridges are
            # re-chosen each round
            keep = None if model.binary or "locus_ridge" not in info else (info["locus_ridge"], info["locus_joint"])
            y2, info2 = build(cand, cand_pve, keep)
            # linear model: targets the loci cannot reach (structure) would grow the locus effects without bound for a
            # vanishing gain; such a round is refused like one that overshot
            grown = linear and info2["locus_var"] > LOCUS_GROWTH * max(first_var, target)
            err2, pve_err2, score2 = (None, None, np.inf) if grown else errors(y2)
            if score2 < score:
                if cal_t and not model.binary:
                    step_t = np.where(err2 * err < 0, 0.5 * step_t, step_t)
                latent, pve_latent, y, info = cand, cand_pve, y2, info2
                err, pve_err, score = err2, pve_err2, score2
            else:  # overshot (a binary trait's statistics move in steps): halve the step
                step *= 0.5
                if linear and step < MIN_STEP:
                    break
        if cal_t and model.binary:
            # cutting the latent trait adds noise of about sqrt(1 - a^2) to each statistic, which target shifts do
            # not remove: swap case and control labels near the cut while that brings the statistics closer
            swap_X, swap_t = UtX, goal
            if check is not None:
                # the swaps also steer the lead windows' other SNPs (their statistics otherwise follow the LD alone),
                # those with a statistic as for the locus SNPs
                live = _varying(check[0], W1)
                swap_X = np.column_stack([UtX, U.T @ check[0][:, live].astype(np.float64)])
                swap_t = np.concatenate([goal, np.asarray(check[1], dtype=float)[live]])
            swap_class = _class_bounds(swap_t, thr) if by_class else None
            y, n_swaps = _swap_refine(
                y,
                info["_fit"][3],
                s_t,
                U,
                UtW,
                swap_X,
                lambda yy: errors(yy, swap_X, swap_t, swap_class),
                classes=None if swap_class is None else (swap_t, *swap_class),
            )
            if n_swaps:
                err, pve_err, _ = errors(y)
            info["label_swaps"], info["label_swap_snps"] = n_swaps, int(swap_X.shape[1])
        if cal_t:
            info["hit_margin_snps"] = n_moved
            info.update({"locus_t_rms_error_first": first_t, "locus_t_rms_error": float(np.sqrt(np.mean(err**2)))})
            info["locus_var_first"] = float(first_var)
        if cal_pve:
            info["pve_error"] = float(pve_err)
    beta, c, dn, liability = info.pop("_fit")
    k = 1.0
    if not model.binary and model.ve > 0 and model.vg > 0 and np.var(y) > 0:
        # the variance scale: the part of y beyond intercept and covariates is scaled so that the synthetic null model's
        # vg and ve match the real ones as a pair (geometric mean of their ratios; their ratio, lambda, is the PVE's
        # and stays). The LMM and linear-model statistics and the null-model PVE depend on y only through that part,
        # scale-free, so they stay as calibrated
        null = fit_null(s, UtW, U.T @ y)
        if null.ve > 0 and null.vg > 0:
            k = float((model.vg / null.vg * model.ve / null.ve) ** 0.25)
            w_fit = np.linalg.lstsq(W1, y, rcond=None)[0]  # intercept and covariates
            fitted = W1 @ w_fit
            y = fitted + k * (y - fitted)
    if diagnostics is not None:
        diagnostics.update(
            {"locus_var_real": model.locus_var, "genetic_var_target": float(target), "residual_scale": k, **info}
        )
    if extra is None:
        return y
    # individuals outside the analysed set: the same fitted model, without the exact projections
    Xe, We, ne = extra
    # the analysed rows' SNP means (no copy of the whole matrix)
    idx = model.snp_idx
    Ze = (Xe[:, idx] - column_blocks(lambda B: B.mean(0), Xs, idx, rows)) / np.sqrt(len(idx))
    ye = model.intercept + We @ model.cov_effects + Xe[:, model.lead_idx] @ beta + c * (Ze @ model.u - g_mean)
    ye = ye + dn * np.sqrt(model.ve) * ne
    if k != 1.0:
        fe = np.column_stack([np.ones(len(ye)), We]) @ w_fit
        ye = fe + k * (ye - fe)
    if model.binary:
        ye = (ye > _cut(liability, model.prevalence)).astype(np.float64)
    return y, ye


def is_binary(y: np.ndarray) -> bool:
    """Whether the observed values of ``y`` (NaN = missing) are all 0 or 1: a liability-threshold trait."""
    y = np.asarray(y, dtype=float)
    return bool(set(np.unique(y[np.isfinite(y)])) <= {0.0, 1.0})


def _clear_thresholds(t: np.ndarray, thr: np.ndarray, margin: float = HIT_MARGIN) -> tuple[np.ndarray, int]:
    """``t`` with each value within ``margin`` of a threshold in ``|t|`` moved ``margin`` to its own side of it."""
    a = np.abs(t)
    moved = np.zeros(len(t), dtype=bool)
    for th in np.sort(thr):
        near = np.abs(a - th) < margin
        a = np.where(near, np.where(a > th, th + margin, th - margin), a)
        moved |= near
    return np.sign(t) * a, int(moved.sum())


def _class_bounds(goal: np.ndarray, thr: np.ndarray, margin: float = HIT_MARGIN / 2) -> tuple[np.ndarray, np.ndarray]:
    """Signed interval ``[lo, hi]`` of the statistics in the hit class of each ``goal``, ``margin`` inside it.

    The class of a statistic is the pair of thresholds (in ``|t|``) that ``|goal|`` lies between; a goal under every
    threshold has ``-hi <= t <= hi``, one above a threshold keeps its sign.
    """
    goal = np.asarray(goal, dtype=float)
    th = np.sort(np.asarray(thr, dtype=float))
    k = np.searchsorted(th, np.abs(goal))
    low = np.where(k > 0, th[np.maximum(k - 1, 0)] + margin, 0.0)
    high = np.where(k < len(th), th[np.minimum(k, len(th) - 1)] - margin, np.inf)
    pos = (goal >= 0) & (k > 0)
    neg = (goal < 0) & (k > 0)
    return np.where(pos, low, -high), np.where(neg, -low, high)


def _hinge(t: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """How far each statistic lies outside its class interval ``[lo, hi]`` (0 inside)."""
    return np.maximum(lo - t, 0.0) + np.maximum(t - hi, 0.0)


def _keep_locus_snps(model: PhenoModel, keep: np.ndarray) -> PhenoModel:
    """``model`` with the locus SNPs ``keep`` only (loci left without SNPs are dropped)."""
    blocks = np.unique(model.locus_blocks)
    return replace(
        model,
        lead_idx=model.lead_idx[keep],
        lead_effects=model.lead_effects[keep],
        lead_means=model.lead_means[keep],
        locus_blocks=model.locus_blocks[keep],
        locus_var_blocks=model.locus_var_blocks[np.isin(blocks, model.locus_blocks[keep])],
    )


def _varying(X: np.ndarray, W1: np.ndarray) -> np.ndarray:
    """Columns of ``X`` that vary outside the span of ``W1`` (intercept and covariates): those with a statistic."""
    X = np.asarray(X, dtype=np.float64)
    res = X - W1 @ np.linalg.lstsq(W1, X, rcond=None)[0]
    return (res * res).sum(0) > 1e-9 * X.shape[0]


def _wald_t(s: np.ndarray, UtW: np.ndarray, Uty: np.ndarray, UtX: np.ndarray) -> np.ndarray:
    """Signed Wald statistics ``beta / se`` of the columns of ``UtX``, as :func:`scgenome.tl.gwas` computes them."""
    res = lmm_chunk(s, UtW, Uty, UtX, fit_null(s, UtW, Uty))
    return res["beta"] / res["se"]


def _ols_t(UtW: np.ndarray, Uty: np.ndarray, UtX: np.ndarray) -> np.ndarray:
    """Signed Wald statistics of the linear model (GEMMA ``-lm``, as :func:`scgenome.tl.gwas` ``method="linear"``).

    Ordinary least squares is invariant to the orthogonal rotation ``U``, so rotated inputs give the same statistics.
    """
    res = lm_chunk(UtW, Uty, UtX)
    return res["beta"] / res["se"]


#: share of each class (cases, controls), those with the liability closest to the cut, whose labels may be swapped
SWAP_BAND = 0.25


def _swap_refine(
    y: np.ndarray,
    liability: np.ndarray,
    s: np.ndarray,
    U: np.ndarray,
    UtW: np.ndarray,
    UtX: np.ndarray,
    errors: Callable[[np.ndarray], tuple[np.ndarray, float, float]],
    *,
    rounds: int = 3,
    classes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, int]:
    """Swap case/control labels of a 0/1 trait near the liability cut so that its Wald statistics approach their goal.

    Each swap turns one case into a control and one control into a case (the prevalence is kept), both among
    the :data:`SWAP_BAND` of their class closest to the cut, each individual at most once. The statistics are
    linear in ``y`` at fixed ``lambda`` and residual variance (those of the current labels): ``t = G' y / sd``
    with ``G = U P U' X`` (``P`` the GLS projection off the covariates); greedy steps take the pair that lowers
    the squared error most, until none does. The exact score ``errors(y)[2]`` (the statistics' errors from the
    Wald test of :func:`scgenome.tl.gwas`, and the null-model PVE error, which the swaps also move) is taken at
    the prefixes of 1, 2, 4, ... swaps and at the end of the path; the best prefix is kept and re-linearised, up
    to ``rounds`` times. ``classes = (goal, lo, hi)``: the greedy steps also weigh the squared distance of each
    statistic (``goal + error``) outside its hit-class interval ``[lo, hi]`` by :data:`CLASS_WEIGHT` (exactly, for
    the statistics a step can move across a bound). Returns the labels with the best score and the number of swaps
    they carry.
    """
    y = y.copy()
    e_best, _, best_score = errors(y)
    used = np.zeros(len(y), dtype=bool)
    rank = np.empty(len(y), dtype=np.int64)
    rank[np.argsort(liability, kind="stable")] = np.arange(len(y))
    n_case = int(y.sum())
    n_ctrl = len(y) - n_case  # labels come from the liability ranks: ranks >= n_ctrl are cases
    near_case = rank < n_ctrl + max(1, int(SWAP_BAND * n_case))
    near_ctrl = rank >= n_ctrl - max(1, int(SWAP_BAND * n_ctrl))
    kept = 0
    for _ in range(rounds):
        Uty = U.T @ y
        h = 1.0 / (fit_null(s, UtW, Uty).lambda_reml * s + 1.0)
        hW = UtW * h[:, None]
        WhW = UtW.T @ hW
        # P U'X and P U'y in the rotated space (one solve for both)
        PXy = np.column_stack([UtX, Uty]) * h[:, None]
        PXy -= hW @ np.linalg.solve(WhW, UtW.T @ PXy)
        PX, Py = PXy[:, :-1], PXy[:, -1]
        D = np.einsum("ij,ij->j", UtX, PX)
        xy = PX.T @ Uty
        dof = len(y) - UtW.shape[1] - 1
        sd = np.sqrt(np.maximum(D * (float(Uty @ Py) - xy**2 / D) / dof, 1e-300))
        A = (U @ PX) / sd  # (m, S): change of each statistic per unit of y_i
        e = e_best.copy()
        cases = np.flatnonzero((y == 1) & near_case & ~used)
        ctrls = np.flatnonzero((y == 0) & near_ctrl & ~used)
        path: list[tuple[int, int]] = []
        while len(cases) and len(ctrls):
            # ||e + a_k - a_i||^2 - ||e||^2 for case i -> control and control k -> case
            ac, an = A[cases], A[ctrls]
            gain = (
                (-2.0 * ac @ e + (ac * ac).sum(1))[:, None]
                + (2.0 * an @ e + (an * an).sum(1))[None, :]
                - 2.0 * ac @ an.T
            )
            if classes is not None:
                gain = gain + CLASS_WEIGHT * _hinge_gain(classes[0] + e, ac, an, classes[1], classes[2])
            i, k = np.unravel_index(np.argmin(gain), gain.shape)
            if gain[i, k] >= 0:
                break
            path.append((int(cases[i]), int(ctrls[k])))
            e = e + A[ctrls[k]] - A[cases[i]]
            cases, ctrls = np.delete(cases, i), np.delete(ctrls, k)
        if not path:
            break
        best_len = 0
        lengths = sorted({*(2**j for j in range(len(path).bit_length())), len(path)})
        for n_p in lengths:
            yy = y.copy()
            for ci, ck in path[:n_p]:
                yy[ci], yy[ck] = 0.0, 1.0
            e_try, _, score = errors(yy)
            if score < best_score:
                best_score, best_len, e_best = score, n_p, e_try
        if best_len == 0:
            break
        for ci, ck in path[:best_len]:
            y[ci], y[ck] = 0.0, 1.0
            used[ci] = used[ck] = True
        kept += best_len
    return y, kept


def _hinge_gain(t: np.ndarray, ac: np.ndarray, an: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Change of the summed squared hinges when case ``i`` becomes a control and control ``k`` a case.

    ``t`` are the current statistics, ``ac`` / ``an`` the changes of the statistics per unit of each case's /
    control's label (rows). Only the statistics that one swap can take across a bound of their interval are summed.
    """
    reach = np.abs(ac).max(0) + np.abs(an).max(0)
    h0 = _hinge(t, lo, hi)
    live = np.flatnonzero((h0 > 0) | (t - lo < reach) | (hi - t < reach))
    out = np.zeros((ac.shape[0], an.shape[0]))
    if len(live) == 0:
        return out
    base = float((h0[live] ** 2).sum())
    tl, dl, dh = t[live], ac[:, live], an[:, live]
    step = max(1, int(2e7 // max(an.shape[0] * len(live), 1)))
    for r in range(0, ac.shape[0], step):
        tt = tl[None, None, :] - dl[r : r + step, None, :] + dh[None, :, :]
        out[r : r + step] = (_hinge(tt, lo[live], hi[live]) ** 2).sum(-1) - base
    return out


def _variance_keeping_noise(lead: np.ndarray, parts: np.ndarray, c0: float) -> Callable[[float], float]:
    """Noise scale ``d(c) >= 0`` keeping ``var(lead + c g + d e)`` at its value for ``c0``, ``d = 1``.

    ``parts`` holds ``g`` and ``e``. Matching the PVE along ``(c, d(c))`` moves variance between the polygenic
    term and the noise, so the synthetic null model's ``vg`` and ``ve`` both follow the real ones (not only
    their ratio) and the locus statistics keep their residual variance.
    """
    C = np.cov(np.column_stack([lead, parts[:, 0], parts[:, 1]]), rowvar=False, bias=True)
    w = np.array([1.0, c0, 1.0])
    v0 = w @ C @ w

    def scale(c: float) -> float:
        return _root(C[2, 2], 2 * (C[0, 2] + c * C[1, 2]), C[0, 0] + 2 * c * C[0, 1] + c * c * C[1, 1] - v0)

    return scale


def _root(qa: float, qb: float, qc: float) -> float:
    """Return the larger root of ``qa x^2 + qb x + qc`` clipped at 0 (0 when ``qa <= 0`` or there is no real root)."""
    disc = qb * qb - 4 * qa * qc
    return float(max((-qb + np.sqrt(disc)) / (2 * qa), 0.0)) if qa > 0 and disc > 0 else 0.0


def _match_pve(
    s: np.ndarray,
    UtW: np.ndarray,
    Ub: np.ndarray,
    Uparts: np.ndarray,
    target: float,
    c0: float,
    noise_scale: Callable[[float], float] | None = None,
) -> float:
    """Polygenic scale ``c`` at which the synthetic null-model REML PVE equals ``target`` (bracket, then Brent).

    The synthetic phenotype is ``base + c * parts[:, 0] + d(c) * parts[:, 1]``, given rotated by the
    eigenvectors of the synthetic kinship (``Ub``, ``Uparts``; eigenvalues ``s``, rotated intercept and
    covariates ``UtW``), with ``d = noise_scale(c)`` (1 without it); its null LMM is fitted exactly as
    :func:`scgenome.tl.gwas` does. The PVE grows with ``c``.
    """
    seen: dict[float, float] = {}

    def gap(c: float) -> float:
        if c not in seen:
            d = 1.0 if noise_scale is None else noise_scale(c)
            seen[c] = fit_null(s, UtW, Ub + c * Uparts[:, 0] + d * Uparts[:, 1]).pve - target
        return seen[c]

    if gap(0.0) >= 0:
        return 0.0
    # doubling from c0 (or from 1e-3 when the loci alone take the variance target, c0 = 0) up to 2^30 times; Brent's
    # method to the width 14 bisection steps would leave (about a third of the null-model fits)
    return _doubling_brent(gap, 0.0, max(c0, 1e-3), 31, lambda lo, hi: (hi - lo) * 2.0**-15, 1e-12)


def _match_pve_noise(s: np.ndarray, UtW: np.ndarray, Ub: np.ndarray, Unoise: np.ndarray, target: float) -> float:
    """Noise scale ``d >= 1`` at which the null-model REML PVE of ``base + d * noise`` equals ``target``.

    1 if the PVE is already at most ``target``; at most 16. Arguments rotated as for :func:`_match_pve`; the PVE
    falls with ``d``.
    """

    def excess(d: float) -> float:  # rises with d
        return target - fit_null(s, UtW, Ub + d * Unoise).pve

    if excess(1.0) >= 0:
        return 1.0
    return _doubling_brent(excess, 1.0, 2.0, 4, lambda lo, hi: 1e-3, 1e-6)


def _doubling_brent(
    f: Callable[[float], float],
    lo: float,
    hi: float,
    n_checks: int,
    xtol: Callable[[float, float], float],
    rtol: float,
) -> float:
    """Root of ``f``, negative at ``lo`` and rising through 0 once: a doubling bracket, then Brent's method.

    ``hi`` doubles (``lo`` following) until ``f(hi) >= 0``, at most ``n_checks`` values of ``hi`` (the last one is
    returned when ``f`` stays negative there); Brent's method then runs on ``[lo, hi]`` to ``xtol(lo, hi)``.
    """
    for k in range(n_checks):
        if f(hi) >= 0:
            return float(optimize.brentq(f, lo, hi, xtol=xtol(lo, hi), rtol=rtol))
        if k < n_checks - 1:
            lo, hi = hi, 2.0 * hi
    return hi


def _cut(liability: np.ndarray, prevalence: float) -> float:
    """Liability above which the ``prevalence`` share of individuals lies."""
    k = min(max(round((1.0 - prevalence) * len(liability)), 0), len(liability) - 1)
    return float(np.sort(liability)[k])


def _threshold(liability: np.ndarray, prevalence: float) -> np.ndarray:
    """Cases (1.0) are the ``prevalence`` share of individuals with the highest liability, the rest 0.0."""
    return (liability > _cut(liability, prevalence)).astype(np.float64)


def _latent_scores(c: np.ndarray) -> np.ndarray:
    """Return the normal scores of one column: ``E[Z | Z in the rank interval of the value]``."""
    n = len(c)
    _, inv, counts = np.unique(c, return_inverse=True, return_counts=True)
    hi = np.cumsum(counts) / n
    lo = hi - counts / n
    a, b = stats.norm.ppf(lo), stats.norm.ppf(hi)
    with np.errstate(invalid="ignore"):
        mean = (stats.norm.pdf(a) - stats.norm.pdf(b)) / np.maximum(hi - lo, 1e-300)
    return mean[inv]


def copula_fit(C: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Gaussian copula of the columns of ``C`` (complete rows): latent correlation and sorted marginals.

    Each column becomes its conditional-mean normal scores; their correlation is divided by the scores'
    standard deviations, which undoes the attenuation by ties (binary columns: the biserial correction).
    """
    q = C.shape[1]
    if q == 0:
        return np.zeros((0, 0)), []
    Z = np.column_stack([_latent_scores(c) for c in C.T])
    sd = Z.std(0)
    R = np.atleast_2d(np.cov(Z, rowvar=False, bias=True)) / np.outer(sd, sd)
    R = np.clip(R / np.outer(sd, sd), -0.99, 0.99) if q > 1 else np.ones((1, 1))
    np.fill_diagonal(R, 1.0)
    w, V = np.linalg.eigh(R)
    R = (V * np.clip(w, 1e-6, None)) @ V.T
    d = np.sqrt(np.diag(R))
    return R / np.outer(d, d), [np.sort(c) for c in C.T]


def copula_sample(R: np.ndarray, marginals: list[np.ndarray], m: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``m`` rows from the copula; discrete columns (<= 10 values) keep their values, others interpolate."""
    q = len(marginals)
    if q == 0:
        return np.zeros((m, 0))
    Lc = np.linalg.cholesky(R + 1e-9 * np.eye(q))  # R is positive definite (eigenvalues clipped)
    U = stats.norm.cdf(rng.standard_normal((m, q)) @ Lc.T)
    out = np.empty((m, q))
    for j, srt in enumerate(marginals):
        method = "inverted_cdf" if len(np.unique(srt)) <= 10 else "linear"
        out[:, j] = np.quantile(srt, U[:, j], method=method)
    return out

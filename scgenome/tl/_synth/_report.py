"""``sg.tl.synthesis_report``: GWAS concordance, fidelity and privacy of a synthetic cohort."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from ..._logging import logger
from ..._utils import child_seed, geno_modality, geno_view, get_rng, progress
from ..._validation import check_nonempty, is_boolish
from ._api import (
    HIT_THRESHOLDS,
    _check_float,
    _check_int,
    _coords,
    _dense,
    _in_memory,
    _lead_windows,
    mean_impute,
    run_gwas,
)
from ._pheno import column_blocks

if TYPE_CHECKING:
    from collections.abc import Sequence

    from anndata import AnnData
    from mudata import MuData


#: principal components whose synthetic / real SD ratio the fidelity table reports (``pca_sd_ratio_pc1`` ...)
N_SD_RATIOS = 5
#: privacy rows that compare training with holdout individuals: NaN without ``holdout``, with this note
NEEDS_HOLDOUT = (
    "mia_auc_nn",
    "mia_auc_window",
    "mia_auc_window_loci",
    "dcr_holdout_median",
    "longest_identical_segment_real",
)


# ----------------------------------------------------------------------------------------------- metrics
def hit_prf(p_real: np.ndarray, p_other: np.ndarray, threshold: float) -> dict:
    """Hit-class precision, recall and F1 (the positive class only, never class-weighted)."""
    a = np.nan_to_num(p_real, nan=1.0) < threshold
    b = np.nan_to_num(p_other, nan=1.0) < threshold
    tp = int((a & b).sum())
    prec = tp / b.sum() if b.sum() else np.nan
    rec = tp / a.sum() if a.sum() else np.nan
    f1 = 2 * tp / (a.sum() + b.sum()) if (a.sum() + b.sum()) else np.nan
    return {"n_real": int(a.sum()), "n_other": int(b.sum()), "precision": prec, "recall": rec, "f1": f1}


def loci(p: np.ndarray, coord: np.ndarray, chrom: np.ndarray, threshold: float, gap: float) -> list[tuple]:
    """Hits clumped along each chromosome: runs of hits closer than ``gap`` form one locus (chrom, lo, hi)."""
    hit = np.nan_to_num(p, nan=1.0) < threshold
    out = []
    for c in pd.unique(chrom[hit]):
        x = np.sort(coord[hit & (chrom == c)])
        start = x[0]
        for a, b in itertools.pairwise(x):
            if b - a > gap:
                out.append((c, start, a))
                start = b
        out.append((c, start, x[-1]))
    return out


def locus_prf(p_real, p_other, coord, chrom, threshold: float, gap: float) -> dict:
    """Locus-level precision and recall: a locus is found when the other set has a locus within ``gap``."""
    A = loci(p_real, coord, chrom, threshold, gap)
    B = loci(p_other, coord, chrom, threshold, gap)

    def near(x, Y):
        return any(x[0] == y[0] and x[1] - gap <= y[2] and y[1] - gap <= x[2] for y in Y)

    prec = np.mean([near(b, A) for b in B]) if B else np.nan
    rec = np.mean([near(a, B) for a in A]) if A else np.nan
    f1 = 2 * prec * rec / (prec + rec) if (prec + rec) > 0 else np.nan
    return {"n_real": len(A), "n_other": len(B), "precision": prec, "recall": rec, "f1": f1}


def _corr(a, b) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:  # no correlation without variation (no warning)
        return np.nan
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def _sqdist(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Euclidean distances between rows (float64, via BLAS)."""
    d = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * A @ B.T
    return np.sqrt(np.maximum(d, 0.0))


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC of scores (higher = positive), ties counted half."""
    from scipy.stats import rankdata

    r = rankdata(np.concatenate([pos, neg]))
    n1, n0 = len(pos), len(neg)
    return float((r[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def ld_pairs(X: np.ndarray, coord_bp: np.ndarray, chrom: np.ndarray, max_dist: float) -> tuple:
    """Return the indices (i, j) of SNP pairs on the same chromosome within ``max_dist`` (bp), and their distance.

    Empty arrays when no two SNPs are that close (a low-density panel).
    """
    ii, jj, dd = [], [], []
    for c in pd.unique(chrom):
        idx = np.where((chrom == c) & np.isfinite(coord_bp))[0]
        idx = idx[np.argsort(coord_bp[idx])]
        x = coord_bp[idx]
        for k in range(1, len(idx)):
            ok = x[k:] - x[:-k] <= max_dist
            if not ok.any():
                break
            ii.append(idx[:-k][ok])
            jj.append(idx[k:][ok])
            dd.append((x[k:] - x[:-k])[ok])
    if not ii:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(ii), np.concatenate(jj), np.concatenate(dd)


def pair_r2(X: np.ndarray, ii: np.ndarray, jj: np.ndarray, block: int = 2**24) -> np.ndarray:
    """Squared correlation of SNP columns for the given pairs (NaN when monomorphic).

    Works on blocks of about ``block`` matrix elements (128 MiB of float64 per temporary) whatever the cohort size.
    """
    Z = X - X.mean(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        Z /= np.sqrt(column_blocks(lambda B: (B**2).mean(0), Z, block=block))
    step = max(1, block // max(Z.shape[0], 1))
    out = np.empty(len(ii))
    for s in range(0, len(ii), step):
        out[s : s + step] = ((Z[:, ii[s : s + step]] * Z[:, jj[s : s + step]]).mean(0)) ** 2
    return out


def longest_identical_run(a: np.ndarray, b: np.ndarray, slices: list[slice]) -> int:
    """Longest run of identical genotypes between two individuals within a chromosome (in SNPs)."""
    best = 0
    for sl in slices:
        eq = a[sl] == b[sl]
        if not eq.any():
            continue
        d = np.diff(np.concatenate([[0], eq.astype(np.int8), [0]]))
        runs = np.where(d == -1)[0] - np.where(d == 1)[0]
        best = max(best, int(runs.max()))
    return best


def window_match_share(real_codes: np.ndarray, syn_codes: np.ndarray, slices: list[slice], width: int) -> np.ndarray:
    """Per real individual: share of its non-overlapping ``width``-SNP windows found exactly in the synthetic cohort."""
    hits = np.zeros(real_codes.shape[0])
    total = 0
    for sl in slices:
        for s in range(sl.start, sl.stop - width + 1, width):
            rw = np.ascontiguousarray(real_codes[:, s : s + width]).view(np.dtype((np.void, width)))[:, 0]
            sw = np.ascontiguousarray(syn_codes[:, s : s + width]).view(np.dtype((np.void, width)))[:, 0]
            hits += np.isin(rw, sw)
            total += 1
    return hits / max(total, 1)


# ----------------------------------------------------------------------------------------------- API
def _nanmean(values: np.ndarray) -> float:
    """``np.nanmean`` of ``values``, NaN (without a warning) when none is defined."""
    return float(np.nanmean(values)) if (~np.isnan(values)).any() else float("nan")


def _finite_stat(values: pd.Series, stat: str) -> float:
    """``values.<stat>()`` over the defined values, NaN (without a warning) when there are none."""
    values = values.dropna()
    return float(getattr(values, stat)()) if len(values) else float("nan")


def synthesis_report(
    real: AnnData | MuData,
    synthetic: AnnData | MuData,
    *,
    phenotype: str,
    covariates: str | Sequence[str] | None = None,
    holdout: str | Sequence[str] | np.ndarray | None = None,
    method: Literal["lmm", "linear"] = "lmm",
    thresholds: Sequence[float] = HIT_THRESHOLDS,
    n_subsamples: int = 5,
    subsample_fraction: float = 0.9,
    locus_gap: float = 5.0,
    ld_max_dist: float = 1e6,
    window: int = 25,
    n_segment_neighbours: int = 3,
    key_added: str = "synthesis_report",
    mod: tuple[str, str] = ("geno", "pheno"),
    rng: int | np.random.Generator | None = None,
) -> dict[str, pd.DataFrame]:
    """Compare a synthetic cohort with the real one: GWAS concordance, fidelity and privacy.

    Parameters
    ----------
    real
        The real genotype AnnData with the phenotype (and covariates) in ``obs``, or a MuData with
        genotype and phenotype modalities (``mod``); all real individuals (training and holdout). Backed genotypes
        (``read_h5ad(..., backed="r")``, dense or sparse) are read into memory once, up front.
    synthetic
        The synthetic cohort (same ``var``), e.g. from :func:`scgenome.tl.synthesize` (an AnnData, or the
        MuData it returns for a MuData).
    phenotype
        Phenotype column (in both ``obs``).
    covariates
        Covariate columns (in both ``obs``).
    holdout
        Real individuals the synthesis did NOT see, the others being the training set: the name of a boolean
        ``obs`` column (every value True or False: missing values, 0/1 or labels are an error), obs names
        (strings), a boolean mask (numpy, by position) or a boolean pandas Series (matched to the individuals by
        its index, which must hold each obs name once). Integer arrays (a 0/1 mask, positions) are an error:
        they would read as obs names. Without it, the privacy tables compare with all real individuals and
        the membership-inference numbers are NaN.
    method
        GWAS run on both cohorts with :func:`scgenome.tl.gwas`: ``"lmm"`` or ``"linear"``. A cohort synthesized
        for one of them (:func:`~scgenome.tl.synthesize`'s ``gwas_method``) reproduces that one's hits.
    thresholds
        P-value thresholds of the hit classes: distinct, each in (0, 1).
    n_subsamples
        Random subsamples of the real cohort (of ``subsample_fraction``) giving the replication floor (a positive
        integer).
    subsample_fraction
        Size of each real subsample, in (0, 1).
    locus_gap
        Hits closer than this (map unit of ``var``: cM, else Mb; non-negative) form one locus; loci within it match.
    ld_max_dist
        Largest SNP-pair distance (bp, from ``var["pos"]``; positive) in the LD comparison. Without any SNP pair
        that close (a low-density panel), the LD rows of ``"fidelity"`` are NaN and the ``"ld_decay"`` bins hold
        no pairs.
    window
        Width (SNPs, a positive integer) of the local exact-match membership attack.
    n_segment_neighbours
        Nearest real individuals searched for the longest identical segment of each synthetic one (a positive
        integer).
    key_added
        Key in ``synthetic.uns`` for the report (for a MuData, the ``uns`` of its genotype modality).
    mod
        Names of the genotype and phenotype modalities of a MuData (phenotypes matched to genotypes
        by individual id).
    rng
        Seed or generator for the subsamples and the classifier.

    Returns
    -------
    A dict of DataFrames, also written to ``synthetic.uns[key_added]``:

    - ``"gwas"``: one row per (level ``snp``/``locus``, threshold) with ``n_real``, ``n_synthetic``,
      ``precision``, ``recall``, ``f1`` and the real replication floor ``floor_precision``,
      ``floor_recall``, ``floor_f1`` (medians over the subsamples), ``floor_f1_min``, ``floor_f1_max``, and
      with ``holdout`` the training cohort's own agreement ``train_precision``, ``train_recall``,
      ``train_f1`` (the same GWAS on the training individuals alone: what a generator that reproduced the
      data it saw exactly would score; NaN without ``holdout``);
    - ``"gwas_agreement"``: rows ``synthetic`` and ``floor`` (median) with ``logp_corr`` (-log10 p over all
      tested SNPs), ``beta_corr`` and ``sign_agreement`` (over the real hits at the loosest threshold),
      ``pve`` (null model; NaN for the linear model);
    - ``"fidelity"``: metric/value rows: ``af_corr``, ``af_rmse``, ``ld_r2_corr``, ``het_real``,
      ``het_synthetic``, ``pve_real``, ``pve_synthetic``, ``pve_diff`` (the GWAS's null model: NaN for the linear
      model; run the report with ``method="lmm"`` for the PVE), ``ld_r2_mean_real``,
      ``ld_r2_mean_synthetic``; on PC1-10 of a random half of the training individuals, with the other half
      and the synthetic cohort projected on them (both out of sample): ``classifier_auc`` (cross-validated
      logistic regression telling the two apart: a shift of the clouds), ``classifier_auc_knn`` (k-NN: any
      difference, including the real families a sampled cohort lacks; below 0.5 hints at copies),
      ``classifier_auc_max`` (the larger of the two: how well any of them tells the cohorts apart),
      ``pca_centroid_dist`` (in real SD units), ``pca_sd_ratio_pc1`` to ``pca_sd_ratio_pc5`` (synthetic / real
      SD; NaN past the cohort's rank); ``kinship_p99_real``, ``kinship_p99_synthetic`` (fidelity and privacy leave out SNPs without a
      single genotype in either cohort);
    - ``"ld_decay"``: 20 distance bins up to ``ld_max_dist`` (``distance``, the bin's middle), mean r^2 real
      and synthetic (``r2_real``, ``r2_synthetic``; NaN for a bin without pairs), number of pairs (``n_pairs``);
    - ``"kinship"``: off-diagonal kinship quantiles, real vs synthetic;
    - ``"af"``: per-SNP allele frequency, real and synthetic (NaN for SNPs without genotypes);
    - ``"pca"``: PC1, PC2 of the projected half of the training individuals and of the synthetic ones
      (``source``), on the axes of the other half;
    - ``"privacy"``: metric/value rows: ``exact_copies``, ``near_copies`` (closer than the 5th percentile
      of real-real nearest-neighbour distances), ``min_syn_real_dist``, ``real_nn_dist_p05``,
      ``dcr_train_median``, ``dcr_holdout_median``, ``nn_adversarial_accuracy``, ``mia_auc_nn``,
      ``mia_auc_window``, ``mia_auc_window_loci`` (the window attack on the real loci alone: SNPs within
      ``locus_gap`` of a clumped real hit at the loosest threshold, where ``populations`` in
      :func:`~scgenome.tl.synthesize` spends the populations' own models; NaN without such windows),
      ``windows_loci`` (its number of windows), ``longest_identical_segment`` (SNPs), ``longest_identical_segment_real``
      (the same between holdout and training individuals), ``longest_identical_segment_median`` (median over
      the synthetic individuals), ``window``; a ``note`` column says why a row is NaN (empty where it is
      defined): without ``holdout`` the rows comparing training with holdout individuals (``mia_auc_nn``,
      ``mia_auc_window``, ``mia_auc_window_loci``, ``dcr_holdout_median``, ``longest_identical_segment_real``)
      are NaN with the note that membership inference needs ``holdout=``;
    - ``"distances"``: per-individual distances for plotting (``kind``: syn->train, syn->holdout,
      real->real nearest neighbour).

    Notes
    -----
    The replication floor is the agreement of the real GWAS with itself on random 90% subsamples: an
    honest ceiling for any synthetic data. The training columns show where the one split the synthesis
    saw falls within that range: hits of the training cohort that the full cohort does not have (or the
    reverse) are in the data the generator learnt from, and a faithful synthetic cohort carries them. The
    nearest-neighbour adversarial accuracy follows Yale et al. (2020); the membership attacks compare
    training and holdout individuals (Stadler et al. 2022).

    Examples
    --------
    >>> import scgenome as sg
    >>> real = sg.datasets.simulate_cohort(n_individuals=200, n_snps=300, rng=0)
    >>> hold = real.obs_names[150:]
    >>> syn = sg.tl.synthesize(real[:150].copy(), phenotypes="pheno", n_states=8, n_iter=3, rng=0)
    >>> tabs = sg.tl.synthesis_report(real, syn, phenotype="pheno", holdout=hold, n_subsamples=2, rng=0)
    >>> sorted(tabs)[:3]
    ['af', 'distances', 'fidelity']
    """
    from anndata import AnnData

    # the report goes to the synthetic genotypes' uns (the modality of a MuData)
    synthetic_out = synthetic if isinstance(synthetic, AnnData) else geno_modality(synthetic, mod)
    real, synthetic = geno_view(real, mod), geno_view(synthetic, mod)
    check_nonempty(real, "real AnnData")
    check_nonempty(synthetic, "synthetic AnnData")
    thresholds = sorted(float(t) for t in np.atleast_1d(np.asarray(thresholds, dtype=float)))
    if not thresholds or not all(0 < t < 1 for t in thresholds):
        msg = f"thresholds must be one or more p-values in (0, 1), got {thresholds}."
        raise ValueError(msg)
    if len(set(thresholds)) < len(thresholds):
        msg = f"thresholds must be distinct p-values, got {thresholds}."
        raise ValueError(msg)
    n_subsamples = _check_int("n_subsamples", n_subsamples, 1)  # the replication floor needs a real subsample
    window = _check_int("window", window, 1)
    n_segment_neighbours = _check_int("n_segment_neighbours", n_segment_neighbours, 1)
    _check_float("locus_gap", locus_gap, 0.0)
    _check_float("ld_max_dist", ld_max_dist, 0.0, lo_open=True)
    covariates = [covariates] if isinstance(covariates, str) else list(covariates or [])
    for name, ad in [("real", real), ("synthetic", synthetic)]:
        missing = [c for c in [phenotype, *covariates] if c not in ad.obs.columns]
        if missing:
            msg = f"Column(s) {missing} not found in {name}.obs; available: {list(ad.obs.columns)}."
            raise ValueError(msg)
    if list(real.var_names) != list(synthetic.var_names):
        msg = "real and synthetic must have the same var_names (SNPs) in the same order."
        raise ValueError(msg)
    if method not in ("lmm", "linear"):
        msg = f"method must be 'lmm' or 'linear', got {method!r}."
        raise ValueError(msg)
    _check_float("subsample_fraction", subsample_fraction, 0.0, 1.0, lo_open=True, hi_open=True)
    ho_mask = _holdout_mask(real, holdout)
    # backed genotypes (read_h5ad(..., backed="r"), or a backed MuData) are read into memory once, after the checks
    real, synthetic = _in_memory(real), _in_memory(synthetic)
    rng = get_rng(rng)

    var = real.var
    coord = _coords(var)
    chrom = var["chrom"].astype(str).to_numpy()

    # ---------------- GWAS concordance
    p_r, b_r, _, null_r = run_gwas(real, phenotype, covariates, method)
    p_s, b_s, _, null_s = run_gwas(synthetic, phenotype, covariates, method)
    # the real loci (SNPs within locus_gap of a clumped real hit at the loosest threshold): the privacy table's local attack
    loci = _lead_windows(p_r, coord, chrom, thresholds[-1], locus_gap)[1]
    subs = []
    n = real.n_obs
    for _ in progress(range(n_subsamples), desc="replication floor"):
        idx = np.sort(rng.choice(n, size=round(subsample_fraction * n), replace=False))
        p_sub, b_sub, _, null_sub = _subset_gwas(real, idx, phenotype, covariates, method)
        subs.append((p_sub, b_sub, null_sub))
    # the cohort the synthesis saw: its own GWAS is what a generator that reproduced it exactly would give
    p_t = _subset_gwas(real, ~ho_mask, phenotype, covariates, method)[0] if ho_mask.any() else None
    rows = []
    for level in ("snp", "locus"):
        for t in thresholds:
            f = hit_prf if level == "snp" else lambda a, b, t: locus_prf(a, b, coord, chrom, t, locus_gap)
            syn = f(p_r, p_s, t)
            fl = pd.DataFrame([f(p_r, s[0], t) for s in subs])
            tr_prf = f(p_r, p_t, t) if p_t is not None else dict.fromkeys(("precision", "recall", "f1"), np.nan)
            rows.append(
                {
                    "level": level,
                    "threshold": t,
                    "n_real": syn["n_real"],
                    "n_synthetic": syn["n_other"],
                    "precision": syn["precision"],
                    "recall": syn["recall"],
                    "f1": syn["f1"],
                    "floor_precision": _finite_stat(fl["precision"], "median"),
                    "floor_recall": _finite_stat(fl["recall"], "median"),
                    "floor_f1": _finite_stat(fl["f1"], "median"),
                    "floor_f1_min": _finite_stat(fl["f1"], "min"),
                    "floor_f1_max": _finite_stat(fl["f1"], "max"),
                    "train_precision": tr_prf["precision"],
                    "train_recall": tr_prf["recall"],
                    "train_f1": tr_prf["f1"],
                }
            )
    gwas_tab = pd.DataFrame(rows)
    loose = np.nan_to_num(p_r, nan=1.0) < thresholds[-1]

    def neglog10(p):  # p-values that underflowed to 0 count as the smallest double, not as missing
        return -np.log10(np.maximum(p, np.finfo(float).tiny))

    def agree(p, b, null):
        return {
            "logp_corr": _corr(neglog10(p_r), neglog10(p)),
            "beta_corr": _corr(b_r[loose], b[loose]) if loose.sum() > 2 else np.nan,
            "sign_agreement": float(np.mean(np.sign(b_r[loose]) == np.sign(b[loose]))) if loose.any() else np.nan,
            "pve": float(null.get("pve", np.nan)),
        }

    fl_agree = pd.DataFrame([agree(*s) for s in subs]).median()
    agreement = pd.DataFrame([agree(p_s, b_s, null_s), fl_agree.to_dict()], index=["synthetic", "floor"])

    # ---------------- fidelity
    Xr = _dense(real.X)
    Xs = _dense(synthetic.X)
    # SNPs without a single genotype in either cohort carry no information: fidelity and privacy leave them out
    observed = ~(np.isnan(Xr).all(0) | np.isnan(Xs).all(0))
    pos = pd.to_numeric(var["pos"], errors="coerce").to_numpy(dtype=float, na_value=np.nan) if "pos" in var else None
    if pos is None or not np.isfinite(pos).any():
        pos = coord * 1e6
    if not observed.all():
        Xr, Xs, var, pos, chrom = Xr[:, observed], Xs[:, observed], var.iloc[observed], pos[observed], chrom[observed]
    Xr, Xs = mean_impute(Xr), mean_impute(Xs)
    Xtr = Xr[~ho_mask]
    af_r, af_s = Xtr.mean(0) / 2, Xs.mean(0) / 2
    fid: dict[str, float] = {
        "af_corr": _corr(af_r, af_s),
        "af_rmse": float(np.sqrt(np.mean((af_r - af_s) ** 2))),
    }
    pi, pj, D = ld_pairs(Xtr, pos, chrom, ld_max_dist)
    r2r, r2s = pair_r2(Xtr, pi, pj), pair_r2(Xs, pi, pj)
    fid["ld_r2_corr"] = _corr(r2r, r2s)
    # no SNP pairs within ld_max_dist (a low-density panel): NaN means and an LD-decay table without pairs
    fid["ld_r2_mean_real"] = _nanmean(r2r)
    fid["ld_r2_mean_synthetic"] = _nanmean(r2s)
    edges = np.linspace(0, ld_max_dist, 21)
    b = np.clip(np.digitize(D, edges) - 1, 0, len(edges) - 2)
    ld_decay = pd.DataFrame(
        {
            "distance": (edges[:-1] + edges[1:]) / 2,
            "r2_real": [_nanmean(r2r[b == k]) for k in range(len(edges) - 1)],
            "r2_synthetic": [_nanmean(r2s[b == k]) for k in range(len(edges) - 1)],
            "n_pairs": np.bincount(b, minlength=len(edges) - 1),
        }
    )
    fid["het_real"] = float(np.mean(np.abs(Xtr - 1) < 0.5))
    fid["het_synthetic"] = float(np.mean(np.abs(Xs - 1) < 0.5))
    fid["pve_real"] = float(null_r.get("pve", np.nan))
    fid["pve_synthetic"] = float(null_s.get("pve", np.nan))
    fid["pve_diff"] = fid["pve_synthetic"] - fid["pve_real"]
    # PCA of the training individuals, synthetic projected
    mu = Xtr.mean(0)
    keep = (af_r > 0.01) & (af_r < 0.99)
    Zt, Zs = Xtr[:, keep], Xs[:, keep]  # copies, standardised in place (no further temporaries)
    sd = np.sqrt(np.maximum(Zt.var(0), 1e-12))
    for Z in (Zt, Zs):
        Z -= mu[keep]
        Z /= sd
    # axes from a random half of the training individuals; the other half and the synthetic cohort projected on them.
    # Individuals an axis is fitted on sit further out along it than projected ones (by far when SNPs outnumber
    # individuals): comparing fitted real scores with projected synthetic ones would shrink the SD ratios and let a
    # k-NN tell the two apart on that alone (a fresh sample of the real population scored 0.73-0.85)
    half = rng.permutation(len(Zt))
    if len(half) >= 4:
        fit_rows, test_rows = np.sort(half[: len(half) // 2]), np.sort(half[len(half) // 2 :])
    else:  # a handful of individuals: no halves to speak of
        fit_rows = test_rows = np.arange(len(Zt))
    Vt = _top_axes(Zt[fit_rows], 10)
    k = Vt.shape[0]
    pc_r, pc_s = Zt[test_rows] @ Vt.T, Zs @ Vt.T
    psd = pc_r.std(0)
    fid["pca_centroid_dist"] = float(np.sqrt((((pc_s.mean(0) - pc_r.mean(0)) / psd) ** 2).sum()))
    for j in range(N_SD_RATIOS):
        fid[f"pca_sd_ratio_pc{j + 1}"] = float(pc_s[:, j].std() / psd[j]) if k > j else np.nan
    fid["classifier_auc"], fid["classifier_auc_knn"] = _classifier_auc(pc_r, pc_s, rng)
    fid["classifier_auc_max"] = float(np.nanmax([fid["classifier_auc"], fid["classifier_auc_knn"]]))
    del Zt, Zs
    pca = pd.DataFrame(
        {
            "PC1": np.concatenate([pc_r[:, 0], pc_s[:, 0]]),
            "PC2": np.concatenate([pc_r[:, 1] if k > 1 else 0 * pc_r[:, 0], pc_s[:, 1] if k > 1 else 0 * pc_s[:, 0]]),
            "source": ["real"] * len(pc_r) + ["synthetic"] * len(pc_s),
        }
    )
    qs = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999]
    kin = pd.DataFrame(
        {"quantile": qs, "real": _kin_quantiles(Xtr, keep, qs), "synthetic": _kin_quantiles(Xs, keep, qs)}
    )
    fid["kinship_p99_real"] = float(kin["real"].iloc[-2])
    fid["kinship_p99_synthetic"] = float(kin["synthetic"].iloc[-2])
    af_tab = pd.DataFrame({"af_real": af_r, "af_synthetic": af_s}, index=real.var_names[observed])
    af_tab = af_tab.reindex(real.var_names)

    # ---------------- privacy
    priv, dist_tab = _privacy(Xr, Xtr, Xs, ho_mask, var, window, n_segment_neighbours, rng, loci=loci[observed])
    tables = {
        "gwas": gwas_tab,
        "gwas_agreement": agreement,
        "fidelity": pd.DataFrame({"value": pd.Series(fid)}),
        "ld_decay": ld_decay,
        "kinship": kin,
        "af": af_tab,
        "pca": pca,
        "privacy": _privacy_table(priv, ho_mask.any()),
        "distances": dist_tab,
    }
    synthetic_out.uns[key_added] = {
        "params": {
            "phenotype": phenotype,
            "covariates": covariates,
            "method": method,
            "thresholds": thresholds,
            "n_subsamples": int(n_subsamples),
            "subsample_fraction": float(subsample_fraction),
            "locus_gap": float(locus_gap),
            "ld_max_dist": float(ld_max_dist),
            "window": int(window),
            "n_holdout": int(ho_mask.sum()),
        },
        **tables,
    }
    logger.info("synthesis report written to uns[%r]", key_added)
    return tables


def _privacy_table(priv: dict, has_holdout: bool) -> pd.DataFrame:
    """Return the privacy metrics with a ``note`` on each undefined (NaN) row saying why (empty where defined)."""
    tab = pd.DataFrame({"value": pd.Series(priv, dtype=float)})
    note = pd.Series("", index=tab.index, dtype=object)
    undefined = tab["value"].isna()
    if not has_holdout:
        note[note.index.isin(NEEDS_HOLDOUT) & undefined] = (
            "needs holdout=: membership inference compares training individuals with real ones the synthesis never saw"
        )
    elif undefined.get("mia_auc_window", False):
        note["mia_auc_window"] = "no chromosome holds a whole window (lower window=)"
    if has_holdout and undefined.get("mia_auc_window_loci", False):
        note["mia_auc_window_loci"] = "no whole window within the real loci"
    tab["note"] = note
    return tab


def _subset_gwas(real: AnnData, rows: np.ndarray, phenotype: str, covariates: list[str], method: str) -> tuple:
    """:func:`run_gwas` on a subset of the real individuals, with their own kinship (not a stored one)."""
    sub = real[rows].copy()
    if "kinship" in sub.obsp:
        del sub.obsp["kinship"]
    return run_gwas(sub, phenotype, covariates, method)


def _bool_values(values: pd.Series, what: str) -> np.ndarray:
    """``values`` as a boolean array; raise unless every value is a bool (missing values and labels are errors)."""
    if values.isna().any():
        msg = (
            f"{what} has {int(values.isna().sum())} missing value(s); mark every individual True (holdout) or False "
            "(training)."
        )
        raise ValueError(msg)
    if not is_boolish(values):
        found = pd.unique(values.to_numpy(dtype=object))[:5].tolist()
        msg = (
            f"{what} must be boolean (True for the holdout individuals), got dtype {values.dtype} with values such as "
            f"{found}; convert it, e.g. obs[col] == 'holdout' or obs[col] == 1."
        )
        raise ValueError(msg)
    return values.to_numpy(dtype=bool)


def _holdout_mask(real: AnnData, holdout) -> np.ndarray:
    """Boolean mask of the holdout individuals of ``real`` (see ``holdout`` of :func:`synthesis_report`)."""
    n = real.n_obs
    if holdout is None:
        return np.zeros(n, dtype=bool)
    if isinstance(holdout, str):
        if holdout not in real.obs.columns:
            msg = f"holdout column {holdout!r} not found in real.obs."
            raise ValueError(msg)
        mask = _bool_values(real.obs[holdout], f"holdout column {holdout!r}")
    elif isinstance(holdout, pd.Series) and is_boolish(holdout):
        # a boolean Series is matched to the individuals by its index, never by position
        index = holdout.index.astype(str)
        if not index.is_unique or len(index) != n or not index.isin(real.obs_names).all():
            msg = (
                "A boolean holdout Series is aligned on its index, which must hold each of real.obs_names once "
                f"(got {len(index)} entries, {int((~index.isin(real.obs_names)).sum())} not in real.obs_names); "
                "pass a boolean numpy array to match by position."
            )
            raise ValueError(msg)
        values = pd.Series(holdout.to_numpy(), index=index).reindex(real.obs_names)
        mask = _bool_values(values, "The holdout Series")
    else:
        arr = np.asarray(holdout.to_numpy() if isinstance(holdout, pd.Series) else holdout)
        if arr.ndim != 1:
            msg = f"holdout must be an obs column name, obs names or a boolean mask, got {type(holdout).__name__}."
            raise ValueError(msg)
        if arr.dtype == object and is_boolish(pd.Series(arr)):
            arr = _bool_values(pd.Series(arr), "The holdout mask")
        if arr.dtype == bool:
            if arr.shape != (n,):
                msg = f"A boolean holdout mask needs length {n}, got {arr.shape}."
                raise ValueError(msg)
            mask = arr
        elif len(arr) and not all(isinstance(v, str) for v in arr.tolist()):
            # integers (a 0/1 mask, positions) would be read as obs names ("0", "1", ... by default): refused
            msg = (
                f"holdout of dtype {arr.dtype} is neither a boolean mask nor obs names (strings); pass a boolean mask "
                f"of length {n} (e.g. holdout.astype(bool) for a 0/1 mask) or the holdout individuals' obs names."
            )
            raise ValueError(msg)
        else:
            names = pd.Index(arr, dtype=object)
            bad = names.difference(real.obs_names)
            if len(bad):
                msg = f"holdout names not in real.obs_names: {list(bad[:5])}."
                raise ValueError(msg)
            mask = real.obs_names.isin(names)
    if mask.all():
        msg = "holdout covers every real individual; at least one must be a training individual."
        raise ValueError(msg)
    return mask


def _top_axes(Z: np.ndarray, k: int) -> np.ndarray:
    """Return the top ``k`` right singular vectors of ``Z`` as rows (``min(k, *Z.shape)`` of them).

    From the eigenpairs of ``Z Z'`` (n x n): no n x p factor as a full SVD would make. Each axis's sign makes its
    largest loading positive.
    """
    k = min(k, *Z.shape)
    if k == 0:
        return np.zeros((0, Z.shape[1]))
    evals, U = np.linalg.eigh(Z @ Z.T)
    evals, U = evals[::-1][:k], U[:, ::-1][:, :k]
    live = evals > 1e-10 * max(evals[0], 1e-300)
    V = np.zeros((k, Z.shape[1]))
    V[live] = (U[:, live].T @ Z) / np.sqrt(evals[live])[:, None]
    top = np.abs(V).argmax(1)
    V *= np.where(V[np.arange(k), top] < 0, -1.0, 1.0)[:, None]
    return V


def _codes(X: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Genotype codes 0/1/2 (int8) of the columns ``order`` of dosages ``X``, one float64 temporary."""
    c = X[:, order]
    np.rint(c, out=c)
    np.clip(c, 0, 2, out=c)
    return c.astype(np.int8)


def _kin_quantiles(X: np.ndarray, keep: np.ndarray, qs: list[float]) -> list[float]:
    Z = X[:, keep]  # a copy, centred in place
    Z -= Z.mean(0)
    K = Z @ Z.T / keep.sum()
    iu = np.triu_indices(len(K), 1)
    return list(np.quantile(K[iu], qs))


def _classifier_auc(pc_r: np.ndarray, pc_s: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """Cross-validated AUCs of classifiers telling real from synthetic on the top PCs: logistic and k-NN.

    Both sets of PC scores must be projections on axes fitted without them (see the caller).

    The logistic regression sees only a shift of the two point clouds' means. The k-nearest-neighbour
    classifier (k = 10, five folds) sees any difference: a synthetic cloud in the middle of real clusters,
    a narrower spread, and real individuals whose nearest neighbours are their real relatives (families a
    sampled cohort does not reproduce). Below 0.5 it hints at synthetic points lying on real ones (copies: a
    copy's nearest neighbour is its real twin).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier

    Xc = np.vstack([pc_r, pc_s])
    y = np.r_[np.zeros(len(pc_r)), np.ones(len(pc_s))]
    seed = child_seed(rng)
    out = []
    n_folds = int(min(5, len(pc_r), len(pc_s)))
    if n_folds < 2:
        return np.nan, np.nan
    k = int(min(10, (len(y) * (n_folds - 1)) // n_folds - 1))  # at most the training fold's size less one
    for clf in (LogisticRegression(max_iter=1000), KNeighborsClassifier(n_neighbors=max(k, 1))):
        cv = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
        prob = cross_val_predict(clf, Xc, y, cv=cv, method="predict_proba")[:, 1]
        out.append(_auc(prob[y == 1], prob[y == 0]))
    return out[0], out[1]


def _runs(mask: np.ndarray, slices: list[slice]) -> list[slice]:
    """Return the runs of ``True`` in ``mask`` within each slice, as slices over the columns where it is ``True``."""
    mask = np.asarray(mask, dtype=bool)
    rank = np.cumsum(mask) - mask  # position of each masked column among the masked ones
    out = []
    for sl in slices:
        d = np.diff(np.concatenate([[0], mask[sl].astype(np.int8), [0]]))
        for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True):
            start = int(rank[sl.start + a])
            out.append(slice(start, start + int(b - a)))
    return out


def _privacy(Xr, Xtr, Xs, ho_mask, var, window, n_nb, rng, loci=None) -> tuple[dict, pd.DataFrame]:
    """Privacy statistics.

    ``Xtr`` is ``Xr[~ho_mask]`` (the caller holds it already); ``loci``: SNP mask of the real loci (the local attack
    restricted to them).
    """
    from ._api import chrom_layout

    Xho = Xr[ho_mask]
    d_st = _sqdist(Xs, Xtr)
    d_tt = _sqdist(Xtr, Xtr)
    np.fill_diagonal(d_tt, np.inf)
    nn_tt = d_tt.min(1)
    d_ss = _sqdist(Xs, Xs)
    np.fill_diagonal(d_ss, np.inf)
    dcr_train = d_st.min(1)
    d_all_real = d_st if not ho_mask.any() else np.hstack([d_st, _sqdist(Xs, Xho)])
    p05 = float(np.quantile(nn_tt, 0.05))
    priv = {
        "exact_copies": int((d_all_real.min(1) < 1e-9).sum()),
        "near_copies": int((d_all_real.min(1) < p05).sum()),
        "min_syn_real_dist": float(d_all_real.min()),
        "real_nn_dist_p05": p05,
        "dcr_train_median": float(np.median(dcr_train)),
    }
    # nearest-neighbour adversarial accuracy (Yale et al. 2020), training vs synthetic
    d_ts = d_st.min(0)
    aa_t = np.mean(d_ts > nn_tt)
    aa_s = np.mean(dcr_train > d_ss.min(1))
    priv["nn_adversarial_accuracy"] = float(0.5 * (aa_t + aa_s))
    kinds = [("syn->train", dcr_train), ("real->real", nn_tt)]
    order, slices, _, _ = chrom_layout(var)
    codes_r, codes_s = _codes(Xr, order), _codes(Xs, order)
    share = window_match_share(codes_r, codes_s, slices, window)
    if ho_mask.any():
        d_sh = _sqdist(Xs, Xho)
        priv["dcr_holdout_median"] = float(np.median(d_sh.min(1)))
        kinds.append(("syn->holdout", d_sh.min(1)))
        # membership inference: training members should not be closer to the synthetic cohort
        d_rs = np.concatenate([d_st.min(0), d_sh.min(0)])
        is_tr = np.r_[np.ones((~ho_mask).sum(), bool), np.zeros(ho_mask.sum(), bool)]
        priv["mia_auc_nn"] = _auc(-d_rs[is_tr], -d_rs[~is_tr])
        sh = np.concatenate([share[~ho_mask], share[ho_mask]])
        # no whole window on any chromosome (window longer than each): no attack to measure
        n_windows = sum(max(0, (sl.stop - sl.start) // window) for sl in slices)
        priv["mia_auc_window"] = _auc(sh[is_tr], sh[~is_tr]) if n_windows else np.nan
        # the same attack on the windows of the real loci alone (where a generator may spend more of the data)
        priv["mia_auc_window_loci"], priv["windows_loci"] = np.nan, 0
        if loci is not None and loci.any():
            lm = np.asarray(loci, dtype=bool)[order]
            runs = _runs(lm, slices)
            priv["windows_loci"] = int(sum(max(0, (r.stop - r.start) // window) for r in runs))
            if priv["windows_loci"]:
                sh_l = window_match_share(codes_r[:, lm], codes_s[:, lm], runs, window)
                priv["mia_auc_window_loci"] = _auc(sh_l[~ho_mask], sh_l[ho_mask])
        # the same segment statistic between holdout and training individuals (real-real baseline)
        d_ht = _sqdist(Xho, Xtr)
        nb = np.argsort(d_ht, axis=1)[:, :n_nb]
        cr_tr, cr_ho = codes_r[~ho_mask], codes_r[ho_mask]
        priv["longest_identical_segment_real"] = int(
            np.median([max(longest_identical_run(cr_ho[i], cr_tr[j], slices) for j in nb[i]) for i in range(len(nb))])
        )
    else:
        priv["dcr_holdout_median"] = np.nan
        priv["mia_auc_nn"] = np.nan
        priv["mia_auc_window"] = np.nan
        priv["mia_auc_window_loci"], priv["windows_loci"] = np.nan, 0
        priv["longest_identical_segment_real"] = np.nan
    cr_tr = codes_r[~ho_mask]
    nb = np.argsort(d_st, axis=1)[:, :n_nb]
    runs = [max(longest_identical_run(codes_s[i], cr_tr[j], slices) for j in nb[i]) for i in range(len(nb))]
    priv["longest_identical_segment"] = int(np.max(runs))
    priv["longest_identical_segment_median"] = float(np.median(runs))
    priv["window"] = int(window)
    dist_tab = pd.concat([pd.DataFrame({"kind": k, "distance": v}) for k, v in kinds], ignore_index=True)
    return priv, dist_tab


__all__ = ["synthesis_report"]

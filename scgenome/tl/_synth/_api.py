"""``sg.tl.synthesize``: synthetic cohorts from a fitted haplotype-cluster HMM and genetic model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from ..._logging import logger
from ..._utils import child_seed, geno_modality, get_rng, pheno_table, to_memory
from ..._validation import check_dosages, check_nonempty, check_var_columns
from .._gwas._api import _design, _gwas_compute, _GwasResult
from ._hmm import chain_tables, fit_hmm, sample_hmm
from ._pheno import centred_snps, copula_fit, copula_sample, fit_pheno, is_binary, kinship_eig, sample_pheno
from ._structure import detect_populations

if TYPE_CHECKING:
    from collections.abc import Sequence

    from anndata import AnnData
    from mudata import MuData


#: GWAS p-value thresholds of the synthesis report, whose hit classes the locus statistics keep by default
HIT_THRESHOLDS = (1e-8, 5e-8, 1e-5)
#: ``var`` columns a synthetic cohort keeps: the SNP annotation the io readers write (``read_bimbam``,
#: ``read_plink``). Any other column may be a number computed on the real individuals (GWAS statistics, QC allele
#: frequencies, a user's own HWE p-values) and is dropped unless named in ``annotation_columns``.
SNP_ANNOTATION = ("chrom", "pos", "cm", "allele1", "allele0")


# ----------------------------------------------------------------------------------------------- helpers
def _dense(X) -> np.ndarray:
    """Dense float64 copy of a genotype matrix (numpy, scipy sparse, dask, or a backed HDF5/zarr array)."""
    X = to_memory(X)
    return np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)


def _in_memory(adata: AnnData) -> AnnData:
    """``adata`` itself, or for backed genotypes (``read_h5ad(..., backed="r")``) a light in-memory AnnData.

    Backed genotypes (a backed AnnData, or the genotype modality of a backed MuData) are read once: a CSR/CSC ``X``
    as the scipy sparse matrix, a dense one as numpy. The light AnnData shares ``obs`` and ``var`` (nothing else).
    """
    import scipy.sparse as sp
    from anndata import AnnData

    X = adata.X
    in_memory = X is None or isinstance(X, np.ndarray) or sp.issparse(X) or hasattr(X, "compute")
    if in_memory and not getattr(adata, "isbacked", False):
        return adata
    return AnnData(to_memory(X), obs=adata.obs, var=adata.var)


def _check_int(name: str, value, lo: int, hi: int | None = None) -> int:
    """``value`` as an ``int``; raise unless it is a whole number (not a bool or a string) in ``[lo, hi]``."""
    ok = isinstance(value, int | np.integer | float | np.floating) and not isinstance(value, bool | np.bool_)
    if ok and isinstance(value, float | np.floating):
        ok = bool(np.isfinite(value)) and float(value).is_integer()
    if not ok:
        msg = f"{name} must be an integer, got {value!r}."
        raise ValueError(msg)
    v = int(value)
    if v < lo or (hi is not None and v > hi):
        what = f"at least {lo}" if hi is None else f"between {lo} and {hi}"
        msg = f"{name} must be {what}, got {value!r}."
        raise ValueError(msg)
    return v


def _check_float(
    name: str, value, lo: float = -np.inf, hi: float = np.inf, *, lo_open: bool = False, hi_open: bool = False
) -> float:
    """Raise unless ``value`` is a finite number (not a bool or a string) in the interval from ``lo`` to ``hi``."""
    ok = isinstance(value, int | np.integer | float | np.floating) and not isinstance(value, bool | np.bool_)
    v = float(value) if ok else np.nan
    if not (np.isfinite(v) and (lo < v if lo_open else lo <= v) and (v < hi if hi_open else v <= hi)):
        if lo == 0 and hi == np.inf:
            what = "a positive finite number" if lo_open else "a non-negative finite number"
        else:
            what = f"a number in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        msg = f"{name} must be {what}, got {value!r}."
        raise ValueError(msg)
    return v


def _check_bool(name: str, value) -> None:
    """Raise unless ``value`` is ``True`` or ``False`` (a string such as ``"no"`` would count as true)."""
    if not isinstance(value, bool | np.bool_):
        msg = f"{name} must be True or False, got {value!r}."
        raise ValueError(msg)


def mean_impute(X: np.ndarray, miss: np.ndarray | None = None) -> np.ndarray:
    """``X`` with missing values (``miss``, default NaN) set to their column's mean; 0 in columns without a value."""
    miss = np.isnan(X) if miss is None else miss
    if not miss.any():
        return X
    means = np.where(miss, 0.0, X).sum(0) / np.maximum((~miss).sum(0), 1)
    return np.where(miss, means.astype(X.dtype, copy=False), X)


def chrom_layout(var: pd.DataFrame) -> tuple[np.ndarray, list[slice], np.ndarray, str]:
    """Order SNPs by chromosome and map position; return (order, chromosome slices, distance, unit).

    The distance of each SNP to the previous one on its chromosome uses ``cm`` when complete, else
    ``pos`` in Mb (taken as about 1 cM/Mb... the jump rate is fitted anyway), else the SNP index.
    """
    chrom = var["chrom"].astype(str).to_numpy()
    cm = pd.to_numeric(var["cm"], errors="coerce").to_numpy(dtype=float) if "cm" in var else np.full(len(var), np.nan)
    pos = (
        pd.to_numeric(var["pos"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if "pos" in var
        else np.full(len(var), np.nan)
    )
    if np.isfinite(cm).all():
        coord, unit = cm, "cM"
    elif np.isfinite(pos).all():
        coord, unit = pos / 1e6, "Mb"
    else:
        coord, unit = np.arange(len(var), dtype=float) * 0.05, "index"
    chroms = list(dict.fromkeys(chrom))
    order, slices, start = [], [], 0
    for c in chroms:
        idx = np.where(chrom == c)[0]
        idx = idx[np.argsort(coord[idx], kind="stable")]
        order.append(idx)
        slices.append(slice(start, start + len(idx)))
        start += len(idx)
    order = np.concatenate(order)
    c_sorted = coord[order]
    dist = np.diff(c_sorted, prepend=c_sorted[0])
    for sl in slices:
        dist[sl.start] = 0.0
    dist = np.maximum(dist, 1e-3)
    for sl in slices:
        dist[sl.start] = 0.0
    return order, slices, dist, unit


def structure_groups(
    X: np.ndarray, n_groups: int, min_group_size: int, rng: np.random.Generator, n_pcs: int = 10
) -> np.ndarray:
    """K-means groups on the top genotype PCs; groups below ``min_group_size`` merge into the nearest one."""
    n = X.shape[0]
    if n_groups <= 1 or n < 2 * max(min_group_size, 1):
        return np.zeros(n, dtype=np.int64)
    from scipy.sparse.linalg import svds
    from sklearn.cluster import KMeans

    Xc = X - X.mean(0)
    k = min(max(n_pcs, n_groups), min(Xc.shape) - 1)
    U, S, _ = svds(Xc, k=k, random_state=child_seed(rng))
    scores = U * S
    km = KMeans(n_clusters=n_groups, n_init=4, random_state=child_seed(rng)).fit(scores)
    lab = km.labels_.copy()
    cent = km.cluster_centers_
    while True:
        sizes = np.bincount(lab, minlength=cent.shape[0])
        alive = np.where(sizes > 0)[0]
        small = [g for g in alive if sizes[g] < min_group_size]
        if not small or len(alive) == 1:
            break
        g = min(small, key=lambda g: sizes[g])
        others = [h for h in alive if h != g]
        h = others[int(np.argmin(((cent[others] - cent[g]) ** 2).sum(1)))]
        lab[lab == g] = h
    _, lab = np.unique(lab, return_inverse=True)
    return lab.astype(np.int64)


def clump(pval: np.ndarray, coord: np.ndarray, chrom: np.ndarray, threshold: float, window: float) -> np.ndarray:
    """Greedy clumping: the most significant SNP below ``threshold`` leads; SNPs within ``window`` join it."""
    order = np.argsort(np.where(np.isnan(pval), np.inf, pval), kind="stable")
    leads: list[int] = []
    for j in order:
        if not pval[j] < threshold:
            break
        if any(chrom[i] == chrom[j] and abs(coord[i] - coord[j]) < window for i in leads):
            continue
        leads.append(int(j))
    return np.array(leads, dtype=np.int64)


def gwas_result(gdata: AnnData, phenotype: str, covariates: Sequence[str] | None, method: str) -> _GwasResult:
    """:func:`scgenome.tl.gwas` with its defaults, nothing written: the full internal result (kinship eigenpairs)."""
    return _gwas_compute(gdata, phenotype, covariates=list(covariates) if covariates else None, method=method)


def run_gwas(gdata: AnnData, phenotype: str, covariates: Sequence[str] | None, method: str) -> tuple:
    """Run :func:`scgenome.tl.gwas` (nothing written); return (p_wald, beta, wald_t, null_model dict).

    ``wald_t = beta / se`` is the signed Wald statistic (``F = t^2``), exact where the p-value is below what
    ``F.isf`` inverts (about 1e-16).
    """
    out = gwas_result(gdata, phenotype, covariates, method)
    return _gwas_arrays(out)


def _gwas_arrays(out: _GwasResult) -> tuple:
    """(p_wald, beta, wald_t, null_model dict) of a GWAS result (see :func:`run_gwas`)."""
    pv = out.res["pval"]
    beta = out.res["beta"]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = beta / out.res["se"]
    return pv, beta, t, dict(out.info.get("null_model", {}))


def _same_kinship(gw: _GwasResult, snp_idx: np.ndarray, rows: np.ndarray) -> bool:
    """Whether the GWAS result ``gw`` analysed exactly ``rows`` and tested exactly the SNPs ``snp_idx``."""
    return np.array_equal(np.flatnonzero(gw.rows), rows) and np.array_equal(gw.tested, snp_idx)


def _coords(var: pd.DataFrame) -> np.ndarray:
    order, _slices, dist, _ = chrom_layout(var)
    coord = np.empty(len(var))
    cs = np.cumsum(dist)
    coord[order] = cs
    return coord


# ----------------------------------------------------------------------------------------------- API
def synthesize(
    gdata: AnnData | MuData,
    *,
    phenotypes: str | Sequence[str] | None = None,
    covariates: str | Sequence[str] | None = None,
    n_individuals: int | None = None,
    method: Literal["hmm"] = "hmm",
    n_states: int = 8,
    recombination_scale: float = 1.0,
    emission_noise: float = 0.1,
    n_groups: int = 8,
    min_group_size: int = 50,
    populations: str | int | None = "auto",
    population_scope: Literal["loci", "genome"] = "loci",
    group_pooling: float = 1.0,
    match_heterozygosity: bool = True,
    min_cluster_size: float = 5.0,
    lead_pvalue: float = 1e-5,
    lead_window: float = 5.0,
    locus_pvalue: float = 1.0,
    exact_effects: bool = True,
    hit_thresholds: Sequence[float] = HIT_THRESHOLDS,
    subthreshold_pvalue: float = 1e-4,
    match_pve: bool = True,
    polygenic: Literal["mean", "draw"] = "mean",
    gwas_method: Literal["lmm", "linear"] = "lmm",
    n_iter: int = 6,
    annotation_columns: Sequence[str] = (),
    mod: tuple[str, str] = ("geno", "pheno"),
    rng: int | np.random.Generator | None = None,
) -> AnnData | MuData:
    """Synthetic cohort: genotypes sampled from a fitted haplotype-cluster HMM, phenotypes from a genetic model.

    Parameters
    ----------
    gdata
        Real genotype AnnData (individuals x SNPs; ``var`` with ``chrom`` and ``cm`` and/or ``pos``), or a
        MuData with genotype and phenotype modalities (names in ``mod``). ``X`` holds dosages in [0, 2] (NaN for a
        missing call; anything else, such as -1 or -9 for missing or a 1/2/3 coding, is an error; non-integer
        dosages are rounded), dense, scipy sparse, dask or backed (``read_h5ad(..., backed="r")``): any of them is
        read into memory once, as a dense float64 copy (8 bytes per genotype; the HMM and the phenotype model
        need every SNP of every individual at once).
    phenotypes
        Phenotype column(s) of ``obs`` (of the phenotype modality: its ``var_names`` or ``obs``) to model. Neither
        they nor the covariates may be named ``synth_group`` or ``synth_population`` (columns of the output).
    covariates
        Covariate column(s) (binary or quantitative) drawn jointly through a Gaussian copula; the phenotype
        models adjust for them.
    n_individuals
        Synthetic cohort size, a positive integer (default: as many as the input). The locus statistics are the
        real ones scaled by ``sqrt(n_synthetic / n_real)`` (see ``exact_effects``), their estimation noise
        included: a cohort larger than the input scales that noise up too, and the loci reproduce it less well
        (simulated, 360 training individuals, LMM locus ``t`` RMS error 0.06 at 360 synthetic, 0.15 at 500, 0.22
        at 800, where the loci fell back to their SNPs with p < 1e-3). Compare a synthetic cohort of the
        input's size with the real GWAS, as :func:`~scgenome.tl.synthesis_report`'s floor does.
    method
        Generator: ``"hmm"`` (diploid haplotype-cluster HMM).
    n_states
        Privacy knob: number of haplotype clusters ``K`` per locus, an integer of at least 2 (8 suits a cross of
        8 founder strains;
        the fit costs ``K^2`` per locus). More states reproduce finer LD (utility) and bring synthetic
        genomes closer to real ones (privacy).
    recombination_scale
        Privacy knob: multiplies the switching (off-diagonal) part of the cluster transitions when
        sampling (positive). Above 1, synthetic haplotypes switch cluster more often: shorter shared segments
        (privacy) and weaker long-range LD (utility).
    emission_noise
        Privacy knob: Beta pseudo-count (haplotypes) pulling each cluster's allele frequency towards the
        locus' frequency (positive); larger adds per-SNP noise (privacy) and weakens LD (utility).
    n_groups
        Population-structure groups, an integer from 1 to the number of individuals (k-means on the top
        ``max(10, n_groups)`` genotype PCs; a cohort of fewer than ``2 * min_group_size`` is one group); each has
        its own cluster transitions along the genome, which reproduces genome-wide structure (relatedness, PCs
        and the structure-driven hits of a linear-model GWAS).
    min_group_size
        Privacy knob: groups smaller than this (a positive integer) merge into their nearest group (no
        family-sized groups); also the smallest population ``populations`` may fit apart.
    populations
        Differentiated populations: an ``obs`` column of labels (ancestry, strain; missing labels are an error) or
        a number of k-means clusters on the top genotype PCs (clusters smaller than ``min_group_size`` merge into
        the nearest one). Clusters shared by populations that carry different haplotypes average their allele
        frequencies, which weakens the LD within each population (three simulated populations of F_ST 0.05:
        within-population r^2 of adjacent SNPs 0.233 shared, 0.307 apart, 0.330 real) and with it the LD around
        the association loci, which the phenotype model then over-compensates. How the populations are used is
        ``population_scope``; the synthetic individuals come from the populations in their training proportions
        (``synth_population`` in ``obs``; exact counts up to rounding, in random order). ``"auto"`` (default):
        detect discrete populations on the training genotypes and, where found, use them as with a number of
        clusters: k-means on the top ``max(P - 1, 2)`` genotype PCs for ``P`` = 2 to 10, the largest ``P`` whose
        mean silhouette reaches 0.70 (Kaufman & Rousseeuw's "strong structure") with every cluster of at least
        ``min_group_size`` individuals; else one population, and the cohort is exactly the one ``None`` gives (same
        seed, same genotypes and phenotypes). Relatives and families (HS1940), admixture clines and LD do not
        form such clusters; the number found, the silhouettes and the sizes are logged and stored in
        ``uns["synthesis"]["population_detection"]``. ``None``: one model, no populations (population structure
        is then pulled towards the centre of the real PCs: on the demo's three populations PC1 SD ratio 0.53,
        k-NN AUC 0.94).
    population_scope
        With ``populations``: ``"loci"`` (default) keeps one shared model over the genome, its structure groups
        nested in the populations (``n_groups`` shared out by population size, each group's transitions pooled by
        ``group_pooling`` with its own population's groups only), and gives each population its own
        model (fitted on that population's training individuals, on the chromosomes that carry a lead window) in
        the phenotypes' lead windows alone (SNPs within ``lead_window`` of a lead with real p < ``lead_pvalue``);
        each synthetic individual's windows come from its own population's model. ``"genome"``: each population
        its own model everywhere (its own ``n_states`` clusters, allele frequencies and ``n_groups`` structure
        groups), which also gives back the genome-wide structure and LD, but each model sees a fraction of the
        individuals and the genome-wide local-window attack rises with it. Measured on the three-population cohort
        of ``benchmarks/synth_strong_loci.py`` (quantitative trait, seeds 0-2; see the benchmarks page): LMM SNP
        F1 at 1e-8 0.75-0.86 with one model, 0.88-0.92 with ``"genome"`` and 0.90-0.94 with ``"loci"``; local-window
        attack AUC 0.55-0.57, 0.66-0.69 and 0.56-0.57.
    group_pooling
        Privacy knob: each group's cluster transitions are pooled with this many times its share of all
        groups' transitions (non-negative; 0: the group alone, full structure; 1: half within the group). Less pooling
        reproduces more structure (utility) and brings synthetic genomes closer to their group (privacy).
    match_heterozygosity
        Two haplotypes drawn independently from one group's chain share clusters more often than a real
        individual's two, which lowers heterozygosity; with ``True`` the second haplotype is steered away
        from the first one's cluster by the factor (``uns["synthesis"]["hmm"]["pair_repulsion"]``) at
        which trial cohorts match the real mean heterozygosity.
    min_cluster_size
        Privacy knob: a cluster carried by fewer training haplotypes (expected count; non-negative) at a locus
        cannot be entered there.
    lead_pvalue
        Real-GWAS p-value below which clumped lead SNPs become fixed effects of the phenotype model, in (0, 1).
        Looser than 1e-3 logs a warning: the loci of many weak leads may take too much of the genetic variance.
    lead_window
        Clumping window (in the map unit: cM, else Mb) around each lead SNP (positive).
    locus_pvalue
        SNPs within ``lead_window`` of a lead with real p below this (in (0, 1]) form the lead locus: they enter the
        phenotype model as fixed effects with calibrated statistics, at most one per 10 phenotyped
        individuals in each locus (the strongest first). The default 1 takes every SNP of the window: the
        whole local association profile is reproduced, including the SNPs near (but not past) the
        threshold and the LD neighbours whose statistics would otherwise follow the synthetic LD alone
        (see the benchmarks page for the measured effect). Where re-solving them (their statistics' noise
        included) takes all the genetic variance, as in small cohorts, the loci fall back to their SNPs with
        p < 1e-3 (``locus_pvalue_used`` in ``phenotype_models``).
    exact_effects
        Re-solve the locus effects on the synthetic genotypes so that each locus SNP's LMM Wald statistic (the
        linear model's with ``gwas_method="linear"``) equals its real one scaled by ``sqrt(n_synthetic / n_real)``
        (complete cases of each: the evidence a cohort of the synthetic size would carry), with the polygenic term
        and noise GLS-orthogonal (orthogonal) to the covariates and locus SNPs; six (sixteen) calibration rounds
        then run the Wald test of :func:`scgenome.tl.gwas` on the locus SNPs and correct the remaining error (``locus_t_rms_error``
        in ``phenotype_models``). Binary traits get the same on their latent trait; cutting it adds noise of
        about ``sqrt(1 - a^2)`` to each statistic (``a`` the attenuation, see Notes), which the calibration then
        lowers by swapping the labels of case/control pairs near the cut (the prevalence kept), steering the
        statistics of the locus SNPs and of the lead windows' other SNPs (``label_swaps``, ``label_swap_snps``
        in ``phenotype_models``). The real association profile at the loci is reproduced; elsewhere the
        synthetic GWAS has fresh noise. Locus SNPs constant among the synthetic individuals (or in the span of
        their covariates) leave the locus (``locus_snps_constant``); with fewer than 10 synthetic individuals
        carrying a value, or covariates without variation among them, nothing is matched (neither statistics
        nor PVE): the fitted model is sampled as it is.
    hit_thresholds
        GWAS p-value thresholds whose hit classes the locus statistics keep (with ``exact_effects``): a target
        statistic within 0.1 of one of them (as a Wald ``|t|`` at the synthetic cohort's degrees of freedom)
        is moved to 0.1 on its own side, so that the calibration's remaining error (RMS 0.05-0.1) does not
        turn a real hit that sits on the threshold into a synthetic miss or the reverse
        (``hit_margin_snps`` in ``phenotype_models``). A binary trait's statistics miss their targets by more
        (0.1-0.5 after the label swaps), so its calibration score and label swaps also weigh how far each
        statistic lies on the wrong side of a threshold (0.05 inside its target's class), 100 times its squared
        error. The default are the thresholds of :func:`~scgenome.tl.synthesis_report`; ``()`` matches the
        statistics alone.
    subthreshold_pvalue
        With ``exact_effects``, a quantitative trait's SNPs outside the lead windows with real p below this
        are calibrated as well (clumped, each clump a locus of its own, at most one SNP per 10 phenotyped
        individuals per clump; ``subthreshold_snps`` in ``phenotype_models``, also listed in ``locus_snps``):
        a real region just under a hit threshold keeps its statistics instead of fresh synthetic noise, which
        would carry some such regions over the threshold (false loci) and leave others under it. ``0`` turns
        this off.
    match_pve
        Quantitative phenotypes: set the polygenic scale so that the synthetic cohort's null-model REML
        PVE (on its own kinship, as :func:`scgenome.tl.gwas` estimates it) equals the real one (a bracket,
        then Brent's method: about 6 null-model fits), with the noise scaled to keep the phenotypic variance
        (``noise_scale_pve`` in ``phenotype_models``): the synthetic ``vg`` and ``ve`` both follow the real
        ones. Binary traits: the PVE of the cut trait is calibrated through the latent trait's (noise fixed,
        unless the loci alone explain more than the latent PVE, as with dense loci: then the latent noise grows
        until the PVE fits, ``noise_scale_pve`` above 1, and the calibration rounds weigh the loci against it).
    polygenic
        SNP effects of the polygenic term: ``"mean"``, their posterior mean given the real data (BLUP: the
        synthetic polygenic term follows the real genetic signal, which with ``n_groups`` structure
        reproduces the structure-driven hits of a linear-model GWAS); ``"draw"``, one posterior draw
        (Matheron's rule: a random polygenic background with the real covariance).
    gwas_method
        The GWAS whose hits the synthetic phenotypes reproduce: ``"lmm"`` (default; GEMMA's ``-lmm``, as
        :func:`scgenome.tl.gwas`) or ``"linear"`` (GEMMA's ``-lm``, the protocol of Gretel's synthetic CFW mice).
        The leads, loci, sub-threshold peaks and target statistics come from that GWAS of the real cohort, and the
        calibration rounds run its Wald test (16 rounds for the linear model, 6 for the LMM); the null model (``vg``,
        ``ve``, PVE, polygenic term) is the LMM's either way. Each reproduces its own hits at the other's expense:
        on a simulated cohort of one population with sibs (2,000 x 10,000, linear-model lambda_GC 2.4;
        ``benchmarks/synth_gwas_method.py``) ``"linear"`` takes the linear-model SNP F1 at 1e-8 from 0.50 to 0.83
        (replication floor 0.76) and the LMM's at 1e-5 from 0.67 to 0.32. Where structure drives the linear model
        (populations, HS1940's families: lambda_GC 4.6-19.4 measured), locus effects cannot reproduce its hits: a
        real linear-model lambda_GC above 3 is a ``ValueError`` before the genotype model is fitted (those hits
        come from the genome's structure, ``n_groups`` and ``group_pooling``, with the default ``"lmm"``). Below
        it, a round may not take the locus variance past twice the larger of the first solve's
        (``locus_var_first``) and the genetic target, and a remaining error above 0.5 (1 for a binary trait; RMS
        of ``t``, ``locus_t_rms_error``) is logged as a warning.
    n_iter
        Most EM iterations of the HMM (a positive integer; it stops earlier when the log-likelihood gains less
        than 1e-4 of itself). Where the fit has not converged, more iterations keep more local LD, at a time
        about linear in them (the EM is most of the fit): HS1940, adjacent-SNP r^2 0.480 at 6 and 0.486 at 8
        (real 0.509); a simulated 300 x 1,500 cohort of weak LD, 0.14 at 6 and 0.19 at 12 (real 0.215).
    annotation_columns
        Further ``var`` columns to copy to the output, beside the SNP annotation of the io readers (``chrom``,
        ``pos``, ``cm``, ``allele1``, ``allele0``), which are always kept when present. Name only annotation that
        does not come from the real individuals (gene, rsid, consequence): every other column (GWAS results such
        as ``gwas_pval``, QC statistics such as ``snp_qc_af``, anything else) is dropped, so that no per-SNP
        number computed on real individuals passes for a synthetic one. Columns written by scgenome's own tools
        (``snp_qc_*``, ``{key}_*`` of a GWAS in ``uns``) are refused.
    mod
        Names of the genotype and phenotype modalities of a MuData.
    rng
        Seed or generator; the same seed gives the same cohort bit for bit.

    Returns
    -------
    A new AnnData (or, for a MuData, a MuData: see the last item) with

    - ``X``: synthetic dosages (0, 1, 2; no missing values, except SNPs without a single observed genotype in
      the input, which stay missing), a dense numpy array whatever the input's layout (sparse, dask, backed),
      in the input's dtype when it is a float dtype (float16, float32, float64) and float32 otherwise (integer
      dosages such as int8 or uint8: the missing SNPs need NaN);
    - ``var``: the input's SNPs (``var_names``) with its SNP annotation columns only (``chrom``, ``pos``, ``cm``,
      ``allele1``, ``allele0`` where present, and ``annotation_columns``), in the input's order; no per-SNP
      result of the real data (GWAS, QC) is carried over (their names under ``uns["synthesis"]["var_dropped"]``);
      nor are the input's ``uns``, ``obsm``, ``varm``, ``obsp`` or ``layers``, except the provenance below;
    - ``obs``: synthetic ids ``syn0, syn1, ...``, the phenotype and covariate columns (float64; missing values
      follow whole rows of the real missingness pattern), ``synth_group`` (structure group) and, with
      ``populations``, ``synth_population``;
    - ``uns["synthesis"]``:

      - ``params``: the options (``method``, ``n_states``, ``recombination_scale``, ``emission_noise``,
        ``n_groups``, ``min_group_size``, ``group_pooling``, ``match_heterozygosity``, ``min_cluster_size``,
        ``lead_pvalue``, ``lead_window``, ``hit_thresholds``, ``subthreshold_pvalue``, ``locus_pvalue``,
        ``exact_effects``, ``match_pve``, ``polygenic``, ``gwas_method``, ``n_iter``, ``phenotypes``,
        ``covariates``, and unless ``populations=None`` also ``populations`` and ``population_scope``; not
        ``n_individuals``, the output's ``n_obs``, nor ``mod`` and ``rng``) and ``n_real``, the number of real
        individuals;
      - ``phenotype_models``, per phenotype: ``binary``, ``vg``, ``ve`` and ``pve`` (the real null model),
        ``prevalence`` (binary traits; NaN otherwise), ``lead_snps``, ``locus_snps`` (the SNPs whose effects are
        fixed, ``subthreshold_snps`` included), ``subthreshold_snps``, ``locus_effects_gls``,
        ``covariate_effects`` (per covariate), ``locus_var_real`` (the loci's variance in the real fit),
        ``genetic_var_target``, ``locus_var``, ``polygenic_scale``, ``residual_scale`` (a quantitative trait's
        scale matching the synthetic null model's ``vg`` and ``ve`` to the real ones; 1 for binary traits),
        ``locus_pvalue_used``; with locus statistics matched (``exact_effects``, locus SNPs, at least 10
        synthetic individuals with a value) ``locus_ridge`` (per locus) and ``locus_joint`` (the loci solved
        jointly), ``hit_margin_snps``, ``locus_t_rms_error_first`` and ``locus_t_rms_error`` (calibration errors
        before and after the rounds), ``locus_var_first`` (the loci's variance before the rounds), and for
        binary traits ``label_swaps`` and ``label_swap_snps``; with a PVE matched (``match_pve``, as many
        individuals) ``polygenic_scale_pve`` and ``noise_scale_pve``, and for binary traits ``pve_error``;
        ``locus_snps_constant`` where any;
      - ``hmm``: fitted jump rate per chromosome (``rho``), ``loglik``, ``n_groups_fitted``, ``pair_repulsion``;
        with ``populations``, their names under ``populations``; ``population_scope="genome"``: ``rho`` and
        ``pair_repulsion`` per population; ``"loci"``: the shared model's, and ``population_snps`` (SNPs in
        the lead windows), ``population_chromosomes`` (chromosomes the population models are fitted on),
        ``population_rho`` and ``population_pair_repulsion`` per population;
      - ``map_unit``: ``"cM"``, ``"Mb"`` or ``"index"`` (the map distances the HMM and the windows use);
      - ``var_dropped``: the input's ``var`` columns left out of the output's ``var``;
      - ``population_detection`` (``populations="auto"``): ``method``, ``min_silhouette``, ``n_populations``
        (1: none found), ``silhouette`` (per number of populations tried), ``eigenvalues`` (top genotype PCs,
        GRM scale), ``sizes`` (training individuals per population found).

    For a MuData input, a MuData with two modalities (names in ``mod``): the genotype modality is the AnnData
    above (its ``obs`` with every column, ``uns["synthesis"]`` included), and the phenotype modality's ``X``
    (float64) holds the phenotype columns, then the covariate columns (``var_names`` in that order; the
    covariates go there whether they came from the phenotype modality's ``X`` or its ``obs``), its ``obs``
    without columns.

    Notes
    -----
    Genotypes: the diploid haplotype-cluster HMM of fastPHASE (Scheet & Stephens 2006) per chromosome,
    fitted by Baum-Welch on the unphased genotypes: each of an individual's two haplotypes walks
    through ``K`` clusters, jumping with probability ``1 - exp(-rho d)`` over the genetic distance ``d``
    to a cluster drawn from a group-specific distribution; cluster ``k`` carries the counted allele
    with probability ``theta[l, k]``. Synthetic haplotypes are SAMPLED, never copied: the cluster path
    from a non-homogeneous Markov chain whose transitions are the training haplotypes' expected
    cluster transitions of its structure group, pooled with all groups' by ``group_pooling`` (so cluster
    and allele frequencies follow the fit), with the second haplotype steered away from the first one's
    cluster as far as the real heterozygosity asks (``match_heterozygosity``), then each allele from its
    cluster's frequency; a genotype is the sum of two haplotypes. Phenotypes: the LMM of Zhou & Stephens
    (2012) fitted by :func:`scgenome.tl.gwas` gives ``vg`` and ``ve``; clumped lead SNPs enter as fixed
    effects (GLS), the polygenic SNP effects are their posterior mean (or one draw, ``polygenic``), the
    residual is ``N(0, ve)``; each phenotype is built on the synthetic individuals that carry a value
    (whole rows of the real phenotype and covariate missingness pattern). Binary traits are a latent trait
    built the same way, with the real Wald statistics divided by the dichotomisation attenuation
    ``a = phi(t) / sqrt(p (1 - p))`` and the PVE by ``a^2``, cut at the real prevalence ``p``
    (liability-threshold model). Covariates: Gaussian copula with the real marginals.

    With the defaults (8 groups, half-pooled; discrete populations detected and kept) the synthetic cohort keeps the
    LMM hits, allele frequencies, LD and PVE, the populations, and about half of the remaining between-group
    structure. Cohorts whose linear-model GWAS is driven
    by relatedness (HS1940: lambda_GC about 19) need the structure-preserving setting
    ``n_groups=20, group_pooling=0.1, min_group_size=10, min_cluster_size=15, recombination_scale=1.5``,
    at a measured privacy cost (see the synthesis tutorial).

    Examples
    --------
    >>> import scgenome as sg
    >>> real = sg.datasets.simulate_cohort(n_individuals=200, n_snps=300, rng=0)
    >>> syn = sg.tl.synthesize(real, phenotypes="pheno", covariates=["sex"], n_states=8, n_iter=3, rng=0)
    >>> syn.shape == real.shape
    True
    """
    from anndata import AnnData

    # ---------------- validation (nothing is written to the input)
    is_mu = not isinstance(gdata, AnnData)
    if is_mu:
        geno = geno_modality(gdata, mod)
        ptab = pheno_table(gdata, mod[1], geno.obs_names)
    else:
        geno = gdata
        ptab = geno.obs
    check_nonempty(geno, "genotype AnnData")
    check_var_columns(geno, ["chrom"])
    n = geno.n_obs
    if polygenic not in ("mean", "draw"):
        msg = f"polygenic must be 'mean' or 'draw', got {polygenic!r}."
        raise ValueError(msg)
    if gwas_method not in ("lmm", "linear"):
        msg = f"gwas_method must be 'lmm' or 'linear', got {gwas_method!r}."
        raise ValueError(msg)
    if method != "hmm":
        msg = f"method={method!r} is not supported; use 'hmm'."
        raise ValueError(msg)
    if population_scope not in ("loci", "genome"):
        msg = f"population_scope must be 'loci' or 'genome', got {population_scope!r}."
        raise ValueError(msg)
    # the integer knobs (whole numbers: not a bool, 2.5 or "20") and the real-valued ones in their documented ranges
    m = _check_int("n_individuals", n_individuals, 1) if n_individuals is not None else n
    n_states = _check_int("n_states", n_states, 2)
    n_iter = _check_int("n_iter", n_iter, 1)
    n_groups = _check_int("n_groups", n_groups, 1)
    min_group_size = _check_int("min_group_size", min_group_size, 1)
    if n_groups > n and n >= 2 * min_group_size:  # (a cohort under 2 * min_group_size is one group, unclustered)
        msg = f"n_groups must be at most the number of individuals ({n}), got {n_groups}."
        raise ValueError(msg)
    _check_populations(geno, ptab, populations, min_group_size)
    var_keep = _annotation_columns(geno, annotation_columns)
    for name, v in [("recombination_scale", recombination_scale), ("emission_noise", emission_noise)]:
        _check_float(name, v, 0.0, lo_open=True)
    for name, v in [("group_pooling", group_pooling), ("min_cluster_size", min_cluster_size)]:
        _check_float(name, v, 0.0)
    _check_float("lead_pvalue", lead_pvalue, 0.0, 1.0, lo_open=True, hi_open=True)
    _check_float("lead_window", lead_window, 0.0, lo_open=True)
    _check_float("locus_pvalue", locus_pvalue, 0.0, 1.0, lo_open=True)
    _check_float("subthreshold_pvalue", subthreshold_pvalue, 0.0, 1.0, hi_open=True)
    for name, v in [
        ("match_heterozygosity", match_heterozygosity),
        ("exact_effects", exact_effects),
        ("match_pve", match_pve),
    ]:
        _check_bool(name, v)
    hit_thresholds = tuple(float(x) for x in np.atleast_1d(np.asarray(hit_thresholds, dtype=float)))
    if not all(0.0 < x < 1.0 for x in hit_thresholds):
        msg = f"hit_thresholds must be p-values in (0, 1), got {hit_thresholds}."
        raise ValueError(msg)
    phenotypes = [phenotypes] if isinstance(phenotypes, str) else list(phenotypes or [])
    covariates = [covariates] if isinstance(covariates, str) else list(covariates or [])
    phenotypes, covariates = list(dict.fromkeys(phenotypes)), list(dict.fromkeys(covariates))
    missing = [c for c in phenotypes + covariates if c not in ptab.columns]
    if missing:
        msg = f"Phenotype/covariate column(s) {missing} not found; available: {list(ptab.columns)}."
        raise ValueError(msg)
    clash = [c for c in phenotypes + covariates if c in ("synth_group", "synth_population")]
    if clash:
        msg = (
            f"Phenotype/covariate column(s) {clash} clash with the columns synthesize writes to the output's obs "
            "(synth_group, synth_population); rename them."
        )
        raise ValueError(msg)
    for c in phenotypes + covariates:
        if not pd.api.types.is_numeric_dtype(ptab[c]):
            msg = f"Column {c!r} must be numeric (0/1 for binary), got dtype {ptab[c].dtype}."
            raise ValueError(msg)
        if np.isinf(ptab[c].to_numpy(dtype=float)).any():
            msg = f"Column {c!r} has infinite values; mark missing values as NaN."
            raise ValueError(msg)
    both = sorted(set(phenotypes) & set(covariates))
    if both:
        msg = f"Column(s) {both} are listed both as phenotypes and as covariates."
        raise ValueError(msg)
    # backed genotypes (read_h5ad(..., backed="r"), or a backed MuData's genotype modality): read into memory once
    geno = _in_memory(geno)
    for ph in phenotypes:
        # the GWAS inside needs enough complete rows, a varying phenotype and non-collinear covariates: checked
        # here, before the genotype model is fitted
        _design(_gwas_view(geno, ptab, ph, covariates), ph, covariates)
    # the genotypes: dosages in [0, 2] or NaN (a -1 or -9 for a missing call, or 1/2/3 coding, would be clipped)
    X = _dense(geno.X)
    check_dosages(X, names=geno.var_names, what="genotypes")
    if phenotypes and lead_pvalue > 1e-3:
        logger.warning(
            "lead_pvalue=%g is looser than 1e-3: the clumped leads (and their loci) become fixed effects and may take "
            "too much of the genetic variance, leaving little to the polygenic term.",
            lead_pvalue,
        )
    real_gwas: dict = {}  # phenotype -> its LMM; (phenotype, "linear") -> its linear model
    if gwas_method == "linear":
        # checked before the genotype model is fitted: a linear model inflated by structure cannot be reproduced
        for ph in phenotypes:
            gl = real_gwas[ph, "linear"] = gwas_result(_gwas_view(geno, ptab, ph, covariates), ph, covariates, "linear")
            lam = float(gl.info["lambda_gc"])
            if lam > LINEAR_MAX_LAMBDA:
                msg = (
                    f"gwas_method='linear': the linear-model GWAS of {ph!r} has lambda_GC {lam:.2f} (above "
                    f"{LINEAR_MAX_LAMBDA}): its hits come from population structure or relatedness, which locus "
                    "effects cannot reproduce (the calibration would miss them and take minutes). Use "
                    "gwas_method='lmm' (the default); the linear-model hits of such a cohort come from the genome's "
                    "structure (n_groups, group_pooling)."
                )
                raise ValueError(msg)
    rng = get_rng(rng)

    # ---------------- genotypes
    miss = np.isnan(X)
    codes = np.where(miss, 3, np.clip(np.rint(np.nan_to_num(X)), 0, 2)).astype(np.int8)
    order, slices, dist, unit = chrom_layout(geno.var)
    # SNPs without any observed genotype: imputed with 0 (no variation) for the structure and the kinships, and
    # missing in the synthetic cohort (there is nothing to sample them from)
    unobserved = miss.all(0)
    # SNPs with one observed genotype only (monomorphic in the training cohort): the HMM's smoothed emissions would
    # give them a rare other genotype; they keep their one value
    lo = np.where(miss, 3, codes).min(0)
    mono = ~unobserved & (lo == np.where(miss, -1, codes).max(0))
    mono_value = lo[mono].astype(np.float64)
    Ximp = mean_impute(X, miss)
    del X, miss  # the working copies held below are Ximp (float64), the codes (int8) and the synthetic Xs
    pop_codes, pop_names, detected = _population_labels(Ximp, geno, ptab, populations, min_group_size)
    hmm_kw = {
        "n_groups": n_groups,
        "min_group_size": min_group_size,
        "n_states": n_states,
        "emission_noise": emission_noise,
        "n_iter": n_iter,
        "recombination_scale": recombination_scale,
        "min_cluster_size": min_cluster_size,
        "group_pooling": group_pooling,
        "match_heterozygosity": match_heterozygosity,
    }
    ordered = codes[:, order]
    del codes
    coord = _coords(geno.var)
    chrom = geno.var["chrom"].astype(str).to_numpy()
    if pop_codes is None:
        scodes, syn_group, hmm_info = _genotypes(ordered, Ximp, dist, slices, m, rng, **hmm_kw)
        syn_pop = None
    elif population_scope == "loci":
        # one shared model over the genome, each population's own model in the phenotypes' lead windows (the real
        # GWAS run here, before the genotypes, and kept for the phenotype models below)
        local = np.zeros(geno.n_vars, dtype=bool)
        for ph in phenotypes:
            real_gwas[ph] = gwas_result(_gwas_view(geno, ptab, ph, covariates), ph, covariates, "lmm")
            # (with gwas_method="linear" its linear model ran at the check above)
            pv_lead = _gwas_arrays(real_gwas[ph, "linear"] if gwas_method == "linear" else real_gwas[ph])[0]
            local |= _lead_windows(pv_lead, coord, chrom, lead_pvalue, lead_window)[1]
        scodes, syn_group, syn_pop, hmm_info = _genotypes_at_loci(
            ordered, Ximp, dist, slices, m, rng, pop_codes, local[order] & ~unobserved[order], **hmm_kw
        )
        hmm_info["populations"] = list(pop_names)
    else:
        # each population its own HMM (clusters, allele frequencies, structure groups); the synthetic individuals
        # drawn from the populations in their real proportions (exact counts, largest remainders: a cohort of the
        # real size has the real populations' sizes, not a multinomial draw of them)
        n_pop = len(pop_names)
        syn_pop = rng.permutation(np.repeat(np.arange(n_pop), _apportion(np.bincount(pop_codes, minlength=n_pop), m)))
        scodes = np.empty((m, len(order)), dtype=np.int8)
        syn_group = np.empty(m, dtype=np.int64)
        parts, offset = [], 0
        for u in range(n_pop):
            sel, rows = pop_codes == u, syn_pop == u
            logger.info("population %r: %d training individuals, %d synthetic", pop_names[u], sel.sum(), rows.sum())
            s_u, g_u, info = _genotypes(ordered[sel], Ximp[sel], dist, slices, int(rows.sum()), rng, **hmm_kw)
            scodes[rows] = s_u
            syn_group[rows] = g_u + offset
            offset += info["n_groups_fitted"]
            parts.append(info)
        hmm_info = {
            "populations": list(pop_names),
            "rho": [p["rho"] for p in parts],
            "loglik": float(sum(p["loglik"] for p in parts)),
            "n_groups_fitted": int(sum(p["n_groups_fitted"] for p in parts)),
            "pair_repulsion": [p["pair_repulsion"] for p in parts],
        }
    Xs = np.empty((m, geno.n_vars), dtype=np.float64)
    Xs[:, order] = scodes
    Xs[:, unobserved] = np.nan
    Xs[:, mono] = mono_value

    # ---------------- covariates (Gaussian copula on the complete rows)
    obs = pd.DataFrame(index=pd.Index([f"syn{i}" for i in range(m)]))
    Wr = ptab[covariates].to_numpy(dtype=float) if covariates else np.zeros((n, 0))
    complete = ~np.isnan(Wr).any(1)
    R, marg = copula_fit(Wr[complete])
    Ws = copula_sample(R, marg, m, rng)
    # missing values: whole rows of the real phenotype and covariate missingness pattern, so that each synthetic
    # GWAS analyses as many complete cases as the real one (phenotypes are built on those rows alone). The rows are
    # drawn without replacement (whole permutations, then part of one): a cohort of the real size has exactly the
    # real number of complete cases, so its locus targets are the real statistics themselves, not scaled by the
    # chance surplus or shortfall of a draw with replacement (pheno3 of HS1940: 589 of 1,746 mice, SD 20)
    donor = np.concatenate([rng.permutation(n) for _ in range(-(-m // n))])[:m]
    cov_pattern = np.isnan(Wr)[donor]
    cov_missing = cov_pattern.any(1)
    for j, c in enumerate(covariates):
        obs[c] = np.where(cov_pattern[:, j], np.nan, Ws[:, j])

    # ---------------- phenotypes
    models = {}
    if phenotypes:
        Y = ptab[phenotypes].to_numpy(dtype=float)
        noise = _residual_noise(Y, m, rng)
        pattern = np.isnan(Y)[donor]
        # kinships (real: the analysed rows; synthetic: the rows that carry a value), shared by phenotypes with the
        # same SNPs and rows and by the fallback below
        eig_cache: dict[bytes, tuple] = {}

        def kinship(side: str, snp_idx: np.ndarray, rows: np.ndarray, gw: _GwasResult | None = None) -> tuple:
            key = side.encode() + snp_idx.tobytes() + rows.tobytes()
            if key not in eig_cache:
                if gw is not None and gw.eig is not None and _same_kinship(gw, snp_idx, rows):
                    # the real GWAS already decomposed this very kinship (the double-centred GEMMA kinship of
                    # the analysed rows on the tested SNPs equals Z Z'): reuse its eigenpairs
                    evals, U = gw.eig
                    eig_cache[key] = (centred_snps(Ximp, snp_idx, rows), np.clip(evals, 0.0, None), U)
                else:
                    eig_cache[key] = kinship_eig(Xs if side == "synthetic" else Ximp, snp_idx, rows)
            return eig_cache[key]

        for j, ph in enumerate(phenotypes):
            y = np.where(complete, Y[:, j], np.nan)
            gw = real_gwas.pop(ph, None) or gwas_result(_gwas_view(geno, ptab, ph, covariates), ph, covariates, "lmm")
            pv, _, wald_t, null = _gwas_arrays(gw)
            vg, ve = float(null["vg"]), float(null["ve"])
            snp_idx = np.where(np.isfinite(pv))[0]
            if gwas_method == "linear":
                # leads, loci and target statistics from the linear model; the null model (vg, ve, PVE, polygenic
                # term) from the LMM as before
                gl = real_gwas.pop((ph, "linear"))
                pv, _, wald_t, _ = _gwas_arrays(gl)
            lead, near = _lead_windows(pv, coord, chrom, lead_pvalue, lead_window)
            pz = np.nan_to_num(pv, nan=1.0)
            # the synthetic phenotype is built on the individuals that will carry a value, so that the synthetic
            # GWAS (which analyses those alone, on their own double-centred kinship) sees the targets exactly
            rows = np.flatnonzero(~pattern[:, j] & ~cov_missing)
            if len(rows) < min(3, m):  # a tiny cohort that drew almost only missing values: keep every value
                rows, pattern[:, j], cov_missing[:] = np.arange(m), False, False
                for jc, cname in enumerate(covariates):
                    obs[cname] = Ws[:, jc]
            eig = kinship("synthetic", snp_idx, rows)
            eig_real = kinship("real", snp_idx, np.flatnonzero(np.isfinite(y)), gw)
            other = np.flatnonzero(~pattern[:, j] & cov_missing)
            n_ph = int(np.isfinite(y).sum())
            # the loci's SNPs are solved on the synthetic individuals that carry a value: at most one per 10 of them
            # (of the real ones, at the real size; a smaller cohort has fewer: 109 locus SNPs on 150 synthetic mice
            # left the linear-model calibration 0.4-0.6 off, 0.03-0.12 with the cap)
            n_cap = min(n_ph, len(rows))
            ys = np.full(m, np.nan)
            # a locus must leave room for the polygenic term: when re-solving every window SNP's statistic (noise
            # included) takes all the genetic variance (small cohorts), the locus falls back to its SNPs with
            # p < LOCUS_FALLBACK_PVALUE
            tries = [locus_pvalue]
            if locus_pvalue > LOCUS_FALLBACK_PVALUE:
                tries.append(LOCUS_FALLBACK_PVALUE)
            # sub-threshold peaks outside the lead windows: calibrated too (each clump a locus of its own), so that
            # the synthetic noise alone does not carry them over a hit threshold. Quantitative traits only: a binary
            # trait's statistics carry the noise of the cut, and every further target costs its label swaps and
            # PVE calibration accuracy
            sub = sub_blocks = np.zeros(0, dtype=np.int64)
            if exact_effects and subthreshold_pvalue > 0 and not is_binary(y):
                outside = np.where(near, 1.0, pz)
                sub_lead = clump(outside, coord, chrom, subthreshold_pvalue, lead_window)
                sub, sub_blocks = _locus_snps(sub_lead, outside < subthreshold_pvalue, pz, 1.0, coord, chrom, n_cap)
            for attempt, pmax in enumerate(tries):
                locus, blocks = _locus_snps(lead, near, pz, pmax, coord, chrom, n_cap)
                locus, blocks = np.concatenate([locus, sub]), np.concatenate([blocks, sub_blocks + len(lead)])
                pm = fit_pheno(
                    Ximp,
                    y,
                    Wr,
                    name=ph,
                    lead_idx=locus,
                    snp_idx=snp_idx,
                    vg=vg,
                    ve=ve,
                    rng=rng,
                    blocks=blocks,
                    draw=polygenic == "draw",
                    eig=eig_real,
                )
                diag: dict = {}
                tt = check = None
                if exact_effects:
                    # real Wald statistics of the locus SNPs (beta / se as tl.gwas), scaled to the synthetic size
                    size = np.sqrt(len(rows) / n_ph)
                    tt = wald_t[locus] * size
                    if pm.binary:
                        # the lead windows' other SNPs: a binary trait's label swaps steer their statistics too
                        window = np.setdiff1d(np.flatnonzero(near & np.isfinite(wald_t)), locus)
                        check = (Xs[np.ix_(rows, window)], wald_t[window] * size)
                ys[rows], ys[other] = sample_pheno(
                    pm,
                    Xs,
                    Ws[rows],
                    noise[rows, j],
                    target_t=tt,
                    target_pve=float(null.get("pve", np.nan)) if match_pve else None,
                    eig=eig,
                    extra=(Xs[other], Ws[other], noise[other, j]),
                    diagnostics=diag,
                    check=check,
                    hit_thresholds=hit_thresholds,
                    rows=rows,  # the analysed rows of Xs, indexed inside (no copy of the whole matrix)
                    linear=gwas_method == "linear",
                )
                diag["locus_pvalue_used"] = float(pmax)
                if diag.get("polygenic_scale", 1.0) > 0 or attempt == len(tries) - 1 or len(lead) == 0:
                    break
                logger.info(
                    "%s: the %d locus SNPs take all the genetic variance; falling back to p < %g",
                    ph,
                    len(locus),
                    LOCUS_FALLBACK_PVALUE,
                )
            if gwas_method == "linear" and diag.get("locus_t_rms_error", 0.0) > LINEAR_MISS_RMS[pm.binary]:
                logger.warning(
                    "%s: the synthetic linear-model statistics of its %d locus SNPs miss the real ones by %.2f (RMS of "
                    "t; real lambda_GC %.2f). %s",
                    ph,
                    len(locus),
                    diag["locus_t_rms_error"],
                    gl.info["lambda_gc"],
                    "A binary trait's statistics carry the noise of the cut (see exact_effects); fewer locus SNPs "
                    "(locus_pvalue=1e-3) or a larger cohort bring them closer."
                    if pm.binary
                    else "Structure in the linear model (relatives, populations) is beyond the loci's reach; "
                    "gwas_method='lmm' (the default) reproduces the LMM's hits instead.",
                )
            obs[ph] = ys
            models[ph] = {
                "binary": pm.binary,
                "vg": pm.vg,
                "ve": pm.ve,
                "pve": float(null.get("pve", np.nan)),
                "lead_snps": list(geno.var_names[lead]),
                "locus_snps": list(geno.var_names[locus]),
                "subthreshold_snps": list(geno.var_names[sub]),
                "locus_effects_gls": pm.lead_effects.tolist(),
                "covariate_effects": dict(zip(covariates, pm.cov_effects.tolist(), strict=True)),
                "prevalence": pm.prevalence,
                **diag,
            }
        eig_cache.clear()  # the centred genotype matrices (real and synthetic) are not needed any more
    Ximp = ordered = None  # freed (the kinship closure above refers to Ximp)
    obs["synth_group"] = syn_group
    extra = ["synth_group"]
    if syn_pop is not None:
        obs["synth_population"] = pd.Categorical.from_codes(syn_pop, categories=pop_names)
        extra.append("synth_population")
    obs = obs[[*phenotypes, *covariates, *extra]]

    dtype = geno.X.dtype if np.issubdtype(geno.X.dtype, np.floating) else np.float32
    var_dropped = [str(c) for c in geno.var.columns if c not in var_keep]
    if var_dropped:
        logger.info("var columns not carried to the synthetic cohort (not SNP annotation): %s", var_dropped)
    out = AnnData(Xs.astype(dtype, copy=False), obs=obs, var=geno.var[var_keep].copy())
    Xs = None  # the output holds its own copy (or this very array)
    out.uns["synthesis"] = {
        "params": {
            "method": method,
            "n_states": int(n_states),
            "recombination_scale": float(recombination_scale),
            "emission_noise": float(emission_noise),
            "n_groups": int(n_groups),
            "min_group_size": int(min_group_size),
            "group_pooling": float(group_pooling),
            "match_heterozygosity": bool(match_heterozygosity),
            "min_cluster_size": float(min_cluster_size),
            "lead_pvalue": float(lead_pvalue),
            "lead_window": float(lead_window),
            "hit_thresholds": [float(x) for x in hit_thresholds],
            "subthreshold_pvalue": float(subthreshold_pvalue),
            "locus_pvalue": float(locus_pvalue),
            "exact_effects": bool(exact_effects),
            "match_pve": bool(match_pve),
            "polygenic": polygenic,
            "gwas_method": gwas_method,
            "n_iter": int(n_iter),
            "phenotypes": phenotypes,
            "covariates": covariates,
            "n_real": int(n),
            **(
                {}
                if populations is None
                else {
                    "populations": populations if isinstance(populations, str) else int(populations),
                    "population_scope": population_scope,
                }
            ),
        },
        "phenotype_models": models,
        "hmm": hmm_info,
        "map_unit": unit,
        "var_dropped": var_dropped,
        **({} if detected is None else {"population_detection": detected}),
    }
    logger.info("synthesized %d individuals x %d SNPs", m, geno.n_vars)
    if is_mu:
        from mudata import MuData

        pheno = AnnData(
            obs[[*phenotypes, *covariates]].to_numpy(dtype=np.float64)
            if phenotypes or covariates
            else np.zeros((m, 0)),
            obs=pd.DataFrame(index=obs.index),
        )
        pheno.var_names = [*phenotypes, *covariates]
        import mudata

        # the modalities' obs / var stay where they are (mudata >= 0.4's default; no FutureWarning on 0.3)
        with mudata.set_options(pull_on_update=False):
            return MuData({mod[0]: out, mod[1]: pheno})
    return out


#: ``gwas_method="linear"``: a warning when the locus SNPs' linear-model statistics miss their targets by more (RMS t;
#: quantitative, binary traits: the cut adds 0.1-0.5)
LINEAR_MISS_RMS = {False: 0.5, True: 1.0}
#: ``gwas_method="linear"``: the largest genomic control lambda of the real linear-model GWAS accepted (measured on
#: simulated cohorts: reproduced at 1.6-2.4, one population with sibs; missed at 4.6, three populations; refused:
#: 4.9-7.0, three populations of 1,800 training individuals, and HS1940 CD8's training split, 19.4)
LINEAR_MAX_LAMBDA = 3.0

#: locus SNPs (within ``lead_window`` of a lead) used when every window SNP leaves no room for the polygenic term
LOCUS_FALLBACK_PVALUE = 1e-3


def _locus_snps(lead, near, p, pmax, coord, chrom, n_ph) -> tuple[np.ndarray, np.ndarray]:
    """Locus SNPs (leads and window SNPs with ``p < pmax``) and the lead each belongs to (the nearest).

    Each locus SNP's effect is re-solved from its statistic: at most one SNP per 10 phenotyped individuals
    per locus (the strongest first), so that the exact effects stay determined.
    """
    locus = np.union1d(lead, np.flatnonzero(near & (p < pmax)))
    gap = np.abs(coord[locus][:, None] - coord[lead][None, :])
    gap[chrom[locus][:, None] != chrom[lead][None, :]] = np.inf
    blocks = gap.argmin(1) if len(lead) else np.zeros(0, dtype=np.int64)
    cap = max(1, n_ph // 10)
    keep = np.zeros(len(locus), dtype=bool)
    for b in np.unique(blocks):
        ix = np.flatnonzero(blocks == b)
        keep[ix[np.argsort(p[locus[ix]], kind="stable")[:cap]]] = True
    return locus[keep], blocks[keep]


def _apportion(sizes: np.ndarray, m: int) -> np.ndarray:
    """Split ``m`` in proportion to ``sizes`` (largest remainders; ties to the earlier entry): integer counts."""
    share = m * np.asarray(sizes, dtype=np.float64) / np.sum(sizes)
    counts = np.floor(share).astype(np.int64)
    rest = m - int(counts.sum())
    counts[np.argsort(-(share - counts), kind="stable")[:rest]] += 1
    return counts


def _lead_windows(pv: np.ndarray, coord: np.ndarray, chrom: np.ndarray, pvalue: float, window: float) -> tuple:
    """Clumped lead SNPs below ``pvalue`` and the mask of the SNPs within ``window`` of one of them."""
    lead = clump(pv, coord, chrom, pvalue, window)
    near = np.zeros(len(pv), dtype=bool)
    for k in lead:
        near |= (chrom == chrom[k]) & (np.abs(coord - coord[k]) < window)
    return lead, near


def _nested_groups(
    Ximp: np.ndarray, pop_codes: np.ndarray, n_groups: int, min_group_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Structure groups within each population (``n_groups`` shared out by size): labels and each group's population."""
    n_pop = int(pop_codes.max()) + 1
    k = np.maximum(_apportion(np.bincount(pop_codes, minlength=n_pop), n_groups), 1)
    group = np.empty(len(pop_codes), dtype=np.int64)
    group_pop: list[int] = []
    for u in range(n_pop):
        sel = pop_codes == u
        g = structure_groups(Ximp[sel], int(k[u]), min_group_size, rng)
        group[sel] = g + len(group_pop)
        group_pop += [u] * (int(g.max()) + 1)
    return group, np.asarray(group_pop, dtype=np.int64)


def _genotypes_at_loci(
    codes: np.ndarray,
    Ximp: np.ndarray,
    dist: np.ndarray,
    slices: list[slice],
    m: int,
    rng: np.random.Generator,
    pop_codes: np.ndarray,
    local: np.ndarray,
    **hmm_kw,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Genotypes of ``population_scope="loci"``: codes, synthetic groups and populations, and the fits' summary.

    One shared HMM over the genome (structure groups nested in the populations), each population's own HMM on the
    columns ``local`` (chromosome order).
    """
    group, group_pop = _nested_groups(Ximp, pop_codes, hmm_kw["n_groups"], hmm_kw["min_group_size"], rng)
    # exact group (hence population) sizes, in random order
    syn_group = rng.permutation(np.repeat(np.arange(len(group_pop)), _apportion(np.bincount(group), m)))
    syn_pop = group_pop[syn_group]
    # group_pooling pools each group with its own population's groups: pooling across populations would pull every
    # synthetic individual towards the centre of the real PCs (demo cohort: PC1 SD ratio 0.64, k-NN AUC 0.89)
    scodes, _, info = _genotypes(
        codes, None, dist, slices, m, rng, group=group, syn_group=syn_group, group_pool=group_pop, **hmm_kw
    )
    # each population's model is fitted on the whole chromosomes that carry local columns (a window alone is too
    # short a stretch to fit the clusters on: the locus statistics' calibration error was three times larger) and
    # replaces the local columns alone
    chroms = [sl for sl in slices if local[sl].any()]
    parts = []
    if chroms:
        cols = np.concatenate([np.arange(sl.start, sl.stop) for sl in chroms])
        ends = np.cumsum([sl.stop - sl.start for sl in chroms])
        sub_slices = [slice(int(e - (sl.stop - sl.start)), int(e)) for sl, e in zip(chroms, ends, strict=True)]
        keep = local[cols]
        for u in range(int(pop_codes.max()) + 1):
            sel, rows = pop_codes == u, syn_pop == u
            if not rows.any():
                continue
            # the population's groups, numbered from 0 (training and synthetic alike)
            _, g_u = np.unique(np.r_[group[sel], syn_group[rows]], return_inverse=True)
            s_u, _, info_u = _genotypes(
                codes[np.ix_(sel, cols)],
                None,
                dist[cols],
                sub_slices,
                int(rows.sum()),
                rng,
                group=g_u[: sel.sum()],
                syn_group=g_u[sel.sum() :],
                **hmm_kw,
            )
            scodes[np.ix_(rows, cols[keep])] = s_u[:, keep]
            parts.append(info_u)
    info = {
        **info,
        "population_snps": int(local.sum()),
        "population_chromosomes": len(chroms),
        "population_rho": [p["rho"] for p in parts],
        "population_pair_repulsion": [p["pair_repulsion"] for p in parts],
    }
    return scodes, syn_group, syn_pop, info


def _tool_columns(geno: AnnData) -> list[str]:
    """``var`` columns written by scgenome's tools on ``geno``: ``snp_qc_*`` and each stored GWAS's ``{key}_*``."""
    keys = [k for k, v in geno.uns.items() if isinstance(v, dict) and "params" in v and k != "synthesis"]
    return [
        str(c)
        for c in geno.var.columns
        if str(c).startswith("snp_qc_") or any(str(c).startswith(f"{k}_") for k in keys)
    ]


def _annotation_columns(geno: AnnData, extra) -> list[str]:
    """``var`` columns of the output: the reader annotation present, then ``extra`` (checked), in ``var``'s order."""
    extra = [extra] if isinstance(extra, str) else list(extra)
    bad = [c for c in extra if c not in geno.var.columns]
    if bad:
        msg = f"annotation_columns {bad} not found in var; available: {list(geno.var.columns)}."
        raise ValueError(msg)
    tool = sorted(set(extra) & set(_tool_columns(geno)))
    if tool:
        msg = (
            f"annotation_columns {tool} hold results scgenome computed on the real individuals (QC or GWAS); a "
            "synthetic cohort does not carry them: run the tool on the synthetic cohort instead."
        )
        raise ValueError(msg)
    want = set(SNP_ANNOTATION) | set(extra)
    return [c for c in geno.var.columns if c in want]


def _check_populations(geno: AnnData, ptab: pd.DataFrame, populations, min_size: int) -> pd.Series | int | None:
    """Raise unless ``populations`` is ``None``, a complete label column or a positive number of clusters.

    Return the column (each label with at least ``min_size`` individuals), the number of clusters, ``"auto"`` or
    ``None``.
    """
    if populations is None or (isinstance(populations, str) and populations == "auto"):
        return populations
    if isinstance(populations, str):
        col = ptab[populations] if populations in ptab.columns else geno.obs.get(populations)
        if col is None:
            msg = f"populations column {populations!r} not found in obs; available: {list(ptab.columns)}."
            raise ValueError(msg)
        if col.isna().any():
            msg = f"populations column {populations!r} has {int(col.isna().sum())} missing labels."
            raise ValueError(msg)
        names, sizes = np.unique(col.astype(str).to_numpy(), return_counts=True)
        if (sizes < min_size).any():
            small = {str(names[i]): int(sizes[i]) for i in np.flatnonzero(sizes < min_size)}
            msg = (
                f"populations {small} have fewer than min_group_size={min_size} individuals to fit a model on; "
                "merge them or lower min_group_size."
            )
            raise ValueError(msg)
        return col
    number = isinstance(populations, int | np.integer | float | np.floating) and not isinstance(
        populations, bool | np.bool_
    )
    if not number or not np.isfinite(populations) or int(populations) != populations or populations < 1:
        msg = f"populations must be 'auto', an obs column, a positive number of clusters or None, got {populations!r}."
        raise ValueError(msg)
    return int(populations)


def _population_labels(
    Ximp: np.ndarray, geno: AnnData, ptab: pd.DataFrame, populations: str | int | None, min_size: int
) -> tuple[np.ndarray | None, list[str], dict | None]:
    """Return the population codes ``0..P-1`` of the individuals and their names (``None`` for one population).

    The third item is the detection's summary with ``populations="auto"`` (else ``None``).
    """
    pops = _check_populations(geno, ptab, populations, min_size)
    if pops is None:
        return None, [], None
    if isinstance(pops, str) and pops == "auto":
        found = detect_populations(Ximp, min_size)
        summary = found.summary()
        logger.info(
            "populations='auto': %s (silhouette per number of populations: %s; at least %.2f needed)",
            f"{found.n_populations} populations of {summary['sizes']} individuals"
            if found.labels is not None
            else "no discrete populations",
            {k: round(v, 2) for k, v in found.silhouette.items()},
            summary["min_silhouette"],
        )
        if found.labels is None:
            return None, [], summary
        return found.labels, [str(i) for i in range(found.n_populations)], summary
    if isinstance(pops, pd.Series):
        names, codes = np.unique(pops.astype(str).to_numpy(), return_inverse=True)
        names = [str(x) for x in names]
    else:
        # its own generator: the clusters do not depend on (nor shift) the synthesis seed
        codes = structure_groups(Ximp, pops, min_size, np.random.default_rng(0))
        names = [str(i) for i in range(int(codes.max()) + 1)]
    if len(names) == 1:
        return None, [], None
    return codes.astype(np.int64), names, None


def _genotypes(
    codes: np.ndarray,
    Ximp: np.ndarray | None,
    dist: np.ndarray,
    slices: list[slice],
    m: int,
    rng: np.random.Generator,
    *,
    group: np.ndarray | None = None,
    syn_group: np.ndarray | None = None,
    group_pool: np.ndarray | None = None,
    n_groups: int,
    min_group_size: int,
    n_states: int,
    emission_noise: float,
    n_iter: int,
    recombination_scale: float,
    min_cluster_size: float,
    group_pooling: float,
    match_heterozygosity: bool,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Fit the HMM on ``codes`` (chromosome order) and sample ``m`` genotypes: codes, groups and the fit's summary.

    ``group`` (training) and ``syn_group`` (synthetic) structure groups, when given, replace the k-means groups on
    ``Ximp`` and the draw of the synthetic individuals' groups.
    """
    if group is None:
        group = structure_groups(Ximp, n_groups, min_group_size, rng)
    model = fit_hmm(
        codes, dist, slices, group, n_states=n_states, emission_prior=emission_noise, n_iter=n_iter, rng=rng
    )
    model.group_pool = group_pool
    if syn_group is None:
        syn_group = rng.choice(len(model.group_freq), size=m, p=model.group_freq)
    knobs = {
        "recombination_scale": recombination_scale,
        "min_cluster_size": min_cluster_size,
        "group_pooling": group_pooling,
    }
    tables = chain_tables(model, **knobs)  # built once for the trial cohorts and the cohort itself
    repulsion = 0.0
    if match_heterozygosity:
        ok = codes < 3
        het_real = float(np.mean(((codes == 1) & ok).sum(1) / np.maximum(ok.sum(1), 1)))
        repulsion = _pair_repulsion(model, syn_group, het_real, tables, child_seed(rng))
    scodes = sample_hmm(model, syn_group, pair_repulsion=repulsion, rng=rng, tables=tables)
    info = {
        "rho": [float(c.rho) for c in model.chroms],
        "loglik": float(sum(c.loglik for c in model.chroms)),
        "n_groups_fitted": len(model.group_freq),
        "pair_repulsion": float(repulsion),
    }
    return scodes, syn_group, info


def _pair_repulsion(model, group: np.ndarray, het_real: float, tables: list, seed: int, n_trial: int = 256) -> float:
    """Pair repulsion (0 to 0.95) at which sampled heterozygosity matches ``het_real``.

    Trial cohorts of ``n_trial`` individuals (same random numbers, chains ``tables`` from :func:`chain_tables`):
    repulsion 0 and 0.9, then two steps of regula falsi (the heterozygosity grows convexly with the repulsion).
    """
    sub = group[:n_trial]

    def het(w: float) -> float:
        x = sample_hmm(model, sub, pair_repulsion=w, rng=np.random.default_rng(seed), tables=tables)
        return float(np.mean(x == 1))

    h0 = het(0.0)
    if h0 >= het_real:
        return 0.0
    lo, hi, h_lo, h_hi = 0.0, 0.9, h0, het(0.9)
    if h_hi <= h0:
        return 0.0
    if h_hi <= het_real:
        return 0.9
    for _ in range(2):
        w = lo + (hi - lo) * (het_real - h_lo) / (h_hi - h_lo)
        h = het(w)
        if h < het_real:
            lo, h_lo = w, h
        else:
            hi, h_hi = w, h
    return float(lo + (hi - lo) * (het_real - h_lo) / (h_hi - h_lo))


def _gwas_view(geno: AnnData, ptab: pd.DataFrame, phenotype: str, covariates: list[str]) -> AnnData:
    """Genotype AnnData with the phenotype and covariates in obs (a light copy)."""
    from anndata import AnnData

    obs = pd.DataFrame(index=geno.obs_names)
    for c in [phenotype, *covariates]:
        obs[c] = ptab[c].to_numpy()
    return AnnData(geno.X, obs=obs, var=geno.var)


def _residual_noise(Y: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """Standard-normal noise correlated across phenotypes like the real phenotypes (complete rows)."""
    q = Y.shape[1]
    ok = ~np.isnan(Y).any(1)
    R = np.corrcoef(Y[ok], rowvar=False) if q > 1 and ok.sum() > q + 2 else np.eye(q)
    R = np.atleast_2d(np.nan_to_num(R, nan=0.0))
    np.fill_diagonal(R, 1.0)
    w, V = np.linalg.eigh(R)
    Lc = V * np.sqrt(np.clip(w, 1e-9, None))
    return rng.standard_normal((m, q)) @ Lc.T


__all__ = ["synthesize"]

"""``sg.tl.gwas``: AnnData (or MuData) in, association results out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from ..._logging import logger
from ..._utils import geno_view, progress
from ..._validation import check_nonempty, check_obs_columns
from ...pp._genotypes import genotype_block, iter_chunks
from ...pp._kinship import kinship_sums
from ...pp._qc import check_qc_thresholds, qc_mask, snp_stats
from ._model import eigen_kinship, fit_null, lambda_gc, linear_sums, lm_chunk, lm_from_sums, lmm_chunk

if TYPE_CHECKING:
    from collections.abc import Sequence

    from anndata import AnnData
    from mudata import MuData

LMM_FIELDS = ("beta", "se", "pval", "p_lrt", "p_score", "af", "l_remle", "l_mle", "logl_H1", "n_miss")
LM_FIELDS = ("beta", "se", "pval", "p_lrt", "p_score", "af", "n_miss", "n_obs")
#: every ``var[f"{key_added}_{field}"]`` column gwas writes (dropped before a new run under the same key)
OWNED_FIELDS = tuple(dict.fromkeys(LMM_FIELDS + LM_FIELDS))


def _design(gdata: AnnData, phenotype: str, covariates: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Analysed rows, phenotype and covariate matrix (intercept first)."""
    check_obs_columns(gdata, [phenotype], what="phenotype")
    check_obs_columns(gdata, covariates, what="covariate")
    cols = [phenotype, *covariates]
    frame = gdata.obs[cols]
    for col in cols:
        s = frame[col]
        if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
            msg = (
                f"obs[{col!r}] has dtype {s.dtype}; phenotype and covariates must be numeric "
                "(encode categories as 0/1 columns first)."
            )
            raise ValueError(msg)
    values = frame.astype(float).to_numpy()
    inf = np.isinf(values).sum(0)
    if inf.any():
        bad = {col: int(k) for col, k in zip(cols, inf, strict=True) if k}
        msg = (
            f"Infinite values in obs column(s) {bad} (count per column); mark missing values as NaN "
            "(individuals with a NaN phenotype or covariate are dropped)."
        )
        raise ValueError(msg)
    rows = np.isfinite(values).all(1)
    n = int(rows.sum())
    if n < len(covariates) + 3:
        msg = f"Only {n} individuals have a non-missing {phenotype!r} and covariates; at least {len(covariates) + 3} are needed."
        raise ValueError(msg)
    y = values[rows, 0]
    if np.ptp(y) == 0:
        msg = f"Phenotype {phenotype!r} is constant among the {n} analysed individuals."
        raise ValueError(msg)
    W = np.column_stack([np.ones(n), values[rows, 1:]])
    if np.linalg.matrix_rank(W) < W.shape[1]:
        msg = f"The covariates {list(covariates)} (with the intercept) are collinear among the analysed individuals."
        raise ValueError(msg)
    return rows, y, W


def _check_kinship(gdata, kinship) -> None:
    """Raise unless ``kinship`` is an ``obsp`` key, ``None`` or an n_obs x n_obs array."""
    if kinship is None or isinstance(kinship, str):
        return
    if not isinstance(kinship, np.ndarray):
        msg = (
            "kinship must be an obsp key (str), an n_obs x n_obs numpy array, or None (computed here, not stored); "
            f"got {type(kinship).__name__}."
        )
        raise ValueError(msg)
    if kinship.shape != (gdata.n_obs, gdata.n_obs):
        msg = f"The kinship array must be n_obs x n_obs = {gdata.n_obs} x {gdata.n_obs}, got {kinship.shape}."
        raise ValueError(msg)


def _kinship_matrix(gdata, kinship, rows, qc_pass, chunk_size) -> tuple[np.ndarray, bool]:
    """Return the kinship (all individuals): the array, stored ``obsp[kinship]``, or computed on the QC'd SNPs."""
    if isinstance(kinship, np.ndarray):
        return np.asarray(kinship, dtype=np.float64), False
    if kinship is not None and kinship in gdata.obsp:
        K = gdata.obsp[kinship]
        K = K.toarray() if hasattr(K, "toarray") else np.asarray(K, dtype=np.float64)
        return K, False
    if kinship is None:
        logger.info("gwas: kinship=None; computing the centred kinship (GEMMA -gk 1), not stored")
    else:
        logger.info("gwas: obsp[%r] not found; computing the centred kinship (GEMMA -gk 1)", kinship)
    sums, _ = kinship_sums(gdata.X, np.flatnonzero(qc_pass), chunk_size=chunk_size)
    return sums[0] / int(qc_pass.sum()), True


def _loco_kinships(gdata, kinship, K, qc_pass, chrom_of, chunk_size):
    """Per chromosome: kinship leaving it out (from stored partial sums or computed from the genotypes)."""
    loco_key = f"{kinship}_loco" if isinstance(kinship, str) else None
    if loco_key is not None and loco_key in gdata.uns:
        info = gdata.uns[loco_key]
        p_tot = int(np.sum(info["n_snps"]))
        out = {}
        for c, p_c, part in zip(info["chroms"], info["n_snps"], info["partial"], strict=True):
            out[str(c)] = (K * p_tot - part.astype(np.float64)) / (p_tot - int(p_c))
        return out
    idx = np.flatnonzero(qc_pass)
    chrom = chrom_of[idx]
    chroms, groups = np.unique(chrom, return_inverse=True)
    sums, counts = kinship_sums(gdata.X, idx, groups=groups, chunk_size=chunk_size)
    total, p_tot = sums.sum(0), int(counts.sum())
    return {str(c): (total - sums[g]) / (p_tot - counts[g]) for g, c in enumerate(chroms)}


_JIT_MIN = 200_000_000  # genotypes (individuals x SNPs) from which the compiled pass beats its first-call cost
_SUB = 128  # SNP columns per float64 sub-block in _linear_sums


def _linear_sums(Gf: np.ndarray, Vt: np.ndarray):
    """Numpy/BLAS version of :func:`~scgenome.tl._gwas._model.linear_sums` for a float32 block (all its rows).

    Used below ``_JIT_MIN`` genotypes, where numba's first call in a process (about 0.5 s) would dominate.
    A block without missing genotypes (one cheap ``isnan(...).any()`` check) skips the per-SNP missing counts and
    takes float64 products on cache-sized column blocks.
    """
    n, s = Gf.shape
    mono = ~(np.fmax.reduce(Gf, axis=0) > np.fmin.reduce(Gf, axis=0))
    if np.isnan(Gf).any():
        G = Gf.astype(np.float64)
        miss = np.isnan(Gf)
        G[miss] = 0.0
        return miss.sum(0), mono, Vt @ G, Vt @ miss.astype(np.float64), np.einsum("ns,ns->s", G, G)
    sx, sxx = np.empty((Vt.shape[0], s)), np.empty(s)
    buf = np.empty((n, min(s, _SUB)))
    for a in range(0, s, _SUB):
        b = min(s, a + _SUB)
        G = buf[:, : b - a]
        np.copyto(G, Gf[:, a:b])
        sx[:, a:b] = Vt @ G
        sxx[a:b] = np.einsum("ns,ns->s", G, G)
    return np.zeros(s, dtype=np.int64), mono, sx, np.zeros((Vt.shape[0], s)), sxx


def _linear_pass(X, rows, W, y, maf, max_missing, chunk_size):
    """QC statistics and the linear-model tests of the passing SNPs in one pass over the genotypes.

    Large inputs go through the compiled :func:`~scgenome.tl._gwas._model.linear_sums`, which reads a
    C- or F-ordered float32 ``X`` in place (no copy of a chunk); others through the numpy version on chunks.
    """
    p = X.shape[1]
    n = len(y)
    n_miss = np.zeros(p, dtype=np.int64)
    af = np.full(p, np.nan)
    mono = np.ones(p, dtype=bool)
    out = {f: np.full(p, np.nan) for f in ("beta", "se", "pval", "p_lrt", "p_score")}
    r = None if rows.all() else rows
    Vt = np.ascontiguousarray(np.column_stack([W, y]).T, dtype=np.float64)
    c = W.shape[1]
    jit = n * p >= _JIT_MIN
    in_place = (
        jit and isinstance(X, np.ndarray) and X.dtype == np.float32 and (X.flags.f_contiguous or X.flags.c_contiguous)
    )
    ridx = np.flatnonzero(rows) if r is not None else np.zeros(0, dtype=np.int64)
    none = np.zeros(0, dtype=np.int64)
    for sl in progress(list(iter_chunks(p, chunk_size)), desc="gwas (linear)"):
        if in_place:
            nm, mono[sl], sx, sm, sxx = linear_sums(X, ridx, sl.start, sl.stop, Vt)
        else:
            Gf = genotype_block(X, r, sl, dtype=np.float32)
            if jit:
                Gf = Gf if Gf.flags.f_contiguous or Gf.flags.c_contiguous else np.ascontiguousarray(Gf)
                nm, mono[sl], sx, sm, sxx = linear_sums(Gf, none, 0, Gf.shape[1], Vt)
            else:
                nm, mono[sl], sx, sm, sxx = _linear_sums(Gf, Vt)
        n_obs = n - nm
        with np.errstate(invalid="ignore", divide="ignore"):
            a = sx[0] / (2.0 * n_obs)  # W[:, 0] is the intercept: sx[0] is the sum of observed dosages
        n_miss[sl], af[sl] = nm, a
        keep = np.flatnonzero(~mono[sl] & (a >= maf) & (a <= 1.0 - maf) & (nm / n <= max_missing))
        if len(keep) == 0:
            continue
        mean = 2.0 * a[keep]
        prod = sx[:, keep] + mean * sm[:, keep]  # imputed sum_i v_i x_i for v in [W, y]
        xx = sxx[keep] + nm[keep] * mean * mean
        res = lm_from_sums(W, y, prod[:c], xx, prod[c])
        res["pval"] = res.pop("p_wald")
        for f, v in res.items():
            out[f][sl.start + keep] = v
    stats_ = pd.DataFrame({"n_miss": n_miss, "missing": n_miss / max(n, 1), "af": af, "monomorphic": mono})
    return stats_, out


@dataclass
class _GwasResult:
    """What :func:`_gwas_compute` returns (and :func:`gwas` writes)."""

    res: dict[str, np.ndarray]  # var fields, NaN for SNPs not tested
    info: dict  # uns[key_added]
    kinship: np.ndarray | None  # the kinship computed here (all individuals) to store under obsp[kinship], else None
    kinship_info: dict | None  # its uns entry
    rows: np.ndarray  # analysed individuals (boolean)
    eig: tuple[np.ndarray, np.ndarray] | None  # LMM without LOCO: eigenvalues and vectors of the double-centred kinship
    tested: np.ndarray  # SNP columns tested


def _gwas_compute(
    gdata: AnnData,
    phenotype: str,
    *,
    covariates: Sequence[str] | str | None = None,
    method: Literal["lmm", "linear"] = "lmm",
    kinship: str | np.ndarray | None = "kinship",
    loco: bool = False,
    maf: float = 0.01,
    max_missing: float = 0.05,
    chunk_size: int = 2000,
) -> _GwasResult:
    """Everything :func:`gwas` computes, nothing written: see there for the arguments."""
    if not isinstance(phenotype, str):
        msg = (
            f"phenotype must be the name of one obs column (str), got {type(phenotype).__name__} {phenotype!r}. "
            "sg.tl.gwas tests one phenotype per call: loop over them with one key_added each, e.g. "
            "`for ph in phenotypes: sg.tl.gwas(gdata, ph, key_added=f'gwas_{ph}')`."
        )
        raise ValueError(msg)
    if method not in ("lmm", "linear"):
        msg = f"method must be 'lmm' or 'linear', got {method!r}."
        raise ValueError(msg)
    check_nonempty(gdata, "genotype AnnData")
    check_qc_thresholds(maf, max_missing)
    _check_kinship(gdata, kinship)
    covariates = [] if covariates is None else [covariates] if isinstance(covariates, str) else list(covariates)
    if phenotype in covariates:
        msg = f"The phenotype {phenotype!r} is also listed as a covariate."
        raise ValueError(msg)
    if loco and method == "lmm":
        if "chrom" not in gdata.var.columns:
            msg = "loco=True needs var['chrom'] (the chromosome of each SNP)."
            raise ValueError(msg)
        no_chrom = gdata.var["chrom"].isna().to_numpy()
        if no_chrom.any():
            msg = (
                f"loco=True needs the chromosome of every SNP, but var['chrom'] is missing for {int(no_chrom.sum())} "
                f"SNP(s), e.g. {gdata.var_names[no_chrom][:5].tolist()}; fill them in or drop those SNPs "
                "(gdata[:, gdata.var['chrom'].notna()])."
            )
            raise ValueError(msg)
        n_chrom = gdata.var["chrom"].astype(str).nunique()
        if n_chrom < 2:
            msg = (
                f"loco=True needs SNPs on at least two chromosomes (found {n_chrom}): each chromosome's kinship is "
                "built from the others. Use loco=False."
            )
            raise ValueError(msg)
    rows, y, W = _design(gdata, phenotype, covariates)
    n, c = W.shape

    # QC on the analysed individuals (GEMMA semantics); the linear model tests in the same pass over X
    lm_res = None
    if method == "linear":
        stats_, lm_res = _linear_pass(gdata.X, rows, W, y, maf, max_missing, chunk_size)
    else:
        stats_ = snp_stats(gdata.X, None if rows.all() else rows, chunk_size=chunk_size)
    qc_pass = (qc_mask(stats_, maf, max_missing) == "").to_numpy()
    tested = np.flatnonzero(qc_pass)
    if len(tested) == 0:
        msg = f"No SNP passes the QC (maf={maf}, max_missing={max_missing}) on the {n} analysed individuals."
        raise ValueError(msg)

    computed_k = False
    K_full = None
    if method == "lmm":
        K_full, computed_k = _kinship_matrix(gdata, kinship, rows, qc_pass, chunk_size)
        n_bad = int((~np.isfinite(K_full[np.ix_(rows, rows)])).sum())
        if n_bad:
            what = f"obsp[{kinship!r}]"
            if isinstance(kinship, np.ndarray):
                what = "array"
            elif computed_k:
                what = "computed from the genotypes"
            msg = (
                f"The kinship ({what}, shape {K_full.shape}) has {n_bad} non-finite (NaN or infinite) entries among "
                f"the {n} analysed individuals; recompute it (sg.pp.kinship) or drop the individuals concerned."
            )
            raise ValueError(msg)

    p = gdata.n_vars
    res = {f: np.full(p, np.nan) for f in (LMM_FIELDS if method == "lmm" else LM_FIELDS)}
    res["af"][tested] = stats_["af"].to_numpy()[tested]
    res["n_miss"][tested] = stats_["n_miss"].to_numpy()[tested]
    if method == "linear":
        res["n_obs"][tested] = n - res["n_miss"][tested]

    # groups of SNPs that share a kinship: all SNPs, or one group per chromosome with LOCO
    if method == "lmm" and loco:
        chrom_of = gdata.var["chrom"].astype(str).to_numpy()
        kin_by_chrom = _loco_kinships(gdata, kinship, K_full, qc_pass, chrom_of, chunk_size)
        groups = [(ch, tested[chrom_of[tested] == ch], kin_by_chrom[ch]) for ch in pd.unique(chrom_of[tested])]
    else:
        groups = [(None, tested, K_full)]

    null_models = {}
    eig = None
    if lm_res is not None:
        for f, v in lm_res.items():
            res[f][tested] = v[tested]
        groups = []
    bar = progress(total=len(tested), desc=f"gwas ({method})", unit="SNP", **({} if groups else {"disable": True}))
    for chrom, idx_g, K in groups:
        if method == "lmm":
            evals, U = eigen_kinship(K[np.ix_(rows, rows)])
            if chrom is None:
                eig = (evals, U)
            UtW, Uty = U.T @ W, U.T @ y
            null = fit_null(evals, UtW, Uty)
            null_models[chrom] = null.as_dict()
        for sl in iter_chunks(len(idx_g), chunk_size):
            idx = idx_g[sl]
            G = genotype_block(gdata.X, rows, idx)
            miss = np.isnan(G)
            if miss.any():
                mean = np.nanmean(G, 0)
                G = np.where(miss, mean, G)
            if method == "lmm":
                out = lmm_chunk(evals, UtW, Uty, (G.T @ U).T, null)  # (U'G) as a view of SNP-major G'U
                out["pval"] = out.pop("p_wald")
            else:
                out = lm_chunk(W, y, G)
                out["pval"] = out.pop("p_wald")
            for f, v in out.items():
                res[f][idx] = v
            bar.update(len(idx))
    bar.close()

    kin_entry = None
    if computed_k and isinstance(kinship, str):
        kin_entry = {
            "params": {
                "method": "centered",
                "maf": maf,
                "max_missing": max_missing,
                "n_snps": int(qc_pass.sum()),
                "n_samples_qc": n,
            },
            "snps": qc_pass,
        }
    lgc = lambda_gc(res["pval"][tested])
    info = {
        "params": {
            "phenotype": phenotype,
            "covariates": covariates,
            "method": method,
            "kinship": kinship if isinstance(kinship, str) else "array" if kinship is not None else "computed",
            "loco": bool(loco),
            "maf": maf,
            "max_missing": max_missing,
        },
        "n_analysed": n,
        "n_covariates": c,
        "n_snps_tested": len(tested),
        "lambda_gc": lgc,
    }
    if method == "lmm":
        info["null_model"] = null_models[None] if not loco else {str(k): v for k, v in null_models.items()}
    stored = computed_k and isinstance(kinship, str)
    return _GwasResult(res, info, K_full if stored else None, kin_entry, rows, eig, tested)


def _genotype_view(gdata: AnnData | MuData, layer: str | None, mod: tuple[str, str]) -> tuple[AnnData, bool]:
    """Return the AnnData the tests read (genotypes in ``X``, phenotypes in ``obs``) and whether it came from a MuData."""
    from anndata import AnnData

    is_mu = not isinstance(gdata, AnnData)
    if is_mu and (isinstance(mod, str) or len(mod) != 2):
        msg = f"mod must be a (genotype, phenotype) pair of modality names, e.g. ('geno', 'pheno'); got {mod!r}."
        raise ValueError(msg)
    view = geno_view(gdata, mod)  # raises for anything but an AnnData or a MuData
    if layer is None:
        return view, is_mu
    src = gdata.mod[mod[0]] if is_mu else gdata
    if layer not in src.layers:
        msg = f"Layer {layer!r} not found in the genotype AnnData; its layers are {list(src.layers)}."
        raise ValueError(msg)
    X = src.layers[layer]
    return AnnData(X, obs=view.obs, var=view.var, obsp=dict(view.obsp), uns=dict(view.uns)), is_mu


def gwas(
    gdata: AnnData | MuData,
    phenotype: str,
    *,
    covariates: Sequence[str] | None = None,
    method: Literal["lmm", "linear"] = "lmm",
    kinship: str | np.ndarray | None = "kinship",
    loco: bool = False,
    maf: float = 0.01,
    max_missing: float = 0.05,
    layer: str | None = None,
    key_added: str = "gwas",
    chunk_size: int = 2000,
    mod: tuple[str, str] = ("geno", "pheno"),
    copy: bool = False,
) -> AnnData | MuData | None:
    """Genome-wide association test of one phenotype with every SNP, as GEMMA ``-lmm 4`` / ``-lm 4``.

    Parameters
    ----------
    gdata
        Genotype AnnData (individuals x SNPs): ``X`` dosages of ``var["allele1"]`` (NaN = missing; numpy, sparse
        or dask), phenotype and covariates in ``obs``. Or a MuData whose ``mod[0]`` modality holds the genotypes
        (``X`` or ``layer``, ``var``, ``obsp``) and whose ``mod[1]`` modality the phenotypes and covariates (its
        ``X`` columns named by ``var_names``, and its ``obs``; ``mdata.obs`` when there is no such modality),
        matched to the genotypes by individual id (``obs_names``), not by row position.
    phenotype
        ``obs`` column to test (quantitative, or 0/1 which is analysed as quantitative, as GEMMA does). One
        phenotype per call: loop over several, each with its own ``key_added``.
    covariates
        ``obs`` columns used as fixed effects besides the intercept (numeric).
    method
        ``"lmm"``: univariate linear mixed model with the kinship as random effect (GEMMA ``-lmm 4``: Wald, LRT and
        score tests). ``"linear"``: ordinary least squares (GEMMA ``-lm 4``); the kinship is not used.
    kinship
        The kinship of all individuals, for ``method="lmm"``: an ``obsp`` key, an n_obs x n_obs array, or ``None``.
        When the key is absent the centred kinship is computed as GEMMA ``-gk 1`` does (all individuals, centred
        over all of them, on the SNPs that pass the QC on the analysed individuals) and stored under that key;
        ``None`` computes it the same way (even when ``obsp["kinship"]`` exists) without storing it.
    loco
        Leave one chromosome out: SNPs of each chromosome are tested with a kinship built without that
        chromosome (from ``uns[f"{kinship}_loco"]`` written by :func:`scgenome.pp.kinship` with ``loco=True``,
        else computed here from the genotypes). Needs ``var["chrom"]`` without missing values. One
        eigendecomposition per chromosome. With a polygenic phenotype every SNP in LD with the polygenic signal
        is truly associated and no longer absorbed by the kinship, so lambda_GC is above 1 by design (about
        1.4-1.8 on simulated polygenic cohorts); on pure noise LOCO stays calibrated (1.08-1.13 measured) while
        the standard LMM is slightly deflated by proximal contamination (Yang et al. 2014).
    maf, max_missing
        SNP QC on the analysed individuals (GEMMA ``-maf``, ``-miss``): tested SNPs have allele-1 frequency in
        ``[maf, 1 - maf]``, missing rate at most ``max_missing`` and are polymorphic.
    layer
        Read the genotypes from ``layers[layer]`` (of the genotype modality for a MuData) instead of ``X``.
    key_added
        Prefix of the ``var`` columns and ``uns`` key. The ``var[f"{key_added}_..."]`` columns listed under
        Returns that a previous run under the same key wrote are dropped first (other columns are left alone).
    chunk_size
        SNPs per chunk (memory about ``10 x n x chunk_size`` doubles).
    mod
        Names of the genotype and phenotype modalities of a MuData (ignored for an AnnData).
    copy
        Return a modified copy (AnnData or MuData) instead of writing into ``gdata``.

    Returns
    -------
    ``None`` (or the modified copy with ``copy=True``), after setting in the AnnData (for a MuData, in its genotype
    modality ``mod[0]``), with NaN for SNPs not tested:

    - ``var[f"{key_added}_beta"]``, ``_se``: effect of one more copy of ``allele1`` and its standard error
      (LMM: at the SNP's REML lambda);
    - ``var[f"{key_added}_pval"]`` (Wald test, F(1, n-c-1); GEMMA's ``p_wald``), ``_p_lrt`` (likelihood-ratio,
      chi2(1)), ``_p_score`` (score test, F(1, n-c-1));
    - ``var[f"{key_added}_af"]`` (allele-1 frequency in the analysed individuals), ``_n_miss`` (missing genotypes
      among them);
    - LMM only: ``var[f"{key_added}_l_remle"]``, ``_l_mle`` (per-SNP REML and ML lambda = sigma_g^2/sigma_e^2),
      ``_logl_H1`` (ML log-likelihood of the alternative model);
    - linear model only: ``var[f"{key_added}_n_obs"]`` (analysed individuals with an observed genotype, GEMMA
      ``-lm``'s ``n_obs``);
    - ``uns[key_added]``: ``params`` (``phenotype``, ``covariates``, ``method``, ``kinship`` (the key, ``"array"``
      or ``"computed"`` for ``None``), ``loco``, ``maf``, ``max_missing``, ``layer``), ``null_model`` (LMM only:
      ``pve``, ``pve_se``, ``vg``, ``ve``, ``lambda_reml``, ``lambda_ml``, ``logl_reml``, ``logl_ml``, ``beta``,
      ``beta_se``, ``trace_g``; with ``loco`` one such dict per chromosome), ``n_analysed`` (individuals with the
      phenotype and covariates), ``n_covariates`` (columns of the fixed-effect design, intercept included),
      ``n_snps_tested``, ``lambda_gc`` (genomic control of the Wald p-values);
    - ``obsp[kinship]`` and ``uns[kinship]`` (``params``: ``method``, ``maf``, ``max_missing``, ``n_snps``,
      ``n_samples_qc``; ``snps``: the SNPs used) when the LMM computed the kinship under an absent key.

    Notes
    -----
    Zhou & Stephens (2012), *Genome-wide efficient mixed-model analysis for association studies*, Nat Genet 44:821,
    as implemented in GEMMA 0.98: the sub-kinship of the analysed individuals is double-centred and
    eigendecomposed once; the null model is fitted by REML (PVE, vg, ve) and ML; per SNP, lambda is optimised by
    REML for the Wald test and by ML for the likelihood-ratio test, and the score test uses the null ML lambda.
    Lambda is searched in [1e-5, 1e5] on GEMMA's grid of 10 log-intervals and refined by Newton steps, for all
    SNPs of a chunk at once with matrix products. Missing genotypes are replaced by the SNP mean over the analysed
    individuals; individuals with a missing (NaN) phenotype or covariate are dropped, and infinite values are an
    error. Everything is validated before anything is written: on an error the input is unchanged.

    Examples
    --------
    >>> import anndata as ad, numpy as np, pandas as pd
    >>> import scgenome as sg
    >>> rng = np.random.default_rng(0)
    >>> X = rng.binomial(2, 0.4, size=(200, 300)).astype(np.float32)
    >>> obs = pd.DataFrame({"pheno1": X[:, 0] * 0.8 + rng.normal(size=200)}, index=[str(i) for i in range(200)])
    >>> g = ad.AnnData(X, obs=obs)
    >>> sg.tl.gwas(g, "pheno1")
    >>> int(np.nanargmin(g.var["gwas_pval"]))
    0

    A MuData with genotype and phenotype modalities (results go to ``mdata["geno"]``):

    >>> from mudata import MuData
    >>> pheno = ad.AnnData(obs[["pheno1"]].to_numpy(), obs=pd.DataFrame(index=obs.index))
    >>> pheno.var_names = ["pheno1"]
    >>> mdata = MuData({"geno": ad.AnnData(X, obs=pd.DataFrame(index=obs.index)), "pheno": pheno})
    >>> sg.tl.gwas(mdata, "pheno1", method="linear")
    >>> int(np.nanargmin(mdata["geno"].var["gwas_pval"]))
    0
    """
    view, is_mu = _genotype_view(gdata, layer, mod)
    out = _gwas_compute(
        view,
        phenotype,
        covariates=covariates,
        method=method,
        kinship=kinship,
        loco=loco,
        maf=maf,
        max_missing=max_missing,
        chunk_size=chunk_size,
    )
    out.info["params"]["layer"] = layer
    if copy and is_mu:
        import mudata

        with mudata.set_options(pull_on_update=False):  # no FutureWarning from mudata 0.3's copy
            result = gdata.copy()
    else:
        result = gdata.copy() if copy else gdata
    adata = result.mod[mod[0]] if is_mu else result
    stale = [f"{key_added}_{f}" for f in OWNED_FIELDS if f not in out.res and f"{key_added}_{f}" in adata.var]
    if stale:
        logger.info("gwas: dropping var columns %s of an earlier run under key %r", stale, key_added)
        for c in stale:
            del adata.var[c]
    for f, v in out.res.items():
        adata.var[f"{key_added}_{f}"] = v
    if out.kinship is not None:
        adata.obsp[kinship] = out.kinship
        adata.uns[kinship] = out.kinship_info
    adata.uns[key_added] = out.info
    logger.info(
        "gwas: %d individuals, %d SNPs tested, lambda_GC %.3f",
        out.info["n_analysed"],
        out.info["n_snps_tested"],
        out.info["lambda_gc"],
    )
    return result if copy else None


__all__ = ["gwas"]

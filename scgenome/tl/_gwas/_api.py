"""``sg.tl.gwas``: AnnData (or MuData) in, association results out."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from ..._logging import logger
from ..._utils import geno_view, progress
from ..._validation import check_copy_backed, check_dosages, check_nonempty, check_obs_columns
from ...pp._genotypes import check_chrom, genotype_block, iter_chunks
from ...pp._kinship import kinship_fingerprint, kinship_sums, loco_entry
from ...pp._qc import check_qc_thresholds, qc_mask, snp_stats
from ._model import (
    check_kinship_symmetric,
    collinear_with,
    eigen_kinship,
    fit_null,
    lambda_gc,
    linear_sums,
    lm_from_sums,
    lmm_chunk,
)

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
        return _obsp_kinship(gdata, kinship), False
    if kinship is None:
        logger.info("gwas: kinship=None; computing the centred kinship (GEMMA -gk 1), not stored")
    else:
        logger.info("gwas: obsp[%r] not found; computing the centred kinship (GEMMA -gk 1)", kinship)
    sums, _ = kinship_sums(gdata.X, np.flatnonzero(qc_pass), chunk_size=chunk_size, names=gdata.var_names)
    return sums[0] / int(qc_pass.sum()), True


def _recorded_snps(gdata, kinship) -> tuple[np.ndarray, str] | None:
    """SNP mask and method that ``uns[kinship]`` records for ``obsp[kinship]`` (None when it records none)."""
    entry = gdata.uns.get(kinship)
    if not isinstance(entry, dict) or "snps" not in entry:
        return None
    snps = np.asarray(entry["snps"])
    method = entry.get("params", {}).get("method")
    if snps.dtype != bool or snps.shape != (gdata.n_vars,) or method not in ("centered", "standardized"):
        return None
    return snps, str(method)


def _check_loco_kinship(gdata, kinship) -> str:
    """For ``loco=True``: how the per-chromosome kinships are obtained; raise when they cannot be.

    ``"stored"``: from ``uns[f"{kinship}_loco"]``, which must belong to ``obsp[kinship]`` (same shape, trace and
    sum of squares). ``"rebuild"``: ``obsp[kinship]`` has no stored parts but ``uns[kinship]`` records its SNPs and
    method (a kinship of :func:`scgenome.pp.kinship` or of an earlier :func:`gwas`): the parts are computed from
    those and checked to add up to it. ``"compute"``: ``None`` or a key absent from ``obsp``. A kinship array, or an
    ``obsp`` key with neither, is refused (its parts cannot be known).
    """
    how = (
        "Compute the kinship with its per-chromosome parts first (sg.pp.kinship(gdata, loco=True, ...), then "
        "kinship='<its key_added>'), or pass kinship=None to build the LOCO kinships from the genotypes here."
    )
    if isinstance(kinship, np.ndarray):
        msg = f"loco=True needs the per-chromosome parts of the kinship, which a kinship array does not carry. {how}"
        raise ValueError(msg)
    if kinship is None or kinship not in gdata.obsp:
        return "compute"
    loco_key = f"{kinship}_loco"
    if loco_key not in gdata.uns:
        if _recorded_snps(gdata, kinship) is not None:
            return "rebuild"
        msg = (
            f"loco=True needs the per-chromosome parts of obsp[{kinship!r}] (uns[{loco_key!r}]), which are absent, "
            f"and uns[{kinship!r}] does not record the SNPs it was built on (a kinship set by hand). {how}"
        )
        raise ValueError(msg)
    info = gdata.uns[loco_key]
    K = _obsp_kinship(gdata, kinship)
    part = np.asarray(info["partial"])
    stale = (
        f"uns[{loco_key!r}] does not belong to obsp[{kinship!r}] ({{why}}): the kinship was replaced (e.g. by "
        "another method or SNP set) or the individuals subset after the LOCO parts were stored. "
        f"{how}"
    )
    if part.ndim != 3 or part.shape[1:] != K.shape or len(info["chroms"]) != part.shape[0]:
        raise ValueError(stale.format(why=f"parts of shape {part.shape}, kinship {K.shape}"))
    if "kinship_trace" in info:
        ref, rtol = {k: float(info[k]) for k in ("kinship_trace", "kinship_sumsq")}, 1e-6
    else:  # parts stored by an older version: compare with the kinship they add up to (float32 sums)
        ref, rtol = kinship_fingerprint(part.astype(np.float64).sum(0) / int(np.sum(info["n_snps"]))), 1e-4
    _check_fingerprint(K, ref, rtol, stale)
    return "stored"


def _obsp_kinship(gdata, kinship) -> np.ndarray:
    K = gdata.obsp[kinship]
    return K.toarray() if hasattr(K, "toarray") else np.asarray(K, dtype=np.float64)


def _check_fingerprint(K, ref, rtol, template) -> None:
    for k, v in kinship_fingerprint(K).items():
        if not np.isclose(v, ref[k], rtol=rtol, atol=1e-12):
            what = k.removeprefix("kinship_")
            raise ValueError(template.format(why=f"{what} {v:.6g} of the kinship, {ref[k]:.6g} expected"))


def _loco_groups(gdata, kinship, K_full, mode, tested, chrom_of, qc_pass, chunk_size):
    """SNP groups ``(chrom, columns, kinship of it)`` for LOCO, and what to store when the kinship is computed here.

    ``mode`` is what :func:`_check_loco_kinship` returned. The parts (stored, rebuilt from the SNPs and method that
    ``uns[kinship]`` records, or computed on the QC'd SNPs) give ``(K p - S_c) / (p - p_c)``; a tested chromosome
    absent from them (it contributed no SNP to the kinship, e.g. X with an autosomal kinship) uses the full
    kinship. Each chromosome's kinship is built when its group is reached (one n x n matrix at a time).
    Returns the groups, the full kinship and the ``uns[f"{kinship}_loco"]`` entry (``"compute"`` only).
    """
    tested_chroms = list(pd.unique(chrom_of[tested]))
    entry = None
    if mode == "stored":
        info = gdata.uns[f"{kinship}_loco"]
        chroms = [str(c) for c in info["chroms"]]
        parts, counts = info["partial"], np.asarray(info["n_snps"], dtype=np.int64)
    else:
        if mode == "rebuild":
            snps, method = _recorded_snps(gdata, kinship)
            idx = np.flatnonzero(snps)
            chrom_k = check_chrom(gdata.var, snps)[idx]
            logger.info("gwas: building the LOCO parts of obsp[%r] from the %d SNPs it records", kinship, len(idx))
        else:
            idx, method = np.flatnonzero(qc_pass), "centered"
            chrom_k = chrom_of[idx]
        chroms_u, grp = np.unique(chrom_k, return_inverse=True)
        if mode == "compute" and len(chroms_u) < 2:
            msg = (
                f"loco=True needs SNPs on at least two chromosomes (found {len(chroms_u)}, {list(chroms_u)}, among "
                f"the {len(idx)} SNPs that pass the QC): each chromosome's kinship is built from the others. "
                "Use loco=False."
            )
            raise ValueError(msg)
        parts, counts = kinship_sums(
            gdata.X, idx, method=method, groups=grp, chunk_size=chunk_size, names=gdata.var_names
        )
        chroms = [str(c) for c in chroms_u]
        if mode == "rebuild":
            template = (
                f"obsp[{kinship!r}] is not the kinship of the SNPs recorded in uns[{kinship!r}] ({{why}}), so its "
                "per-chromosome parts cannot be rebuilt (was the matrix replaced by hand?). Compute it with "
                "sg.pp.kinship(gdata, loco=True, ...), or pass kinship=None."
            )
            _check_fingerprint(K_full, kinship_fingerprint(parts.sum(0) / int(counts.sum())), 1e-6, template)
        else:
            K_full = parts.sum(0) / int(counts.sum())
            entry = loco_entry(chroms_u, counts, parts, K_full)
    p_tot = int(counts.sum())
    pos = {c: i for i, c in enumerate(chroms)}
    only = [c for c in tested_chroms if c in pos and p_tot - counts[pos[c]] <= 0]
    if only:
        msg = (
            f"loco=True needs a kinship built on SNPs of at least two chromosomes, but the kinship {kinship!r} "
            f"holds only chromosome {only[0]!r}, which is tested: leaving it out leaves no SNP. Use loco=False, or a "
            "kinship on more chromosomes."
        )
        raise ValueError(msg)
    absent = [c for c in tested_chroms if c not in pos]
    if absent:
        logger.info("gwas: chromosome(s) %s not in the kinship; tested with the full kinship", absent)

    def kin(c):
        if c not in pos:
            return K_full
        g = pos[c]
        return (K_full * p_tot - np.asarray(parts[g], dtype=np.float64)) / (p_tot - int(counts[g]))

    groups = [(c, tested[chrom_of[tested] == c], kin) for c in tested_chroms]
    return groups, K_full, entry


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


def _linear_pass(X, rows, W, y, maf, max_missing, chunk_size, names=None):
    """QC statistics and the linear-model tests of the passing SNPs in one pass over the genotypes.

    Large inputs go through the compiled :func:`~scgenome.tl._gwas._model.linear_sums`, which reads a
    C- or F-ordered float32 ``X`` in place (no copy of a chunk); others through the numpy version on chunks.
    Every chunk is checked to hold dosages in [0, 2] or NaN (``names`` name the first offending SNP). Returns the QC
    statistics, the test results and which SNPs are collinear with the covariates (not tested).
    """
    p = X.shape[1]
    n = len(y)
    n_miss = np.zeros(p, dtype=np.int64)
    af = np.full(p, np.nan)
    mono = np.ones(p, dtype=bool)
    out = {f: np.full(p, np.nan) for f in ("beta", "se", "pval", "p_lrt", "p_score")}
    collinear = np.zeros(p, dtype=bool)
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
            check_dosages(X[:, sl], names=None if names is None else names[sl])
            nm, mono[sl], sx, sm, sxx = linear_sums(X, ridx, sl.start, sl.stop, Vt)
        else:
            Gf = genotype_block(X, r, sl, dtype=np.float32, names=names)
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
        collinear[sl.start + keep] = res.pop("collinear")
        for f, v in res.items():
            out[f][sl.start + keep] = v
    stats_ = pd.DataFrame({"n_miss": n_miss, "missing": n_miss / max(n, 1), "af": af, "monomorphic": mono})
    return stats_, out, collinear


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
    loco_info: dict | None = field(default=None)  # uns[f"{kinship}_loco"] of the kinship computed here (LOCO)


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
    loco_mode = None
    chrom_of = None
    if loco and method == "lmm":
        chrom_of = check_chrom(gdata.var)
        loco_mode = _check_loco_kinship(gdata, kinship)
    rows, y, W = _design(gdata, phenotype, covariates)
    n, c = W.shape

    # QC on the analysed individuals (GEMMA semantics); the linear model tests in the same pass over X
    lm_res = None
    collinear = np.zeros(gdata.n_vars, dtype=bool)
    if method == "linear":
        stats_, lm_res, collinear = _linear_pass(
            gdata.X, rows, W, y, maf, max_missing, chunk_size, names=gdata.var_names
        )
    else:
        stats_ = snp_stats(
            gdata.X, None if rows.all() else rows, chunk_size=chunk_size, names=gdata.var_names, desc="gwas QC"
        )
    qc_pass = (qc_mask(stats_, maf, max_missing) == "").to_numpy()
    tested = np.flatnonzero(qc_pass)
    if len(tested) == 0:
        msg = f"No SNP passes the QC (maf={maf}, max_missing={max_missing}) on the {n} analysed individuals."
        raise ValueError(msg)

    computed_k = False
    K_full = None
    loco_info = None
    groups = [(None, tested, None)]
    if loco_mode == "compute":
        if kinship is not None:
            logger.info("gwas: obsp[%r] not found; computing the centred kinship and its LOCO parts", kinship)
        groups, K_full, loco_info = _loco_groups(gdata, kinship, None, "compute", tested, chrom_of, qc_pass, chunk_size)
        computed_k = True
    elif method == "lmm":
        K_full, computed_k = _kinship_matrix(gdata, kinship, rows, qc_pass, chunk_size)
        if loco_mode is not None:
            groups, _, _ = _loco_groups(gdata, kinship, K_full, loco_mode, tested, chrom_of, qc_pass, chunk_size)
    kin_what = None
    if method == "lmm":
        kin_what = f"obsp[{kinship!r}]"
        if isinstance(kinship, np.ndarray):
            kin_what = "array"
        elif computed_k:
            kin_what = "computed from the genotypes"
        K_rows = K_full[np.ix_(rows, rows)]
        n_bad = int((~np.isfinite(K_rows)).sum())
        if n_bad:
            msg = (
                f"The kinship ({kin_what}, shape {K_full.shape}) has {n_bad} non-finite (NaN or infinite) entries "
                f"among the {n} analysed individuals; recompute it (sg.pp.kinship) or drop the individuals concerned."
            )
            raise ValueError(msg)
        check_kinship_symmetric(K_rows, what=f"{kin_what}, on the {n} analysed individuals")
        del K_rows

    p = gdata.n_vars
    res = {f: np.full(p, np.nan) for f in (LMM_FIELDS if method == "lmm" else LM_FIELDS)}
    res["af"][tested] = stats_["af"].to_numpy()[tested]
    res["n_miss"][tested] = stats_["n_miss"].to_numpy()[tested]
    if method == "linear":
        res["n_obs"][tested] = n - res["n_miss"][tested]

    # groups of SNPs that share a kinship: all SNPs, or one group per chromosome with LOCO (built above)
    null_models = {}
    eig = None
    if lm_res is not None:
        for f, v in lm_res.items():
            res[f][tested] = v[tested]
        groups = []
    # the LMM (the linear model was tested in the QC pass): one kinship per group of SNPs
    q_w = np.linalg.qr(W)[0] if groups else None  # basis of the covariates, for the collinearity check
    bar = progress(total=len(tested), desc="gwas (lmm)", unit="SNP", **({} if groups else {"disable": True}))
    for chrom, idx_g, kin in groups:
        K = K_full if kin is None else kin(chrom)
        evals, U = eigen_kinship(K[np.ix_(rows, rows)], what=kin_what if chrom is None else f"{kin_what}, LOCO {chrom}")
        del K
        if chrom is None:
            eig = (evals, U)
        UtW, Uty = U.T @ W, U.T @ y
        null = fit_null(evals, UtW, Uty)
        null_models[chrom] = null.as_dict()
        for sl in iter_chunks(len(idx_g), chunk_size):
            idx = idx_g[sl]
            G = genotype_block(gdata.X, rows, idx, names=gdata.var_names)
            miss = np.isnan(G)
            if miss.any():
                mean = np.nanmean(G, 0)
                G = np.where(miss, mean, G)
            coll = collinear_with(q_w, G)
            collinear[idx[coll]] = True
            if not coll.all():
                ok = idx[~coll]
                Gk = G[:, ~coll] if coll.any() else G
                out = lmm_chunk(evals, UtW, Uty, (Gk.T @ U).T, null)  # (U'G) as a view of SNP-major G'U
                out["pval"] = out.pop("p_wald")
                for f, v in out.items():
                    res[f][ok] = v
            bar.update(len(idx))
    bar.close()

    n_coll = int(collinear[tested].sum())
    if n_coll:
        names = gdata.var_names[tested[collinear[tested]]][:5].tolist()
        warnings.warn(
            f"{n_coll} SNP(s) passing the QC are collinear with the covariates {covariates} among the {n} analysed "
            f"individuals (e.g. {names}; a SNP used as covariate, as in a conditional analysis): not tested, their "
            "results are NaN.",
            UserWarning,
            stacklevel=3,
        )
        for v in res.values():
            v[tested[collinear[tested]]] = np.nan
        tested = tested[~collinear[tested]]

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
        "n_snps_collinear": n_coll,
        "lambda_gc": lgc,
    }
    if method == "lmm":
        info["null_model"] = null_models[None] if not loco else {str(k): v for k, v in null_models.items()}
    stored = computed_k and isinstance(kinship, str)
    return _GwasResult(
        res, info, K_full if stored else None, kin_entry, rows, eig, tested, loco_info if stored else None
    )


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
        over all of them, on the SNPs that pass the QC on the analysed individuals) and stored under that key
        (with ``loco=True`` together with its per-chromosome parts, ``uns[f"{kinship}_loco"]``); ``None`` computes
        it the same way (even when ``obsp["kinship"]`` exists) without storing it.
        A given or stored kinship must be symmetric and, once double-centred, positive semi-definite on the analysed
        individuals (relative tolerance 1e-5 of its largest entry and largest eigenvalue, far above round-off);
        otherwise an error names it before anything is written.
    loco
        Leave one chromosome out: SNPs of each chromosome are tested with a kinship built without that
        chromosome, ``(K p - S_c) / (p - p_c)`` from the per-chromosome parts ``S_c`` of the kinship ``K``. With
        ``kinship`` an ``obsp`` key, the parts are ``uns[f"{kinship}_loco"]`` (written by
        :func:`scgenome.pp.kinship` with ``loco=True``, or by an earlier ``gwas(loco=True)`` that computed the
        kinship), which must belong to ``obsp[kinship]`` (same shape, trace and sum of squares, recorded with
        them; else an error). Without stored parts they are rebuilt from the SNPs and method that
        ``uns[kinship]`` records (a kinship of :func:`scgenome.pp.kinship` or of an earlier ``gwas``), checked to
        add up to ``obsp[kinship]``. A key absent from ``obsp``, or ``None``, computes them here on the QC'd SNPs,
        which must span at least two chromosomes. A kinship array, or an ``obsp`` key with neither parts nor a
        record of its SNPs, is an error (its parts cannot be known: use ``sg.pp.kinship(..., loco=True)`` or
        ``kinship=None``). A tested chromosome absent from the parts (it gave no SNP to the kinship, e.g.
        chromosome X with an autosomal kinship) is tested with the full kinship. Needs ``var["chrom"]`` without
        missing values. One eigendecomposition per chromosome. With a polygenic phenotype every SNP in LD with the
        polygenic signal is truly associated and no longer absorbed by the kinship, so lambda_GC is above 1 by
        design (about 1.4-1.8 on simulated polygenic cohorts); on pure noise LOCO stays calibrated (1.08-1.13
        measured) while the standard LMM is slightly deflated by proximal contamination (Yang et al. 2014).
    maf, max_missing
        SNP QC on the analysed individuals (GEMMA ``-maf``, ``-miss``): tested SNPs have allele-1 frequency in
        ``[maf, 1 - maf]``, missing rate at most ``max_missing`` and are polymorphic.
    layer
        Read the genotypes from ``layers[layer]`` (of the genotype modality for a MuData) instead of ``X``.
    key_added
        Prefix of the ``var`` columns and ``uns`` key. The ``var[f"{key_added}_..."]`` columns listed under
        Returns that a previous run under the same key wrote are dropped first (other columns are left alone).
        It must differ from the kinship key (and its ``_loco`` entry), whose ``uns`` entry it would overwrite.
    chunk_size
        SNPs per chunk (memory about ``10 x n x chunk_size`` doubles).
    mod
        Names of the genotype and phenotype modalities of a MuData (ignored for an AnnData).
    copy
        Return a modified copy (AnnData or MuData) instead of writing into ``gdata``. Not for a backed AnnData
        (an error, raised before any computing: use ``copy=False`` or ``gdata.to_memory()``).

    Returns
    -------
    ``None`` (or the modified copy with ``copy=True``), after setting in the AnnData (for a MuData, in its genotype
    modality ``mod[0]``), with NaN for SNPs not tested (failing the QC, or collinear with the covariates, see
    Notes):

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
      ``n_snps_tested``, ``n_snps_collinear`` (SNPs passing the QC but collinear with the covariates, not
      tested), ``lambda_gc`` (genomic control of the Wald p-values);
    - ``obsp[kinship]`` and ``uns[kinship]`` (``params``: ``method``, ``maf``, ``max_missing``, ``n_snps``,
      ``n_samples_qc``; ``snps``: the SNPs used) when the LMM computed the kinship under an absent key, and with
      ``loco=True`` ``uns[f"{kinship}_loco"]`` (as :func:`scgenome.pp.kinship` writes it).

    Raises
    ------
    ValueError
        Before anything is written (the input is unchanged): bad arguments or obs columns, genotypes outside
        [0, 2] (missing calls must be NaN, not -9 or -127), a kinship of the wrong shape or with non-finite
        entries, ``loco=True`` without usable per-chromosome parts (see ``loco``), ``key_added`` equal to the
        kinship key, ``copy=True`` on a backed AnnData, or no SNP passing the QC.

    Warns
    -----
    UserWarning
        When SNPs passing the QC are collinear with the covariates (see Notes).

    Notes
    -----
    Zhou & Stephens (2012), *Genome-wide efficient mixed-model analysis for association studies*, Nat Genet 44:821,
    as implemented in GEMMA 0.98: the sub-kinship of the analysed individuals is double-centred and
    eigendecomposed once; the null model is fitted by REML (PVE, vg, ve) and ML; per SNP, lambda is optimised by
    REML for the Wald test and by ML for the likelihood-ratio test, and the score test uses the null ML lambda.
    Lambda is searched in [1e-5, 1e5] on GEMMA's grid of 10 log-intervals and refined by Newton steps, for all
    SNPs of a chunk at once with matrix products. Missing genotypes are replaced by the SNP mean over the analysed
    individuals; individuals with a missing (NaN) phenotype or covariate are dropped, and infinite values are an
    error. Genotypes must be dosages in [0, 2] or NaN: every block is checked as it is read (numpy, sparse, dask or
    backed ``X``). A SNP whose (imputed) dosages the covariates explain (residual variance at most 1e-8 of its
    variance, e.g. the SNP itself used as covariate in a conditional analysis, GEMMA ``-c``) is not tested: its
    results are NaN, it is not counted in ``n_snps_tested`` and a warning says how many. Everything is validated
    before anything is written: on an error the input is unchanged.

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
    check_copy_backed(gdata, copy, "sg.tl.gwas")
    if isinstance(kinship, str) and key_added in (kinship, f"{kinship}_loco"):
        msg = (
            f"key_added={key_added!r} collides with the kinship key {kinship!r}: the GWAS summary would overwrite "
            f"uns[{key_added!r}] (the kinship's own entry). Choose another key_added."
        )
        raise ValueError(msg)
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
        if out.loco_info is not None:
            adata.uns[f"{kinship}_loco"] = out.loco_info
        else:
            adata.uns.pop(f"{kinship}_loco", None)  # parts of a kinship no longer stored
    adata.uns[key_added] = out.info
    logger.info(
        "gwas: %d individuals, %d SNPs tested, lambda_GC %.3f",
        out.info["n_analysed"],
        out.info["n_snps_tested"],
        out.info["lambda_gc"],
    )
    return result if copy else None


__all__ = ["gwas"]

"""Genetic relatedness (kinship) matrices, GEMMA ``-gk 1`` / ``-gk 2``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from scipy.linalg.blas import dsyrk

from .._logging import logger
from .._utils import progress
from .._validation import check_copy_backed
from ._genotypes import (
    check_chrom,
    genotype_block,
    iter_chunks,
    resolve_mask,
    resolve_samples,
)
from ._qc import qc_mask, snp_stats

if TYPE_CHECKING:
    from collections.abc import Sequence

    from anndata import AnnData


def _standardise(G: np.ndarray, method: str) -> np.ndarray:
    """GEMMA's kinship transform of a block (individuals x SNPs): mean-impute, centre, optionally scale."""
    miss = np.isnan(G)
    n_obs = G.shape[0] - miss.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n_obs > 0, np.nansum(G, 0) / np.maximum(n_obs, 1), 0.0)
    G = np.where(miss, mean, G) - mean
    if method == "standardized":
        var = (G * G).mean(0)
        scale = np.where(var > 0, 1.0 / np.sqrt(np.where(var > 0, var, 1.0)), 1.0)
        G *= scale
    return G


def kinship_sums(
    X,
    snp_idx: np.ndarray,
    *,
    method: str = "centered",
    groups: np.ndarray | None = None,
    chunk_size: int = 2000,
    names: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sum ``Xc Xc'`` over the SNPs ``snp_idx``, per group (``groups[j]`` in 0..g-1) or in total.

    Returns the upper-triangle-filled symmetric sums, shape ``(g, n, n)``, and the SNP counts per group. Every
    block read is checked to hold dosages in [0, 2] or NaN (``names``, the var names, name an offending SNP).
    """
    n = X.shape[0]
    n_groups = 1 if groups is None else int(groups.max()) + 1 if len(groups) else 1
    sums = np.zeros((n_groups, n, n), order="C")
    counts = np.zeros(n_groups, dtype=np.int64)
    grp = np.zeros(len(snp_idx), dtype=np.int64) if groups is None else groups
    for sl in progress(list(iter_chunks(len(snp_idx), chunk_size)), desc="kinship"):
        idx = snp_idx[sl]
        G = _standardise(genotype_block(X, None, idx, names=names), method)
        gsl = grp[sl]
        for g in np.unique(gsl):
            Gg = np.asfortranarray(G[:, gsl == g])
            # C-ordered (n, n) viewed as Fortran is its transpose: fill the "upper" of the transpose
            Kt = sums[g].T
            dsyrk(1.0, Gg, beta=1.0, c=Kt, trans=0, lower=1, overwrite_c=1)
            counts[g] += Gg.shape[1]
    for g in range(n_groups):
        iu = np.triu_indices(n, 1)
        sums[g][iu[1], iu[0]] = sums[g][iu]
    return sums, counts


def kinship_fingerprint(K: np.ndarray) -> dict[str, float]:
    """Trace and sum of squares of a kinship: stored with its LOCO parts to check they belong to it."""
    K = np.asarray(K, dtype=np.float64)
    return {"kinship_trace": float(np.trace(K)), "kinship_sumsq": float(np.einsum("ij,ij->", K, K))}


def loco_entry(chroms: np.ndarray, counts: np.ndarray, sums: np.ndarray, K: np.ndarray) -> dict:
    """Build the ``uns[f"{key}_loco"]`` entry from the per-chromosome sums ``sums`` of the total kinship ``K``."""
    return {
        "chroms": np.asarray(chroms, dtype=str),
        "n_snps": np.asarray(counts, dtype=np.int64),
        "partial": sums.astype(np.float32),
        **kinship_fingerprint(K),
    }


def kinship(
    gdata: AnnData,
    *,
    method: Literal["centered", "standardized"] = "centered",
    snps: np.ndarray | Sequence[str] | str | None = None,
    samples: str | Sequence[str] | np.ndarray | None = None,
    maf: float = 0.01,
    max_missing: float = 0.05,
    loco: bool = False,
    key_added: str = "kinship",
    chunk_size: int = 2000,
    copy: bool = False,
) -> AnnData | None:
    """Genetic relatedness matrix as GEMMA computes it (``-gk 1`` centred, ``-gk 2`` standardised).

    Parameters
    ----------
    gdata
        Genotype AnnData (individuals x SNPs), ``X`` dosages in [0, 2], NaN = missing (numpy, sparse, dask or
        backed); other values (e.g. -9 or -127 missing codes) are an error.
    method
        ``"centered"``: ``K = Xc Xc' / p`` with each SNP centred on its mean (GEMMA ``-gk 1``);
        ``"standardized"``: each centred SNP also divided by its standard deviation (GEMMA ``-gk 2``).
    snps
        SNPs to use: a boolean mask over ``var``, SNP names, or a boolean ``.var`` column name. ``None``: the
        SNPs passing :func:`scgenome.pp.snp_qc` (``maf``, ``max_missing``) computed on ``samples``, as GEMMA
        chooses them.
    samples
        The analysed individuals for choosing the SNPs (as in :func:`scgenome.pp.snp_qc`; at least one), e.g.
        ``"pheno1"`` reproduces GEMMA's ``-gk`` run, which filters SNPs on the individuals with phenotype 1. The
        matrix itself always covers, and is centred over, all individuals.
    maf, max_missing
        QC thresholds used when ``snps`` is ``None``.
    loco
        Also store, per chromosome (``var["chrom"]``, needed for every SNP used), the part of the sum contributed
        by that chromosome, so that the leave-one-chromosome-out kinship is ``(K * p - S_c) / (p - p_c)``. Without
        ``loco``, an earlier ``uns[f"{key_added}_loco"]`` is removed (it belonged to the kinship replaced here).
    key_added
        Name of the ``obsp`` entry.
    chunk_size
        SNPs per chunk (memory is ``n x chunk_size`` doubles plus the ``n x n`` result).
    copy
        Return a modified copy instead of writing into ``gdata``. Not for a backed AnnData (an error, raised
        before any computing: use ``copy=False`` or ``gdata.to_memory()``).

    Returns
    -------
    ``None`` (or the copy with ``copy=True``), after setting

    - ``gdata.obsp[key_added]``: the n x n kinship (float64);
    - ``gdata.uns[key_added]``: ``params`` (method, maf, max_missing, n_snps, n_samples_qc) and ``snps``
      (boolean mask over var of the SNPs used);
    - with ``loco=True``, ``gdata.uns[f"{key_added}_loco"]``: ``chroms`` (chromosome names), ``n_snps`` (SNPs
      per chromosome), ``partial`` (float32 array chromosomes x n x n of the per-chromosome sums
      ``Xc_c Xc_c'``), and ``kinship_trace``, ``kinship_sumsq`` (trace and sum of squares of ``obsp[key_added]``,
      which :func:`scgenome.tl.gwas` checks so that parts of another kinship are never combined with it); the
      kinship leaving chromosome ``c`` out is ``(K * p - partial[c]) / (p - n_snps[c])`` (see
      :func:`scgenome.tl.gwas` with ``loco=True``).

    Raises
    ------
    ValueError
        Before anything is written: a bad ``method``, ``samples`` selecting no individual, no SNP left, genotypes
        outside [0, 2] (missing must be NaN), ``loco=True`` with a SNP used lacking ``var["chrom"]``, or
        ``copy=True`` on a backed AnnData.

    Notes
    -----
    Follows GEMMA 0.98 (Zhou & Stephens 2012): missing genotypes are replaced by the SNP mean over all
    individuals, every SNP is centred over all individuals, and the SNP set is chosen by the QC on the analysed
    individuals. Computed in chunks with the BLAS ``syrk`` kernel.

    Examples
    --------
    >>> import anndata as ad, numpy as np
    >>> import scgenome as sg
    >>> rng = np.random.default_rng(0)
    >>> g = ad.AnnData(rng.binomial(2, 0.3, size=(20, 100)).astype(np.float32))
    >>> sg.pp.kinship(g)
    >>> g.obsp["kinship"].shape
    (20, 20)
    """
    if method not in ("centered", "standardized"):
        msg = f"method must be 'centered' or 'standardized', got {method!r}."
        raise ValueError(msg)
    check_copy_backed(gdata, copy, "sg.pp.kinship")
    if loco and "chrom" not in gdata.var.columns:
        check_chrom(gdata.var)  # raises: no chromosome column
    rows = resolve_samples(gdata, samples)
    n_samples_qc = int(rows.sum())
    mask = _snp_mask(gdata, snps, rows, maf, max_missing, chunk_size)
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        msg = "No SNPs left for the kinship (check snps= or the QC thresholds)."
        raise ValueError(msg)
    groups = None
    chroms = None
    if loco:
        chrom = check_chrom(gdata.var, mask)[idx]
        chroms, groups = np.unique(chrom, return_inverse=True)
    sums, counts = kinship_sums(
        gdata.X, idx, method=method, groups=groups, chunk_size=chunk_size, names=gdata.var_names
    )
    total = sums.sum(0) if loco else sums[0]
    K = total / len(idx)
    out = gdata.copy() if copy else gdata
    out.obsp[key_added] = K
    out.uns[key_added] = {
        "params": {
            "method": method,
            "maf": maf,
            "max_missing": max_missing,
            "n_snps": len(idx),
            "n_samples_qc": n_samples_qc,
        },
        "snps": mask,
    }
    if loco:
        out.uns[f"{key_added}_loco"] = loco_entry(chroms, counts, sums, K)
    elif f"{key_added}_loco" in out.uns:
        logger.info("kinship: removing uns[%r] (the LOCO parts of the replaced kinship)", f"{key_added}_loco")
        del out.uns[f"{key_added}_loco"]
    logger.info("kinship: %d individuals, %d SNPs, method=%s", gdata.n_obs, len(idx), method)
    return out if copy else None


def _snp_mask(gdata, snps, rows, maf, max_missing, chunk_size) -> np.ndarray:
    """SNPs of the kinship: ``snps`` as given, or those passing the QC on the individuals ``rows`` (boolean)."""
    if snps is None:
        stats = snp_stats(
            gdata.X, None if rows.all() else rows, chunk_size=chunk_size, names=gdata.var_names, desc="kinship QC"
        )
        return (qc_mask(stats, maf, max_missing) == "").to_numpy()
    return resolve_mask(gdata.var_names, gdata.var, snps, what="snps", axis="var")


__all__ = ["kinship", "kinship_fingerprint", "kinship_sums", "loco_entry"]

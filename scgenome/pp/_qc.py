"""SNP quality control with GEMMA's semantics."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._logging import logger
from .._utils import progress
from ._genotypes import genotype_block, iter_chunks, resolve_samples

if TYPE_CHECKING:
    from collections.abc import Sequence

    from anndata import AnnData


def block_stats(G: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Missing count, allele-1 frequency and monomorphic flag of each column of a dense block (NaN = missing)."""
    miss = np.isnan(G)
    nm = miss.sum(0)
    n_obs = G.shape[0] - nm
    total = (np.where(miss, 0, G) if nm.any() else G).sum(0, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        af = total / (2.0 * n_obs)
    # fmax/fmin ignore NaN (missing); all-missing SNPs give NaN and count as monomorphic
    mono = ~(np.fmax.reduce(G, axis=0) > np.fmin.reduce(G, axis=0))
    return nm, af, mono


def snp_stats(
    X, rows: np.ndarray | None, *, chunk_size: int = 2000, names: pd.Index | None = None, desc: str = "snp_qc"
) -> pd.DataFrame:
    """Per-SNP ``n_miss``, missing rate, allele-1 frequency and monomorphic flag over ``rows``.

    One pass over the SNPs in chunks, with a progress bar (``desc``); every block is checked to hold dosages in
    [0, 2] or NaN (``names``, the var names, name the first offending SNP).
    """
    p = X.shape[1]
    n_miss = np.zeros(p, dtype=np.int64)
    af = np.full(p, np.nan)
    mono = np.ones(p, dtype=bool)
    n = X.shape[0] if rows is None else int(np.count_nonzero(rows)) if rows.dtype == bool else len(rows)
    for sl in progress(list(iter_chunks(p, chunk_size)), desc=desc):
        n_miss[sl], af[sl], mono[sl] = block_stats(genotype_block(X, rows, sl, dtype=np.float32, names=names))
    miss_rate = n_miss / max(n, 1)
    return pd.DataFrame({"n_miss": n_miss, "missing": miss_rate, "af": af, "monomorphic": mono})


def check_qc_thresholds(maf: float, max_missing: float) -> None:
    """Raise unless ``maf`` is in [0, 0.5) and ``max_missing`` in [0, 1]."""
    if not 0 <= maf < 0.5:
        msg = f"maf must be in [0, 0.5), got {maf}."
        raise ValueError(msg)
    if not 0 <= max_missing <= 1:
        msg = f"max_missing must be in [0, 1], got {max_missing}."
        raise ValueError(msg)


def qc_mask(stats: pd.DataFrame, maf: float, max_missing: float) -> pd.Series:
    """GEMMA's filter: missing rate <= max_missing, maf <= allele-1 frequency <= 1 - maf, polymorphic."""
    af = stats["af"].to_numpy()
    fail_miss = stats["missing"].to_numpy() > max_missing
    fail_maf = ~((af >= maf) & (af <= 1.0 - maf))  # NaN (all missing) fails too
    fail_mono = stats["monomorphic"].to_numpy()
    reason = np.full(len(af), "", dtype=object)
    reason[fail_mono] = "monomorphic"
    reason[(reason == "") & fail_maf] = "maf"
    reason[(reason == "") & fail_miss] = "missing"
    return pd.Series(reason, index=stats.index)


def snp_qc(
    gdata: AnnData,
    *,
    maf: float = 0.01,
    max_missing: float = 0.05,
    samples: str | Sequence[str] | np.ndarray | None = None,
    inplace: bool = True,
    subset: bool = False,
    chunk_size: int = 2000,
) -> pd.DataFrame | None:
    """Filter SNPs by allele frequency, missingness and polymorphism, with GEMMA's semantics.

    Parameters
    ----------
    gdata
        Genotype AnnData (individuals x SNPs), ``X`` dosages of ``allele1`` in [0, 2], NaN = missing (numpy,
        sparse, dask or backed). Other values (missing codes such as -9 or -127, infinite values) raise a
        ``ValueError`` naming the first offending SNP, before anything is written.
    maf
        Keep SNPs whose allele-1 frequency lies in ``[maf, 1 - maf]`` (GEMMA ``-maf``).
    max_missing
        Keep SNPs whose missing rate is at most this (GEMMA ``-miss``).
    samples
        The analysed individuals on which the statistics are computed: ``None`` (all), an ``.obs`` column
        (boolean, or an object column whose non-missing values are all True/False: its True rows, missing = not
        selected; otherwise its non-missing rows, e.g. ``"pheno1"`` as GEMMA does), a boolean mask or a list of obs
        names. A selection of no individual is an error.
    inplace
        Write the results into ``gdata``; else return them as a DataFrame.
    subset
        With ``inplace=True``, also drop the failing SNPs from ``gdata``.
    chunk_size
        SNPs per chunk (one progress bar over the chunks).

    Returns
    -------
    With ``inplace=False`` a DataFrame indexed by SNP with ``n_miss``, ``missing``, ``af``, ``monomorphic``,
    ``fail`` (``""``, ``"monomorphic"``, ``"maf"`` or ``"missing"``) and ``pass``. Otherwise ``None``, and sets

    - ``gdata.var["snp_qc_pass"]`` (bool), ``["snp_qc_af"]``, ``["snp_qc_missing"]``, ``["snp_qc_fail"]``
      (reason a SNP was removed, ``""`` for kept SNPs);
    - ``gdata.uns["snp_qc"]``: ``params`` (maf, max_missing, n_samples) and ``n_removed`` per reason, ``n_pass``.

    Notes
    -----
    Same as GEMMA (Zhou & Stephens 2012): statistics over the analysed individuals with missing genotypes
    ignored; SNPs whose genotypes are all equal among them (monomorphic) are removed, whatever ``maf``.

    Examples
    --------
    >>> import anndata as ad, numpy as np
    >>> import scgenome as sg
    >>> X = np.array([[0, 1, 2], [0, 2, np.nan], [0, 1, 1]], dtype=np.float32)
    >>> g = ad.AnnData(X)
    >>> sg.pp.snp_qc(g, max_missing=0.5)
    >>> g.var["snp_qc_fail"].tolist()
    ['monomorphic', '', '']
    """
    rows = resolve_samples(gdata, samples)
    check_qc_thresholds(maf, max_missing)
    stats = snp_stats(gdata.X, None if rows.all() else rows, chunk_size=chunk_size, names=gdata.var_names)
    stats.index = gdata.var_names
    stats["fail"] = qc_mask(stats, maf, max_missing)
    stats["pass"] = stats["fail"] == ""
    counts = stats["fail"].value_counts()
    n_removed = {k: int(counts.get(k, 0)) for k in ("monomorphic", "maf", "missing")}
    logger.info("snp_qc: %d of %d SNPs pass (%s)", int(stats["pass"].sum()), len(stats), n_removed)
    if not inplace:
        return stats
    gdata.var["snp_qc_pass"] = stats["pass"].to_numpy()
    gdata.var["snp_qc_af"] = stats["af"].to_numpy()
    gdata.var["snp_qc_missing"] = stats["missing"].to_numpy()
    gdata.var["snp_qc_fail"] = stats["fail"].to_numpy().astype(str)
    gdata.uns["snp_qc"] = {
        "params": {"maf": maf, "max_missing": max_missing, "n_samples": int(rows.sum())},
        "n_removed": n_removed,
        "n_pass": int(stats["pass"].sum()),
    }
    if subset:
        gdata._inplace_subset_var(stats["pass"].to_numpy())
    return None


__all__ = ["block_stats", "qc_mask", "snp_qc", "snp_stats"]

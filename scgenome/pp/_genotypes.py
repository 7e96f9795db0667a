"""Chunked access to genotype matrices (dense, sparse or dask) shared by QC, kinship and GWAS."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._validation import check_dosages, is_boolish

if TYPE_CHECKING:
    from collections.abc import Iterator

    from anndata import AnnData


#: elements (rows x all SNPs) of a backed CSR matrix read at a time by :func:`genotype_block`
CSR_READ_ELEMENTS = 10_000_000


def is_backed_csr(X) -> bool:
    """Whether ``X`` is an anndata backed CSR dataset (``read_h5ad(..., backed="r")``)."""
    try:
        from anndata.abc import CSRDataset
    except ImportError:  # pragma: no cover - older anndata
        return type(X).__name__.lstrip("_") == "CSRDataset"
    return isinstance(X, CSRDataset)


def genotype_block(
    X, rows: np.ndarray | None, cols: np.ndarray | slice, *, dtype=np.float64, names: pd.Index | None = None
) -> np.ndarray:
    """Dense block ``X[rows, cols]`` (rows may be ``None`` = all) of a numpy, sparse, dask or backed matrix.

    The block is returned as ``dtype`` after checking that it holds dosages in [0, 2] or NaN (missing); a
    ``ValueError`` names the first offending SNP (``names`` are the var names of all of ``X``'s columns). A backed
    CSR matrix (``read_h5ad(..., backed="r")``) is read a slice of rows at a time (about ``CSR_READ_ELEMENTS``
    stored elements), so the memory stays bounded by the block.
    """
    if isinstance(X, np.ndarray):
        if rows is None:
            block = X[:, cols]
        elif isinstance(cols, slice):
            block = X[rows, cols]
        else:
            rows_idx = np.flatnonzero(rows) if rows.dtype == bool else rows
            block = X[np.ix_(rows_idx, cols)]
        block = np.asarray(block, dtype=dtype)
    elif is_backed_csr(X):
        n, p = X.shape
        step = max(1, CSR_READ_ELEMENTS // max(p, 1))
        keep = None if rows is None else np.zeros(n, dtype=bool)
        if keep is not None:
            keep[rows] = True
        parts = []
        for r0 in range(0, n, step):
            r1 = min(n, r0 + step)
            if keep is not None and not keep[r0:r1].any():
                continue
            part = X[r0:r1][:, cols]
            if keep is not None:
                part = part[keep[r0:r1]]
            parts.append(part.toarray().astype(dtype, copy=False))
        ncol = len(range(*cols.indices(p))) if isinstance(cols, slice) else len(cols)
        block = np.concatenate(parts, axis=0) if parts else np.zeros((0, ncol), dtype=dtype)
        if rows is not None and rows.dtype != bool:  # integer rows: in their given order
            order = np.searchsorted(np.flatnonzero(keep), rows)
            block = block[order]
    else:
        block = X[:, cols]
        if rows is not None:
            block = block[rows]
        if hasattr(block, "compute"):
            block = block.compute()
        if sp.issparse(block):
            block = block.toarray()
        block = np.asarray(block, dtype=dtype)
    check_dosages(block, names=None if names is None else names[cols])
    return block


def iter_chunks(n: int, chunk_size: int) -> Iterator[slice]:
    """Consecutive slices of at most ``chunk_size`` covering ``range(n)``."""
    chunk_size = max(1, int(chunk_size))
    for start in range(0, n, chunk_size):
        yield slice(start, min(n, start + chunk_size))


def resolve_mask(names: pd.Index, table: pd.DataFrame, spec, *, what: str, axis: str) -> np.ndarray:
    """Boolean mask over ``names`` from ``None`` (all), a column of ``table``, a boolean mask or names.

    A column name selects the entries where a boolean column is True, or where any other column is not missing
    (so ``samples="pheno1"`` selects the individuals with a phenotype, as GEMMA does). ``what`` names the
    argument and ``axis`` the AnnData side (``"obs"``/``"var"``) in error messages.
    """
    n = len(names)
    if spec is None:
        return np.ones(n, dtype=bool)
    if isinstance(spec, str):
        if spec not in table.columns:
            msg = f"{what}={spec!r} is not a column of .{axis}; available: {list(table.columns)}."
            raise ValueError(msg)
        col = table[spec]
        if pd.api.types.is_bool_dtype(col) or (col.dtype == object and is_boolish(col)):
            # boolean, also an object column of True/False with missing values (NaN = not selected)
            return (col == True).fillna(False).to_numpy(dtype=bool)  # noqa: E712
        return col.notna().to_numpy()
    arr = np.asarray(spec)
    if arr.dtype == bool:
        if arr.shape != (n,):
            msg = f"A boolean {what} mask must have length n_{axis}={n}, got shape {arr.shape}."
            raise ValueError(msg)
        return arr.copy()
    wanted = pd.Index(arr.astype(str))
    missing = wanted.difference(names)
    if len(missing):
        msg = f"{what} holds {len(missing)} names not in {axis}_names, e.g. {list(missing[:5])}."
        raise ValueError(msg)
    return names.isin(wanted)


def resolve_samples(gdata: AnnData, samples) -> np.ndarray:
    """Boolean mask over ``gdata.obs`` from ``None`` (all), an obs column, a boolean mask or obs names.

    Raises ``ValueError`` when the selection is empty (``samples=[]``, an all-False mask or column).
    """
    mask = resolve_mask(gdata.obs_names, gdata.obs, samples, what="samples", axis="obs")
    if gdata.n_obs and not mask.any():
        shown = f"{samples!r}" if isinstance(samples, str) else type(samples).__name__
        msg = f"samples={shown} selects no individuals (of {gdata.n_obs}); select at least one, or None for all."
        raise ValueError(msg)
    return mask


def check_chrom(var: pd.DataFrame, mask: np.ndarray | None = None) -> np.ndarray:
    """Chromosome of each SNP (``var["chrom"]`` as str) for ``loco=True``; raise if the column or a value is missing.

    Only the SNPs in ``mask`` (all when ``None``) need a chromosome.
    """
    if "chrom" not in var.columns:
        msg = "loco=True needs var['chrom'] (the chromosome of each SNP)."
        raise ValueError(msg)
    no_chrom = var["chrom"].isna().to_numpy()
    if mask is not None:
        no_chrom &= mask
    if no_chrom.any():
        msg = (
            f"loco=True needs the chromosome of every SNP, but var['chrom'] is missing for {int(no_chrom.sum())} "
            f"SNP(s), e.g. {var.index[no_chrom][:5].tolist()}; fill them in or drop those SNPs "
            "(gdata[:, gdata.var['chrom'].notna()])."
        )
        raise ValueError(msg)
    return var["chrom"].astype(str).to_numpy()


__all__ = [
    "check_chrom",
    "genotype_block",
    "is_backed_csr",
    "iter_chunks",
    "resolve_mask",
    "resolve_samples",
]

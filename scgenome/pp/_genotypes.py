"""Chunked access to genotype matrices (dense, sparse or dask) shared by QC, kinship and GWAS."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

if TYPE_CHECKING:
    from collections.abc import Iterator

    from anndata import AnnData


def genotype_block(X, rows: np.ndarray | None, cols: np.ndarray | slice, *, dtype=np.float64) -> np.ndarray:
    """Dense block ``X[rows, cols]`` (rows may be ``None`` = all) of a numpy, sparse or dask matrix, as ``dtype``."""
    if isinstance(X, np.ndarray):
        if rows is None:
            block = X[:, cols]
        elif isinstance(cols, slice):
            block = X[rows, cols]
        else:
            rows_idx = np.flatnonzero(rows) if rows.dtype == bool else rows
            block = X[np.ix_(rows_idx, cols)]
        return np.asarray(block, dtype=dtype)
    block = X[:, cols]
    if rows is not None:
        block = block[rows]
    if hasattr(block, "compute"):
        block = block.compute()
    if sp.issparse(block):
        block = block.toarray()
    return np.asarray(block, dtype=dtype)


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
        if pd.api.types.is_bool_dtype(col):
            return col.fillna(False).to_numpy(dtype=bool)
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
    """Boolean mask over ``gdata.obs`` from ``None`` (all), an obs column, a boolean mask or obs names."""
    return resolve_mask(gdata.obs_names, gdata.obs, samples, what="samples", axis="obs")


__all__ = ["genotype_block", "iter_chunks", "resolve_mask", "resolve_samples"]

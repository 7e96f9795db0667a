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


def resolve_samples(gdata: AnnData, samples) -> np.ndarray:
    """Boolean mask over ``gdata.obs`` from ``None`` (all), an obs column, a boolean mask or obs names.

    An obs column name selects the rows where a boolean column is True, or where any other column is not missing
    (so ``samples="pheno1"`` selects the individuals with a phenotype, as GEMMA does).
    """
    n = gdata.n_obs
    if samples is None:
        return np.ones(n, dtype=bool)
    if isinstance(samples, str):
        if samples not in gdata.obs.columns:
            msg = f"samples={samples!r} is not a column of .obs; available: {list(gdata.obs.columns)}."
            raise ValueError(msg)
        col = gdata.obs[samples]
        if pd.api.types.is_bool_dtype(col):
            return col.fillna(False).to_numpy(dtype=bool)
        return col.notna().to_numpy()
    arr = np.asarray(samples)
    if arr.dtype == bool:
        if arr.shape != (n,):
            msg = f"A boolean samples mask must have length n_obs={n}, got shape {arr.shape}."
            raise ValueError(msg)
        return arr.copy()
    names = pd.Index(arr.astype(str))
    missing = names.difference(gdata.obs_names)
    if len(missing):
        msg = f"samples holds {len(missing)} names not in obs_names, e.g. {list(missing[:5])}."
        raise ValueError(msg)
    return gdata.obs_names.isin(names)


__all__ = ["genotype_block", "iter_chunks", "resolve_samples"]

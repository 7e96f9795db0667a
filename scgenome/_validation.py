"""Input checks shared by all tools. Each raises ``ValueError`` naming the offending item."""

from __future__ import annotations

import gzip
import json
import zlib
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Iterator

    from anndata import AnnData


def check_nonempty(adata: AnnData, what: str = "AnnData") -> None:
    """Raise when ``adata`` has no observations or no variables."""
    if adata.n_obs == 0 or adata.n_vars == 0:
        msg = f"The {what} is empty ({adata.n_obs} obs x {adata.n_vars} vars)."
        raise ValueError(msg)


def check_obs_columns(adata: AnnData, columns: Iterable[str], *, what: str = "column") -> None:
    """Raise when any of ``columns`` is missing from ``adata.obs``."""
    missing = [c for c in columns if c not in adata.obs.columns]
    if missing:
        msg = f"{what.capitalize()}(s) {missing} not found in .obs; available: {list(adata.obs.columns)}."
        raise ValueError(msg)


def check_var_columns(adata: AnnData, columns: Iterable[str], *, what: str = "column") -> None:
    """Raise when any of ``columns`` is missing from ``adata.var``."""
    missing = [c for c in columns if c not in adata.var.columns]
    if missing:
        msg = f"{what.capitalize()}(s) {missing} not found in .var; available: {list(adata.var.columns)}."
        raise ValueError(msg)


def check_no_nan(frame: pd.DataFrame, columns: Iterable[str] | None = None, *, what: str = "covariate") -> None:
    """Raise when any of ``columns`` of ``frame`` holds a missing value."""
    columns = list(frame.columns) if columns is None else list(columns)
    bad = [c for c in columns if frame[c].isna().any()]
    if bad:
        counts = {c: int(frame[c].isna().sum()) for c in bad}
        msg = f"{what.capitalize()}(s) with missing values (NaN): {counts}. Drop or impute those observations first."
        raise ValueError(msg)


def check_counts(X, *, what: str = "counts") -> None:
    """Raise unless ``X`` (dense or sparse) holds finite, non-negative integers."""
    values = X.data if sp.issparse(X) else np.asarray(X)
    if values.size == 0:
        return
    if not np.issubdtype(values.dtype, np.number):
        msg = f"The {what} must be numeric, got dtype {values.dtype}."
        raise ValueError(msg)
    if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
        msg = f"The {what} contain NaN or infinite values."
        raise ValueError(msg)
    if (values < 0).any():
        msg = f"The {what} contain negative values (min {values.min()}); raw non-negative counts are required."
        raise ValueError(msg)
    off = np.abs(values - np.round(values)) if np.issubdtype(values.dtype, np.floating) else None
    if off is not None and (off > 1e-8).any():
        msg = (
            f"The {what} contain non-integer values ({int((off > 1e-8).sum())} entries, up to {off.max():.3g} from an "
            "integer); raw integer counts are required (e.g. layer='counts'; round them with np.rint if they are "
            "counts stored with float noise)."
        )
        raise ValueError(msg)


def check_dosages(block: np.ndarray, *, names=None, what: str = "genotypes") -> None:
    """Raise unless the dense individuals x SNPs ``block`` holds dosages in [0, 2] or NaN (missing).

    ``names`` (one per column) name the first offending SNP in the message; codes such as -9 or -127 for a missing
    call must be NaN, and infinite values are refused.
    """
    values = np.asarray(block)
    if values.size == 0 or not np.issubdtype(values.dtype, np.number):
        return
    # two NaN-ignoring reductions (no temporaries) decide whether the full check, naming the SNP, is needed
    if not (np.fmin.reduce(values, axis=None) < 0 or np.fmax.reduce(values, axis=None) > 2):  # all-NaN: False
        return
    with np.errstate(invalid="ignore"):
        bad = np.isinf(values) | (values < -1e-6) | (values > 2 + 1e-6)
    if bad.any():
        col = int(np.flatnonzero(bad.any(axis=0))[0]) if values.ndim == 2 else 0
        first = values[..., col][bad[..., col]][0] if values.ndim == 2 else values[bad][0]
        snp = f" (first at SNP {names[col]!r})" if names is not None else ""
        msg = (
            f"The {what} hold {int(bad.sum())} value(s) outside the dosage range [0, 2], e.g. {float(first):g}{snp}; "
            "missing calls must be NaN (not -9 or -127), and dosages count the copies of one allele."
        )
        raise ValueError(msg)


def is_boolish(values: pd.Series) -> bool:
    """Whether ``values`` is a boolean Series: a boolean dtype, or bools (numpy's included) and missing values."""
    if pd.api.types.is_bool_dtype(values):
        return True
    present = values.dropna()
    return len(present) > 0 and all(isinstance(v, bool | np.bool_) for v in present)


def check_copy_backed(adata, copy: bool, func: str) -> None:
    """Raise up front when ``copy=True`` is asked for a backed AnnData (anndata cannot copy it in memory)."""
    if copy and getattr(adata, "isbacked", False):
        msg = (
            f"{func}(..., copy=True) cannot copy a backed AnnData (read with backed='r'); use copy=False (the "
            "results are written into the in-memory obs/var/obsm/obsp/varm/uns of the backed object) or load it first "
            "with adata.to_memory()."
        )
        raise ValueError(msg)


def check_binary_labels(y, *, what: str = "label") -> np.ndarray:
    """Return ``y`` as 0/1 integers; raise on NaN, other values or a single class."""
    y = pd.Series(y)
    if y.isna().any():
        msg = f"The {what} has {int(y.isna().sum())} missing values (NaN); drop or label those rows."
        raise ValueError(msg)
    values = set(pd.unique(y.astype(float)))
    if not values <= {0.0, 1.0}:
        msg = f"The {what} must be 0/1, got values {sorted(values)[:10]}."
        raise ValueError(msg)
    if len(values) < 2:
        msg = f"The {what} has a single class ({values.pop():g}); both positives and negatives are needed."
        raise ValueError(msg)
    return y.to_numpy(dtype=np.int64)


#: What reading a damaged file raises: a gzip stream cut short or invalid, binary content read as text, text that
#: does not parse (ragged or empty table, broken JSON).
CORRUPT_FILE_ERRORS: tuple[type[BaseException], ...] = (
    EOFError,
    UnicodeDecodeError,
    gzip.BadGzipFile,
    zlib.error,
    pd.errors.ParserError,
    pd.errors.EmptyDataError,
    json.JSONDecodeError,
)


def _describe(err: BaseException) -> str:
    if isinstance(err, EOFError):
        return "the gzip stream ends early: the file is truncated (an interrupted download or copy?)"
    if isinstance(err, gzip.BadGzipFile | zlib.error):
        return f"invalid gzip data ({err})"
    if isinstance(err, UnicodeDecodeError):
        return f"binary content where text was expected (byte 0x{err.object[err.start]:02x} at offset {err.start})"
    if isinstance(err, pd.errors.EmptyDataError):
        return "it is empty"
    if isinstance(err, json.JSONDecodeError):
        return f"invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}"
    return f"{type(err).__name__}: {err}"


@contextmanager
def reading(path: str | os.PathLike, what: str, *, errors: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Turn the errors of a damaged file into a ``ValueError`` naming ``path`` and what is wrong.

    Wraps the code that reads ``path`` (a ``what``, e.g. ``"PLINK .fam file"``). Catches
    :data:`CORRUPT_FILE_ERRORS` and the extra ``errors`` given (e.g. ``CatBoostError``); messages the package
    raises itself pass through unchanged.
    """
    try:
        yield
    except (*CORRUPT_FILE_ERRORS, *errors) as err:
        msg = (
            f"{what} {path} could not be read: {_describe(err)}. Check that it is a complete, uncorrupted {what} "
            "(re-download or re-write it)."
        )
        raise ValueError(msg) from err


__all__ = [
    "CORRUPT_FILE_ERRORS",
    "check_binary_labels",
    "check_copy_backed",
    "check_counts",
    "check_dosages",
    "check_no_nan",
    "check_nonempty",
    "check_obs_columns",
    "check_var_columns",
    "is_boolish",
    "reading",
]

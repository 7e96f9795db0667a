"""Helpers shared by the genotype readers."""

from __future__ import annotations

import gzip
import json
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    import os
    from collections.abc import Iterator

    import numpy as np

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


def open_bytes(path: str | os.PathLike) -> bytes:
    """Read a (possibly gzipped) file into bytes (decompressed)."""
    path = Path(path)
    if not path.exists():
        msg = f"File not found: {path}."
        raise FileNotFoundError(msg)
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def open_text(path: str | os.PathLike) -> str:
    """Read a (possibly gzipped) text file into a string."""
    path = Path(path)
    if not path.exists():
        msg = f"File not found: {path}."
        raise FileNotFoundError(msg)
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        with gzip.open(path, "rt") as fh:
            return fh.read()
    return path.read_text()


def check_unique(ids: pd.Index | np.ndarray, *, what: str, where: str) -> None:
    """Raise when ``ids`` holds duplicates."""
    ids = pd.Index(ids)
    if not ids.is_unique:
        dup = ids[ids.duplicated()].unique()[:5].tolist()
        msg = f"Duplicated {what} in {where}: {dup} ({int(ids.duplicated().sum())} duplicates). Ids must be unique."
        raise ValueError(msg)


def to_pos(values: pd.Series) -> pd.Series:
    """Positions as nullable Int64; ``NA``, negative values (PLINK's -9) become <NA>."""
    num = pd.to_numeric(values, errors="coerce")
    num = num.where(num >= 0)
    return num.round().astype("Int64")


def pheno_frame(values: np.ndarray, index: pd.Index, names: list[str] | None, *, where: str) -> pd.DataFrame:
    """Name phenotype columns ``pheno1``, ``pheno2``, ... or by ``names``."""
    k = values.shape[1]
    if names is None:
        names = [f"pheno{i + 1}" for i in range(k)]
    else:
        names = list(names)
        if len(names) != k:
            msg = f"pheno_names has {len(names)} names but {where} has {k} phenotype columns."
            raise ValueError(msg)
        check_unique(names, what="phenotype names", where="pheno_names")
    return pd.DataFrame(values, index=index, columns=names)


__all__ = ["CORRUPT_FILE_ERRORS", "check_unique", "open_bytes", "open_text", "pheno_frame", "reading", "to_pos"]

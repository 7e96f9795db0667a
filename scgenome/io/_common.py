"""Helpers shared by the genotype readers."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    import os

    import numpy as np


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


__all__ = ["check_unique", "open_bytes", "open_text", "pheno_frame", "to_pos"]

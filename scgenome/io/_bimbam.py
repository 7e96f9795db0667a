"""Reader for BIMBAM mean-genotype files (GEMMA's input format)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._logging import logger
from .._validation import reading
from ._common import check_unique, open_bytes, open_text, pheno_frame, to_pos

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

    from anndata import AnnData


def _parse(raw: bytes, sep: str, n_fields: int, *, na: bool) -> pd.DataFrame:
    dtypes = {0: str, 1: str, 2: str} | dict.fromkeys(range(3, n_fields), np.float32)
    kwargs = {"na_values": ["NA"], "keep_default_na": False} if na else {"na_filter": False}
    return pd.read_csv(io.BytesIO(raw), sep=sep, header=None, dtype=dtypes, engine="c", skipinitialspace=True, **kwargs)


def _read_geno(path) -> tuple[pd.DataFrame, np.ndarray]:
    raw = open_bytes(path)  # parsed as bytes: no decode/re-encode of the whole file; decoded only for errors
    end = raw.find(b"\n")
    first = (raw if end < 0 else raw[:end]).decode()
    sep = "," if "," in first else r"\s+"
    n_fields = len(first.split(",")) if sep == "," else len(first.split())
    if n_fields < 4:
        msg = f"BIMBAM genotype file {path}: the first line has {n_fields} fields; expected `rs, allele1, allele0, d1, ...`."
        raise ValueError(msg)
    try:
        try:  # fast path: no NA in the file
            df = _parse(raw, sep, n_fields, na=False)
        except ValueError as err:
            if isinstance(err, pd.errors.ParserError):
                raise
            df = _parse(raw, sep, n_fields, na=True)
    except pd.errors.ParserError as err:
        msg = f"BIMBAM genotype file {path} has ragged rows (rows must all have {n_fields} fields): {err}"
        raise ValueError(msg) from err
    except ValueError as err:
        # locate the first non-numeric dosage for a useful message
        for lineno, line in enumerate(raw.decode().splitlines(), start=1):
            if not line.strip():
                continue
            fields = [f.strip() for f in (line.split(",") if sep == "," else line.split())]
            if len(fields) != n_fields:
                msg = (
                    f"BIMBAM genotype file {path} has ragged rows: line {lineno} (SNP {fields[0]!r}) has "
                    f"{len(fields)} fields, the first line has {n_fields}."
                )
                raise ValueError(msg) from err
            vals = pd.Series(fields[3:])
            bad = pd.to_numeric(vals, errors="coerce").isna() & (vals != "NA")
            if bad.any():
                j = int(np.flatnonzero(bad.to_numpy())[0])
                msg = (
                    f"BIMBAM genotype file {path}, line {lineno} (SNP {fields[0]!r}): non-numeric dosage "
                    f"{fields[3 + j]!r} for sample {j + 1}. Dosages must be numbers in [0, 2] or NA."
                )
                raise ValueError(msg) from err
        raise
    # short rows are padded with NaN by pandas: check the token count of rows ending in NaN
    last = df.iloc[:, -1].isna().to_numpy()
    if last.any():
        lines = raw.decode().splitlines()
        lines = [ln for ln in lines if ln.strip()]
        for i in np.flatnonzero(last):
            got = len(lines[i].split(",")) if sep == "," else len(lines[i].split())
            if got != n_fields:
                msg = (
                    f"BIMBAM genotype file {path} has ragged rows: line {i + 1} (SNP {lines[i].replace(',', ' ').split()[0]!r}) has "
                    f"{got} fields, the first line has {n_fields}."
                )
                raise ValueError(msg)
    # pop the id columns: the rest is one float32 block whose transpose is X (no copy, unlike df.iloc[:, 3:])
    meta = pd.DataFrame({name: df.pop(col) for name, col in zip(["rs", "allele1", "allele0"], [0, 1, 2], strict=True)})
    X = np.ascontiguousarray(df.to_numpy(dtype=np.float32).T)
    return meta, X


def _read_pheno(path, n: int, pheno_names, index: pd.Index) -> pd.DataFrame:
    text = open_text(path)
    try:
        df = pd.read_csv(io.StringIO(text), sep=r"\s+", header=None, na_values=["NA"], keep_default_na=False)
    except pd.errors.ParserError as err:
        msg = f"BIMBAM phenotype file {path} has ragged rows: {err}"
        raise ValueError(msg) from err
    if df.shape[0] != n:
        msg = (
            f"Samples do not match: the phenotype file {path} has {df.shape[0]} rows but the genotype file has "
            f"{n} samples. BIMBAM phenotype rows must be the genotype samples in the same order."
        )
        raise ValueError(msg)
    nonnum = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if nonnum:
        col = nonnum[0]
        bad = df[col][pd.to_numeric(df[col], errors="coerce").isna() & df[col].notna()].iloc[0]
        msg = f"BIMBAM phenotype file {path}: column {col + 1} holds the non-numeric value {bad!r}; use NA for missing."
        raise ValueError(msg)
    return pheno_frame(df.to_numpy(dtype=np.float64), index, pheno_names, where=str(path))


def _read_anno(path, snps: pd.Index) -> pd.DataFrame:
    text = open_text(path)
    try:
        df = pd.read_csv(
            io.StringIO(text),
            sep=r"\s+",
            header=None,
            dtype=str,
            na_values=["NA"],
            keep_default_na=False,
        )
    except pd.errors.ParserError as err:
        msg = f"BIMBAM annotation file {path} has ragged rows: {err}"
        raise ValueError(msg) from err
    if df.shape[1] < 3:
        msg = f"BIMBAM annotation file {path} needs at least 3 columns (rs, position, chromosome[, cM])."
        raise ValueError(msg)
    check_unique(df[0], what="SNP ids", where=str(path))
    df = df.set_index(0).reindex(snps)
    n_absent = int(df[1].isna().sum() if df.shape[0] else 0)
    out = pd.DataFrame(index=snps)
    out["chrom"] = df[2].astype("string").array
    out["pos"] = to_pos(df[1]).array
    out["cm"] = pd.to_numeric(df[3], errors="coerce").to_numpy(dtype=float) if 3 in df.columns else np.nan
    logger.info("annotation: %d of %d SNPs without a position", n_absent, len(snps))
    return out


def read_bimbam(
    geno: str | os.PathLike,
    pheno: str | os.PathLike | None = None,
    anno: str | os.PathLike | None = None,
    *,
    pheno_names: Sequence[str] | None = None,
) -> AnnData:
    r"""Read BIMBAM mean-genotype, phenotype and annotation files into an AnnData.

    Parameters
    ----------
    geno
        Mean-genotype file (``rs, allele1, allele0, d1, ..., dn`` per SNP, comma or white-space separated,
        ``NA`` = missing), possibly gzipped.
    pheno
        Phenotype file: one row per sample in the genotype file's order, one column per phenotype,
        ``NA`` = missing. Possibly gzipped.
    anno
        SNP annotation file: ``rs  position  chromosome  [cM]`` (``NA`` = unknown position). Possibly gzipped.
    pheno_names
        Names for the phenotype columns; default ``pheno1``, ``pheno2``, ...

    Returns
    -------
    AnnData of individuals x SNPs with

    - ``X``: float32 dosages of ``allele1`` (the first allele column), NaN = missing;
    - ``obs_names``: ``"1"``, ``"2"``, ... (BIMBAM files carry no sample ids);
    - ``obs``: one float column per phenotype;
    - ``var_names``: SNP ids; ``var["allele1"]`` (counted), ``var["allele0"]``, and, with ``anno``,
      ``var["chrom"]`` (string), ``var["pos"]`` (nullable Int64, <NA> when unknown), ``var["cm"]`` (float).
      Without ``anno`` these three are all missing.

    Notes
    -----
    The format is described in the GEMMA manual (Zhou & Stephens 2012) and in the BIMBAM documentation
    (Guan & Stephens 2008). Parsing uses pandas' C engine.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import scgenome as sg
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "geno.txt").write_text("rs1, A, G, 0, 1, 2\nrs2, C, T, 2, NA, 1\n")
    >>> _ = (d / "pheno.txt").write_text("1.5\nNA\n0.3\n")
    >>> _ = (d / "anno.txt").write_text("rs1 1200 1 0.1\nrs2 NA 1 NA\n")
    >>> g = sg.io.read_bimbam(d / "geno.txt", d / "pheno.txt", d / "anno.txt")
    >>> g.shape, g.var["pos"].tolist()
    ((3, 2), [1200, <NA>])

    The HS1940 mice (GEMMA's example data)::

        d = sg.datasets.data_path("mouse-hs1940")
        g = sg.io.read_bimbam(
            d / "mouse_hs1940.geno.txt.gz", d / "mouse_hs1940.pheno.txt.gz", d / "mouse_hs1940.anno.txt.gz"
        )
    """
    from anndata import AnnData

    with reading(geno, "BIMBAM genotype file"):
        meta, X = _read_geno(geno)
    check_unique(meta["rs"], what="SNP ids", where=str(geno))
    snps = pd.Index(meta["rs"].astype(str), name=None)
    n = X.shape[0]
    obs_index = pd.Index([str(i + 1) for i in range(n)])
    bad = np.isfinite(X) & ((X < 0) | (X > 2))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        msg = f"BIMBAM genotype file {geno}: dosage {X[i, j]} of SNP {snps[j]!r}, sample {i + 1} is outside [0, 2]."
        raise ValueError(msg)
    if pheno is not None:
        with reading(pheno, "BIMBAM phenotype file"):
            obs = _read_pheno(pheno, n, pheno_names, obs_index)
    else:
        obs = pd.DataFrame(index=obs_index)
    if anno is not None:
        with reading(anno, "BIMBAM annotation file"):
            var = _read_anno(anno, snps)
    else:
        var = pd.DataFrame(index=snps)
        var["chrom"] = pd.array([pd.NA] * len(snps), dtype="string")
        var["pos"] = pd.array([pd.NA] * len(snps), dtype="Int64")
        var["cm"] = np.nan
    var["allele1"] = meta["allele1"].astype(str).str.strip().to_numpy()
    var["allele0"] = meta["allele0"].astype(str).str.strip().to_numpy()
    var.index = snps
    var.index.name = None
    logger.info("read_bimbam: %d samples x %d SNPs", n, len(snps))
    return AnnData(X=X, obs=obs, var=var)


__all__ = ["read_bimbam"]

"""Reader for PLINK 1 binary files (.bed/.bim/.fam) through bed-reader."""

from __future__ import annotations

import gzip
import io
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._logging import logger
from .._validation import reading
from ._common import check_unique, open_text, pheno_frame, to_pos

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

    from anndata import AnnData


def _find(prefix: Path, ext: str) -> Path:
    for cand in (Path(f"{prefix}.{ext}"), Path(f"{prefix}.{ext}.gz")):
        if cand.exists():
            return cand
    msg = f"PLINK file {prefix}.{ext} (or {prefix}.{ext}.gz) not found."
    raise FileNotFoundError(msg)


def _table(path: Path, min_cols: int, what: str) -> pd.DataFrame:
    with reading(path, f"PLINK .{what} file"):
        text = open_text(path)
        try:
            df = pd.read_csv(io.StringIO(text), sep=r"\s+", header=None, dtype=str, keep_default_na=False, engine="c")
        except pd.errors.ParserError as err:
            msg = f"PLINK {what} file {path} has ragged rows: {err}"
            raise ValueError(msg) from err
    if df.shape[1] < min_cols:
        msg = f"PLINK {what} file {path} has {df.shape[1]} columns; at least {min_cols} are required."
        raise ValueError(msg)
    return df


#: PLINK 1 .bed magic number: two bytes, then 0x01 for SNP-major order.
BED_MAGIC = b"\x6c\x1b"
#: Fewest SNPs at which trailing individuals homozygous for allele1 at every SNP are taken for padding (warned).
MIN_SNPS_PADDING_WARNING = 20


def _check_bed(bed_path: Path, bed: Path, fam: Path, bim: Path, n: int, p: int) -> None:
    """Raise unless the (decompressed) ``bed_path`` is a SNP-major .bed of exactly ``n`` individuals x ``p`` SNPs.

    Checks the magic number, the exact size (``3 + p * ceil(n / 4)`` bytes) and the padding bits of each SNP's
    last byte (PLINK writes them as 0: genotypes there mean the .fam is short). Trailing individuals coded 00 at
    every SNP (what a .fam longer than the .bed reads from the padding) are warned about.
    """
    with bed_path.open("rb") as fh:
        head = fh.read(3)
    if head[:2] != BED_MAGIC:
        msg = (
            f"PLINK .bed file {bed} does not start with the .bed magic number 6c 1b (got {head[:2].hex(' ') or 'nothing'})"
            ": it is not a PLINK 1 binary genotype file (a PLINK 2 .pgen, a text file, a truncated copy?). "
            "Re-create it with `plink --make-bed`."
        )
        raise ValueError(msg)
    if head[2:3] != b"\x01":
        msg = (
            f"PLINK .bed file {bed} is not in SNP-major order (mode byte {head[2:3].hex() or 'missing'}, expected 01; "
            "00 is the individual-major order of PLINK < 1.0). Convert it with `plink --bfile <prefix> --make-bed`."
        )
        raise ValueError(msg)
    size = bed_path.stat().st_size
    per_snp = (n + 3) // 4
    expected = 3 + p * per_snp
    if size != expected:
        hints = []
        if p and (size - 3) % p == 0:
            b = (size - 3) // p
            if b:
                hints.append(f"for the {p} SNPs of the .bim it holds {4 * b - 3} to {4 * b} individuals")
        if per_snp and (size - 3) % per_snp == 0:
            hints.append(f"for the {n} individuals of the .fam it holds {(size - 3) // per_snp} SNPs")
        hint = "; ".join(hints)
        msg = (
            f"Samples/SNPs do not match: {bed} has {size} bytes but {n} individuals ({fam}) x {p} SNPs ({bim}) "
            f"need {expected} bytes (3 + n_snps * ceil(n_individuals / 4), SNP-major .bed)"
            f"{f' ({hint})' if hint else ''}. The .fam must have one line per individual and the .bim one line per "
            "SNP of the .bed."
        )
        raise ValueError(msg)
    if p == 0 or n == 0:
        return
    # the last byte of each SNP holds individuals 4 (per_snp - 1) .. n - 1 in its low bits, then 0-bit padding
    used = n - 4 * (per_snp - 1)  # 1..4 individuals in the last byte
    last = np.empty(p, dtype=np.uint8)
    mm = np.memmap(bed_path, dtype=np.uint8, mode="r", offset=3, shape=(p, per_snp))
    try:
        for start in range(0, p, 65536):  # one byte per SNP, in blocks
            last[start : start + 65536] = mm[start : start + 65536, -1]
    finally:
        del mm
    pad_mask = (0xFF << (2 * used)) & 0xFF
    bad = np.flatnonzero(last & pad_mask)
    if bad.size:
        msg = (
            f"Samples do not match: {bed} holds genotypes in the padding bits after individual {n} (the last line of "
            f"{fam}) at {bad.size} of {p} SNPs (first SNP number {int(bad[0]) + 1}), so it holds more individuals "
            f"than the {n} of the .fam (up to {4 * per_snp}); reading it would give individuals other individuals' "
            "genotypes. The .fam must have one line per individual of the .bed, in its order."
        )
        raise ValueError(msg)
    if p < MIN_SNPS_PADDING_WARNING:
        return
    # a .fam longer than the .bed (same byte count) reads 0-bit padding: code 00 (homozygous allele1) everywhere
    k = 0
    for slot in range(used - 1, -1, -1):
        if np.any((last >> (2 * slot)) & 0b11):
            break
        k += 1
    if k:
        warnings.warn(
            f"read_plink: the last {k} individual(s) of {fam} are homozygous for allele1 at every one of the {p} SNPs "
            f"of {bed}. That is what a .fam longer than the .bed reads from the .bed's padding bits: check that the "
            ".fam has one line per individual of the .bed.",
            UserWarning,
            stacklevel=3,
        )


def read_plink(prefix: str | os.PathLike, *, pheno_names: Sequence[str] | None = None) -> AnnData:
    """Read PLINK 1 binary genotypes (``prefix.bed``, ``.bim``, ``.fam``) into an AnnData.

    Parameters
    ----------
    prefix
        Path without extension. Each of the three files may be gzipped (``prefix.bed.gz`` etc.); a gzipped
        ``.bed`` is decompressed to a temporary file that is removed afterwards.
    pheno_names
        Names for the phenotype columns of the ``.fam`` (column 6 on); default ``pheno1``, ``pheno2``, ...

    Returns
    -------
    AnnData of individuals x SNPs with

    - ``X``: float32 counts (0, 1, 2) of ``allele1`` (the first allele column of the ``.bim``), NaN = missing;
    - ``obs_names``: the individual ids (IID; ``FID_IID`` when IIDs repeat across families, as PLINK keys
      individuals by both); ``obs["fid"]``, ``obs["iid"]``, ``obs["father"]``, ``obs["mother"]`` (``"0"``:
      not in the data), ``obs["sex"]`` (1 male, 2 female, 0 unknown) and one float column per phenotype
      (``-9`` and ``NA`` = missing);
    - ``var_names``: SNP ids; ``var["chrom"]``, ``var["pos"]`` (nullable Int64; ``-9``/negative = <NA>),
      ``var["cm"]``, ``var["allele1"]`` (counted), ``var["allele0"]``.

    Notes
    -----
    Reads with :mod:`bed_reader` (counting the A1 allele, PLINK's convention, as GEMMA does for PLINK input).

    The three files are checked against each other before reading: the ``.bed`` must start with the SNP-major
    magic number (``6c 1b 01``) and have exactly ``3 + n_snps * ceil(n_individuals / 4)`` bytes (``.bim`` lines x
    ``.fam`` lines), and the padding bits after the last individual in each SNP's last byte must be 0, as PLINK
    writes them. A ``.fam`` 1-3 lines short within the same byte count puts real genotypes in those bits and is
    refused (unless the missing individuals are homozygous for allele1 at every SNP). A ``.fam`` 1-3 lines long
    within the same byte count cannot be told apart for sure: its extra individuals read the padding, which is
    code 00 (homozygous allele1) at every SNP; with at least 20 SNPs such trailing individuals are warned about
    (a ``UserWarning``), not refused, since a real individual may be homozygous everywhere on a few SNPs.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from bed_reader import to_bed
    >>> import scgenome as sg
    >>> prefix = Path(tempfile.mkdtemp()) / "toy"
    >>> to_bed(f"{prefix}.bed", np.array([[0, 1], [2, np.nan], [1, 1]], dtype=np.float32))
    >>> g = sg.io.read_plink(prefix)
    >>> g.shape
    (3, 2)
    """
    from anndata import AnnData
    from bed_reader import open_bed

    prefix = Path(prefix)
    bed, bim, fam = _find(prefix, "bed"), _find(prefix, "bim"), _find(prefix, "fam")
    fam_df = _table(fam, 5, "fam")
    bim_df = _table(bim, 6, "bim")
    iid = pd.Index(fam_df[1].astype(str))
    fid = fam_df[0].astype(str).to_numpy()
    if not iid.is_unique:
        # IIDs repeated across families (PLINK keys individuals by FID and IID): name them FID_IID
        iid = pd.Index([f"{f}_{i}" for f, i in zip(fid, iid, strict=True)])
        check_unique(iid, what="individual ids (FID_IID)", where=str(fam))
        logger.info("read_plink: IIDs repeat across families; individuals named FID_IID")
    check_unique(bim_df[1], what="SNP ids", where=str(bim))
    n, p = len(iid), bim_df.shape[0]
    with tempfile.TemporaryDirectory() as tmp:
        bed_path = bed
        if bed.suffix == ".gz":
            bed_path = Path(tmp) / "data.bed"
            with reading(bed, "PLINK .bed file"), gzip.open(bed, "rb") as src, bed_path.open("wb") as dst:
                shutil.copyfileobj(src, dst)
        _check_bed(bed_path, bed, fam, bim, n, p)
        with open_bed(bed_path, iid_count=n, sid_count=p, properties={}, count_A1=True) as reader:
            X = reader.read(dtype=np.float32)
    obs = pd.DataFrame(index=iid)
    obs.index.name = None
    obs["fid"] = fid
    obs["iid"] = fam_df[1].astype(str).to_numpy()
    obs["father"] = fam_df[2].astype(str).to_numpy()
    obs["mother"] = fam_df[3].astype(str).to_numpy()
    obs["sex"] = pd.to_numeric(fam_df[4], errors="coerce").fillna(0).astype(int).to_numpy()
    if fam_df.shape[1] > 5:
        raw = fam_df.iloc[:, 5:]
        raw = raw.where(~raw.isin(["NA", "-9"]))
        vals = raw.apply(pd.to_numeric, errors="coerce")
        bad = vals.isna() & raw.notna()
        if bad.to_numpy().any():
            i, j = np.argwhere(bad.to_numpy())[0]
            msg = f"PLINK fam file {fam}: non-numeric phenotype {raw.iloc[i, j]!r} for individual {iid[i]!r}."
            raise ValueError(msg)
        vals = vals.mask(vals == -9)
        ph = pheno_frame(vals.to_numpy(dtype=float), iid, pheno_names, where=str(fam))
        obs = pd.concat([obs, ph], axis=1)
    var = pd.DataFrame(index=pd.Index(bim_df[1].astype(str)))
    var.index.name = None
    var["chrom"] = bim_df[0].astype("string").array
    var["pos"] = to_pos(bim_df[3]).array
    var["cm"] = pd.to_numeric(bim_df[2], errors="coerce").to_numpy(dtype=float)
    var["allele1"] = bim_df[4].astype(str).to_numpy()
    var["allele0"] = bim_df[5].astype(str).to_numpy()
    logger.info("read_plink: %d individuals x %d SNPs", n, p)
    return AnnData(X=X, obs=obs, var=var)


__all__ = ["read_plink"]

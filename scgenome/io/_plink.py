"""Reader for PLINK 1 binary files (.bed/.bim/.fam) through bed-reader."""

from __future__ import annotations

import gzip
import io
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._logging import logger
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
    try:
        df = pd.read_csv(
            io.StringIO(open_text(path)), sep=r"\s+", header=None, dtype=str, keep_default_na=False, engine="c"
        )
    except pd.errors.ParserError as err:
        msg = f"PLINK {what} file {path} has ragged rows: {err}"
        raise ValueError(msg) from err
    if df.shape[1] < min_cols:
        msg = f"PLINK {what} file {path} has {df.shape[1]} columns; at least {min_cols} are required."
        raise ValueError(msg)
    return df


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
            with gzip.open(bed, "rb") as src, bed_path.open("wb") as dst:
                shutil.copyfileobj(src, dst)
        expected = 3 + p * ((n + 3) // 4)
        size = bed_path.stat().st_size
        if size != expected:
            msg = (
                f"Samples/SNPs do not match: {bed} has {size} bytes but {n} individuals (.fam) x {p} SNPs (.bim) "
                f"need {expected} bytes (SNP-major .bed)."
            )
            raise ValueError(msg)
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

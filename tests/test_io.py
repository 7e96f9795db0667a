"""Readers: BIMBAM and PLINK into AnnData."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scgenome as sg


def _write(path, text, *, gz=False):
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


GENO = "rs1, A, G, 0, 1, 2, NA\nrs2, C, T, 2, 2, 1.5, 0\nrs3, G, T, 1, 1, 1, 1\n"
PHENO = "1.0 NA\n2.5 1\nNA 0\n-0.5 1\n"
ANNO = "rs1 100 1 0.1\nrs2 NA 1 NA\nrs3 300 2 2.0\n"


@pytest.mark.parametrize("gz", [False, True])
def test_read_bimbam_small(tmp_path, gz):
    geno = _write(tmp_path / "g.txt", GENO, gz=gz)
    pheno = _write(tmp_path / "p.txt", PHENO, gz=gz)
    anno = _write(tmp_path / "a.txt", ANNO, gz=gz)
    g = sg.io.read_bimbam(geno, pheno, anno)
    assert g.shape == (4, 3)
    assert g.X.dtype == np.float32
    np.testing.assert_array_equal(g.X[:, 0], [0, 1, 2, np.nan])
    np.testing.assert_array_equal(g.X[:, 1], [2, 2, 1.5, 0])
    assert list(g.var_names) == ["rs1", "rs2", "rs3"]
    assert list(g.var["allele1"]) == ["A", "C", "G"]
    assert list(g.var["allele0"]) == ["G", "T", "T"]
    assert str(g.var["pos"].dtype) == "Int64"
    assert g.var["pos"].isna().tolist() == [False, True, False]
    assert g.var["pos"].iloc[2] == 300
    assert list(g.var["chrom"]) == ["1", "1", "2"]
    assert np.isnan(g.var["cm"].iloc[1])
    assert list(g.obs.columns) == ["pheno1", "pheno2"]
    assert g.obs["pheno1"].isna().tolist() == [False, False, True, False]
    g2 = sg.io.read_bimbam(geno, pheno, pheno_names=["a", "b"])
    assert list(g2.obs.columns) == ["a", "b"]
    assert g2.var["pos"].isna().all()


def test_read_bimbam_whitespace(tmp_path):
    geno = _write(tmp_path / "g.txt", GENO.replace(",", " "))
    g = sg.io.read_bimbam(geno)
    np.testing.assert_array_equal(g.X[:, 1], [2, 2, 1.5, 0])


@pytest.mark.parametrize(
    ("geno", "pheno", "match"),
    [
        ("rs1, A, G, 0, 1, 2, 1\nrs2, C, T, 2, 2, 1\n", None, "ragged"),
        ("rs1, A, G, 0, 1, 2\nrs2, C, T, 2, 2, 1, 0, 1\n", None, "ragged"),
        ("rs1, A, G, 0, 1, 2\nrs1, C, T, 2, 2, 1\n", None, "Duplicated SNP ids"),
        ("rs1, A, G, 0, x, 2\nrs2, C, T, 2, 2, 1\n", None, "non-numeric dosage 'x'"),
        ("rs1, A, G, 0, 1, 2\nrs2, C, T, 2, 2, 1\n", "1\n2\n", "Samples do not match"),
        ("rs1, A, G, 0, 1, 3\n", None, "outside"),
    ],
)
def test_read_bimbam_errors(tmp_path, geno, pheno, match):
    g = _write(tmp_path / "g.txt", geno)
    p = None if pheno is None else _write(tmp_path / "p.txt", pheno)
    with pytest.raises(ValueError, match=match):
        sg.io.read_bimbam(g, p)


def test_read_bimbam_pheno_names_mismatch(tmp_path):
    g = _write(tmp_path / "g.txt", GENO)
    p = _write(tmp_path / "p.txt", PHENO)
    with pytest.raises(ValueError, match="pheno_names has 1 names"):
        sg.io.read_bimbam(g, p, pheno_names=["x"])


def _write_plink(tmp_path, X, *, fam_pheno=None):
    from bed_reader import to_bed

    n, p = X.shape
    prefix = tmp_path / "d"
    props = {
        "fid": [f"f{i}" for i in range(n)],
        "iid": [f"i{i}" for i in range(n)],
        "sex": [1] * n,
        "pheno": fam_pheno if fam_pheno is not None else ["-9"] * n,
        "chromosome": ["1"] * (p - 1) + ["2"],
        "sid": [f"s{j}" for j in range(p)],
        "cm_position": [0.0] * p,
        "bp_position": [100 * (j + 1) for j in range(p - 1)] + [-9],
        "allele_1": ["A"] * p,
        "allele_2": ["G"] * p,
    }
    to_bed(f"{prefix}.bed", X, properties=props)
    return prefix


def test_read_plink_small(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, size=(7, 5)).astype(np.float32)
    X[2, 1] = np.nan
    prefix = _write_plink(tmp_path, X, fam_pheno=["1.5", "-9", "2", "0", "1", "1", "3"])
    g = sg.io.read_plink(prefix)
    np.testing.assert_array_equal(g.X, X)
    assert list(g.obs_names) == [f"i{i}" for i in range(7)]
    assert g.obs["pheno1"].isna().tolist() == [False, True] + [False] * 5
    assert g.var["pos"].isna().tolist() == [False] * 4 + [True]
    assert list(g.var["chrom"]) == ["1"] * 4 + ["2"]
    # gzipped copies are accepted
    for ext in ("bed", "bim", "fam"):
        src = tmp_path / f"d.{ext}"
        with gzip.open(tmp_path / f"z.{ext}.gz", "wb") as fh:
            fh.write(src.read_bytes())
    gz = sg.io.read_plink(tmp_path / "z")
    np.testing.assert_array_equal(gz.X, X)


def test_read_plink_errors(tmp_path):
    X = np.zeros((5, 3), dtype=np.float32)
    X[0] = 1
    prefix = _write_plink(tmp_path, X)
    fam = (tmp_path / "d.fam").read_text().splitlines()
    (tmp_path / "d.fam").write_text("\n".join(fam[:-1]) + "\n")  # one individual fewer
    with pytest.raises(ValueError, match="Samples/SNPs do not match"):
        sg.io.read_plink(prefix)
    (tmp_path / "d.fam").write_text("\n".join([*fam[:-1], fam[0]]) + "\n")  # duplicated id
    with pytest.raises(ValueError, match="Duplicated individual ids"):
        sg.io.read_plink(prefix)
    # the same IID in two families: individuals named FID_IID, the fam columns kept
    other = fam[-1].split()
    other[1] = fam[0].split()[1]
    (tmp_path / "d.fam").write_text("\n".join([*fam[:-1], " ".join(other)]) + "\n")
    g = sg.io.read_plink(prefix)
    assert g.obs_names[0] == f"{g.obs['fid'].iloc[0]}_{g.obs['iid'].iloc[0]}"
    assert g.obs["iid"].iloc[0] == g.obs["iid"].iloc[-1]
    assert {"fid", "iid", "father", "mother", "sex"} <= set(g.obs.columns)
    with pytest.raises(FileNotFoundError):
        sg.io.read_plink(tmp_path / "nope")


@pytest.mark.realdata
def test_hs1940_bimbam_and_plink_agree(data_path):
    d = data_path("mouse-hs1940")
    b = sg.io.read_bimbam(
        d / "mouse_hs1940.geno.txt.gz", d / "mouse_hs1940.pheno.txt.gz", d / "mouse_hs1940.anno.txt.gz"
    )
    assert b.shape == (1940, 12226)
    assert int(b.var["pos"].isna().sum()) == 1926
    assert b.obs.notna().sum().tolist() == [1410, 757, 653, 757, 653, 1580]
    assert b.var.loc["rs3683945", "pos"] == 3197400
    pl = sg.io.read_plink(d / "mouse_hs1940")
    assert pl.shape == b.shape
    assert list(pl.var_names) == list(b.var_names)
    assert (pl.var["allele1"].to_numpy() == b.var["allele1"].to_numpy()).all()
    assert int(pl.var["pos"].isna().sum()) == 1926
    pd.testing.assert_series_equal(pl.var["chrom"], b.var["chrom"])
    # SNPs whose dosages are all hard calls are identical in both files
    hard = np.all(np.round(b.X) == b.X, axis=0)
    assert hard.sum() > 5000
    np.testing.assert_array_equal(pl.X[:, hard], b.X[:, hard])
    # elsewhere the hard calls are the rounded dosages
    assert np.nanmax(np.abs(pl.X - b.X)) <= 0.5
    ph = [f"pheno{i}" for i in range(1, 7)]
    np.testing.assert_allclose(pl.obs[ph].to_numpy(), b.obs[ph].to_numpy(), equal_nan=True)


# ---------------------------------------------------------------- .bed / .fam / .bim consistency (issue 25)
def _fam_lines(prefix):
    return Path(f"{prefix}.fam").read_text().splitlines()


@pytest.mark.parametrize("short", [1, 2, 3])
def test_read_plink_fam_short_refused(tmp_path, short):
    # 7 individuals (2 bytes per SNP), values 0/1 only: every real genotype has a 1 bit
    rng = np.random.default_rng(1)
    X = rng.integers(0, 2, size=(7, 30)).astype(np.float32)
    prefix = _write_plink(tmp_path, X)
    fam = _fam_lines(prefix)
    Path(f"{prefix}.fam").write_text("\n".join(fam[:-short]) + "\n")
    # 1-2 short: same byte count, genotypes in the padding bits; 3 short: 1 byte per SNP
    match = "padding bits after individual" if short < 3 else "has 63 bytes but 4 individuals"
    with pytest.raises(ValueError, match=match) as err:
        sg.io.read_plink(prefix)
    assert str(tmp_path / "d.bed") in str(err.value)


def test_read_plink_fam_long_warns(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.integers(0, 2, size=(6, 30)).astype(np.float32)
    prefix = _write_plink(tmp_path, X)
    fam = _fam_lines(prefix)
    Path(f"{prefix}.fam").write_text("\n".join([*fam, "fx ix 0 0 1 -9", "fy iy 0 0 1 -9"]) + "\n")
    with pytest.warns(UserWarning, match="last 2 individual"):
        g = sg.io.read_plink(prefix)
    # what is read for them is the padding: homozygous allele1 everywhere
    assert (g.X[-2:] == 2).all()
    np.testing.assert_array_equal(g.X[:6], X)
    # too few SNPs to tell: no warning (a real individual may be homozygous at 5 SNPs)
    (tmp_path / "five").mkdir()
    prefix5 = _write_plink(tmp_path / "five", np.ascontiguousarray(X[:, :5]))
    fam5 = _fam_lines(prefix5)
    Path(f"{prefix5}.fam").write_text("\n".join([*fam5, "fx ix 0 0 1 -9"]) + "\n")
    assert sg.io.read_plink(prefix5).n_obs == 7


def test_read_plink_bim_and_magic(tmp_path):
    X = np.ones((5, 4), dtype=np.float32)
    prefix = _write_plink(tmp_path, X)
    bim = Path(f"{prefix}.bim").read_text().splitlines()
    Path(f"{prefix}.bim").write_text("\n".join(bim[:-1]) + "\n")
    with pytest.raises(ValueError, match=r"for the 5 individuals of the .fam it holds 4 SNPs"):
        sg.io.read_plink(prefix)
    Path(f"{prefix}.bim").write_text("\n".join(bim) + "\n")
    bed = Path(f"{prefix}.bed")
    good = bed.read_bytes()
    bed.write_bytes(b"##" + good[2:])
    before = bed.read_bytes()
    with pytest.raises(ValueError, match=r"d\.bed does not start with the \.bed magic number"):
        sg.io.read_plink(prefix)
    assert bed.read_bytes() == before
    bed.write_bytes(good[:2] + b"\x00" + good[3:])
    with pytest.raises(ValueError, match="not in SNP-major order"):
        sg.io.read_plink(prefix)
    bed.write_bytes(b"")
    with pytest.raises(ValueError, match="magic number"):
        sg.io.read_plink(prefix)


@pytest.mark.realdata
@pytest.mark.parametrize("short", [1, 2])
def test_read_plink_real_fam_short(tmp_path, data_path, short):
    # 379 individuals: 3 in the last byte of each SNP, one padding slot; a .fam 1-2 short keeps the byte count
    d = data_path("eur-1kg-chr17-22")
    for ext in ("bed", "bim"):
        (tmp_path / f"e.{ext}").symlink_to(d / f"EUR_subset.{ext}")
    fam = (d / "EUR_subset.fam").read_text().splitlines()
    assert len(fam) == 379
    (tmp_path / "e.fam").write_text("\n".join(fam[:-short]) + "\n")
    with pytest.raises(ValueError, match=r"padding bits after individual 37[78] .* at \d+ of 54051 SNPs"):
        sg.io.read_plink(tmp_path / "e")


# ---------------------------------------------------------------- damaged files name the path (issue 25)
def _garbage(n=2000):
    return bytes(np.random.default_rng(0).integers(0, 256, n, dtype=np.uint8))


def test_read_bimbam_damaged_files(tmp_path):
    geno = "".join(f"rs{i}, A, G, 0, 1, 2\n" for i in range(300)).encode()
    (tmp_path / "g.txt").write_bytes(geno)
    (tmp_path / "cut.txt.gz").write_bytes(gzip.compress(geno)[:-30])
    (tmp_path / "badgz.txt.gz").write_bytes(b"\x1f\x8b" + _garbage(500))
    (tmp_path / "bin.txt").write_bytes(_garbage())
    (tmp_path / "empty.txt").write_bytes(b"")
    cases = [
        ({"geno": "cut.txt.gz"}, "genotype file .*cut.txt.gz could not be read: the gzip stream ends early"),
        ({"geno": "badgz.txt.gz"}, "genotype file .*badgz.txt.gz could not be read: invalid gzip data"),
        ({"geno": "bin.txt"}, "genotype file .*bin.txt could not be read: binary content"),
        ({"pheno": "bin.txt"}, "phenotype file .*bin.txt could not be read: binary content"),
        ({"pheno": "cut.txt.gz"}, "phenotype file .*cut.txt.gz could not be read: the gzip stream ends early"),
        ({"pheno": "empty.txt"}, "phenotype file .*empty.txt could not be read: it is empty"),
        ({"anno": "badgz.txt.gz"}, "annotation file .*badgz.txt.gz could not be read: invalid gzip"),
    ]
    for files, match in cases:
        args = {"geno": "g.txt"} | files
        with pytest.raises(ValueError, match=match):
            sg.io.read_bimbam(*(tmp_path / args[k] if k in args else None for k in ("geno", "pheno", "anno")))


def test_read_plink_damaged_files(tmp_path):
    X = np.ones((5, 4), dtype=np.float32)
    prefix = _write_plink(tmp_path, X)
    for ext in ("bed", "bim", "fam"):
        with gzip.open(tmp_path / f"z.{ext}.gz", "wb") as fh:
            fh.write((tmp_path / f"d.{ext}").read_bytes())
    good = {ext: (tmp_path / f"z.{ext}.gz").read_bytes() for ext in ("bed", "bim", "fam")}
    for ext, what in (("bed", "PLINK .bed file"), ("bim", "PLINK .bim file"), ("fam", "PLINK .fam file")):
        (tmp_path / f"z.{ext}.gz").write_bytes(good[ext][:-12])
        with pytest.raises(ValueError, match=rf"{what} .*z\.{ext}\.gz could not be read: the gzip stream ends early"):
            sg.io.read_plink(tmp_path / "z")
        (tmp_path / f"z.{ext}.gz").write_bytes(good[ext])
    assert sg.io.read_plink(tmp_path / "z").shape == (5, 4)
    (tmp_path / "d.fam").write_bytes(_garbage())
    with pytest.raises(ValueError, match=r"PLINK \.fam file .*d\.fam could not be read: binary content"):
        sg.io.read_plink(prefix)

"""Readers: BIMBAM and PLINK into AnnData."""

from __future__ import annotations

import gzip

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

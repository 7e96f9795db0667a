"""The ``scgenome`` command line: clean errors (exit 2), tracebacks only with -v, EMS training on raw tables."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from scgenome._ems_cli import read_variants
from scgenome.cli import main


def _yaml(path, text):
    path.write_text(text)
    return str(path)


def test_value_errors_exit_2_without_traceback(tmp_path, capsys):
    cfg = _yaml(tmp_path / "d.yaml", f"label: positive\noutput_dir: {tmp_path / 'out'}\n")
    assert main(["ems", "train", "--data-config", cfg]) == 2
    err = capsys.readouterr().err
    assert err.startswith("scgenome: error: ")
    assert "needs a 'data' key" in err
    assert "Traceback" not in err
    # -v keeps the traceback, then the same message and exit status
    assert main(["-v", "ems", "train", "--data-config", cfg]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.rstrip().endswith("(path to an .h5ad or a TSV).")
    # a YAML file that is binary garbage, a missing config, a folder that is a file
    (tmp_path / "g.yaml").write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8)))
    assert main(["ems", "train", "--data-config", str(tmp_path / "g.yaml")]) == 2
    assert "YAML config file" in capsys.readouterr().err
    assert main(["ems", "train", "--data-config", str(tmp_path / "none.yaml")]) == 2
    assert "none.yaml not found" in capsys.readouterr().err
    (tmp_path / "afile").write_text("x")
    table = tmp_path / "t.tsv"
    table.write_text("chrom\tpos\tlabel\tf1\n1\t100\t1\t0.5\n")
    cfg = _yaml(tmp_path / "o.yaml", f"data: {table}\noutput_dir: {tmp_path / 'afile' / 'sub'}\n")
    assert main(["ems", "train", "--data-config", cfg]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    # scoring with a damaged model file names it
    (tmp_path / "m.cbm").write_bytes(b"junk")
    (tmp_path / "m.json").write_text("{")
    assert main(["ems", "score", str(tmp_path / "m"), str(table)]) == 2
    assert "m.json could not be read: invalid JSON" in capsys.readouterr().err


def test_read_variants_snp_forms(tmp_path):
    t = tmp_path / "v.tsv"
    t.write_text(
        "snp\tgene\tpositive\tf\n1-999-1000\tA\t1\t0.1\nchr2:500\tB\t0\t0.2\n3:700:A:G\tC\t0\t0.3\n3:700:A:G\tC\t0\t0.3\n"
    )
    v = read_variants(t, label="positive")
    assert v.obs["chrom"].tolist() == ["1", "chr2", "3"]  # the exact repeat dropped
    assert v.obs["pos"].tolist() == [1000, 500, 700]
    assert v.obs["alt"].tolist()[2] == "G"
    assert list(v.var_names) == ["f"]
    assert list(v.obs_names) == ["1-999-1000", "chr2:500", "3:700:A:G"]
    t.write_text("snp\tgene\tpositive\n1-999-1000\tA\t1\nrs42\tB\t0\n")
    with pytest.raises(ValueError, match=r"column 'snp' has 1 value\(s\) in none of the forms .*line 3: 'rs42'"):
        read_variants(t)
    t.write_text("id\tgene\tpositive\nx\tA\t1\n")
    with pytest.raises(ValueError, match=r"add 'chrom' \(or 'chr'\) and 'pos' columns"):
        read_variants(t)


@pytest.mark.realdata
def test_ems_train_on_raw_pgboost_table(tmp_path, data_path, caplog, monkeypatch):
    from scgenome.tl._ems import _model

    monkeypatch.setattr(_model, "_WARNED_PATTERNS", set())
    d = data_path("pgboost-gtex-eqtl-links")
    raw = pd.read_csv(d / "training.tsv", sep="\t")
    chrom = raw["snp"].str.split("-").str[0]
    part = raw[chrom.isin(["1", "2", "3", "4"])]  # the raw columns: snp, gene, positive
    assert list(part.columns) == ["snp", "gene", "positive"]
    part = pd.concat([part, part.iloc[[0]]])  # an exact repeat, as the full file has 9
    part.to_csv(tmp_path / "training.tsv", sep="\t", index=False)
    cfg = _yaml(
        tmp_path / "data.yaml",
        f"data: {tmp_path / 'training.tsv'}\nlabel: positive\ntss: {d / 'TSS.txt.gz'}\noutput_dir: {tmp_path / 'out'}\n",
    )
    mcfg = _yaml(tmp_path / "model.yaml", "preset: fast\nparams: {iterations: 40}\nseed: 0\n")
    with caplog.at_level(logging.WARNING, logger="scgenome"):
        assert main(["ems", "train", "--data-config", cfg, "--model-config", mcfg]) == 0
    msgs = [r.getMessage() for r in caplog.records]
    assert sum("matched none" in m for m in msgs) == 1, msgs  # 5 LOCO folds + the final model: one warning
    assert sum("repeat an earlier row exactly" in m for m in msgs) == 1
    out = tmp_path / "out"
    pred = pd.read_csv(out / "ems_predictions.tsv", sep="\t", index_col=0)
    assert len(pred) == len(part) - 1 - int(part.iloc[:-1].duplicated().sum())
    assert pred.loc["1-169692413-169692414:SCYL3", "pos"] == 169692414  # snp:gene (a SNP links several genes)
    summary = dict(line.split("\t") for line in (out / "ems_summary.txt").read_text().splitlines() if "\t" in line)
    assert int(summary["n_positive"]) == int(part.iloc[:-1].drop_duplicates()["positive"].sum())
    assert float(summary["auc"]) > 0.7  # distance features alone reach about 0.8 on all 22 chromosomes

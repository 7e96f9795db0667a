from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from figcheck import MIN_DPI, record_savefig

import scgenome as sg
from scgenome.cli import main


def _png_dpi(path) -> float:
    """The resolution written in a PNG's pHYs chunk (what matplotlib's dpi= becomes)."""
    from PIL import Image

    with Image.open(path) as im:
        return float(im.info["dpi"][0])


@pytest.mark.slow
def test_demo_gwas_step(tmp_path, capsys, monkeypatch):
    out = tmp_path / "demo"
    saved = record_savefig(monkeypatch)
    assert main(["demo", str(out), "--steps", "gwas", "--seed", "0"]) == 0
    saved.check()  # every figure: text >= 8 pt at its saved size, no texts overlapping, dpi >= 150
    assert sorted(Path(path).name for path, _, _ in saved.calls) == ["manhattan.png", "qq.png"]
    for name in ("manhattan.png", "qq.png"):
        assert _png_dpi(out / name) == pytest.approx(150, abs=0.5)
    text = capsys.readouterr().out
    assert "[gwas]" in text
    for name in ("manhattan.png", "qq.png", "gwas_results.tsv"):
        assert (out / name).stat().st_size > 1000, name
    df = pd.read_csv(out / "gwas_results.tsv", sep="\t")
    for col in ("chr", "rs", "ps", "af", "beta", "se", "p_wald", "p_lrt", "p_score", "l_remle"):
        assert col in df.columns, col
    n_tested = int(re.search(r"SNPs tested after QC: (\d+)", text).group(1))
    assert n_tested == len(df)
    assert 4500 < n_tested <= 5000  # a few rare or missing-heavy SNPs removed
    assert ((df["p_wald"] > 0) & (df["p_wald"] <= 1)).all()
    pve = float(re.search(r"PVE = ([\d.]+)", text).group(1))
    assert 0.3 < pve < 0.7  # simulated h2 = 0.5
    lam_lmm, lam_lin = map(float, re.search(r"lambda_GC: LMM ([\d.]+), linear model ([\d.]+)", text).groups())
    assert 0.85 < lam_lmm < 1.15  # the kinship includes the causal SNPs: slightly deflated
    assert lam_lin > lam_lmm + 0.2  # structure and relatives inflate the linear model
    n_hits, n_near = map(int, re.search(r"hits at p < 5e-08: (\d+) SNPs, (\d+) of them", text).groups())
    assert n_hits >= 1
    assert n_near >= 0.8 * n_hits  # genome-wide hits sit at the simulated causal loci
    recovered = int(re.search(r"causal SNPs recovered at p < 5e-08: (\d+) of 10", text).group(1))
    assert recovered >= 2
    # the lambda printed is that of the table written
    from scipy import stats

    lam = np.median(stats.chi2.isf(df["p_wald"], 1)) / stats.chi2.ppf(0.5, 1)
    assert lam == pytest.approx(lam_lmm, abs=2e-3)


def test_demo_registry_has_gwas():
    from scgenome._demo import STEPS

    assert ("gwas", "scgenome.tl._gwas._demo:step") in STEPS
    assert hasattr(sg.datasets, "simulate_cohort")


@pytest.mark.slow
def test_demo_figures_legible(tmp_path, monkeypatch):
    """The figures of the other demo steps: legible at their saved size, dpi >= 150, every line explained."""
    from scgenome._demo import run_demo

    drawn = {}
    original = sg.pl.ems_curves

    def ems_curves(*args, **kwargs):
        drawn["ems_curves"] = fig = original(*args, **kwargs)
        return fig

    monkeypatch.setattr(sg.pl, "ems_curves", ems_curves)
    saved = record_savefig(monkeypatch)
    run_demo(tmp_path, steps=["ems", "negbin", "synthesize"])
    saved.check()
    names = sorted(Path(path).name for path, _, _ in saved.calls)
    assert names == ["ems_curves.png", "negbin.png", "synthesis_report.png"]
    for name in names:
        assert _png_dpi(tmp_path / name) >= MIN_DPI - 0.5, name
    # the grey per-chromosome curves of the EMS figure have their legend entry
    for ax in drawn["ems_curves"].axes:
        assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == "per chromosome (22)"

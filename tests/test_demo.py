from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import scgenome as sg
from scgenome.cli import main


@pytest.mark.slow
def test_demo_gwas_step(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", str(out), "--steps", "gwas", "--seed", "0"]) == 0
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

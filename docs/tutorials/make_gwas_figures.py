"""Make the figures and numbers of the HS1940 GWAS tutorial (docs/tutorials/gwas_hs1940.md).

Run from the repository root, with the real data in ../shared/data (or $SCGENOME_DATA):

    python docs/tutorials/make_gwas_figures.py

Writes into docs/tutorials/figures/: gwas_hs1940_manhattan.png, gwas_hs1940_qq.png,
gwas_hs1940_agreement.png and gwas_hs1940_numbers.txt (included verbatim by the page).
"""

from __future__ import annotations

import time
from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import scgenome as sg

OUT = Path(__file__).parent / "figures"
DPI = 150


def main() -> None:
    OUT.mkdir(exist_ok=True)
    lines: list[str] = []

    def say(s: str = "") -> None:
        print(s)
        lines.append(s)

    d = sg.datasets.data_path("mouse-hs1940")
    t0 = time.perf_counter()
    gdata = sg.io.read_bimbam(
        d / "mouse_hs1940.geno.txt.gz", d / "mouse_hs1940.pheno.txt.gz", d / "mouse_hs1940.anno.txt.gz"
    )
    t_read = time.perf_counter() - t0
    print(f"read_bimbam took {t_read:.1f} s")  # timings: stdout only (see docs/benchmarks.md)
    say(f"read_bimbam: {gdata.n_obs} mice x {gdata.n_vars} SNPs")
    say(f"SNPs without a bp position: {int(gdata.var['pos'].isna().sum())}")

    # GEMMA's default two-step run: QC on the analysed mice, kinship -gk 1, then -lmm 4
    t0 = time.perf_counter()
    sg.tl.gwas(gdata, "pheno1")
    t_lmm = time.perf_counter() - t0
    t0 = time.perf_counter()
    sg.tl.gwas(gdata, "pheno1", method="linear", key_added="gwas_linear")
    t_lin = time.perf_counter() - t0
    res = gdata.uns["gwas"]
    null = res["null_model"]
    print(f"tl.gwas (QC + kinship + LMM): {t_lmm:.1f} s; linear model: {t_lin:.1f} s")
    say(f"mice analysed: {res['n_analysed']}, SNPs tested: {res['n_snps_tested']}")
    say(f"null model: PVE = {null['pve']:.6f} (se {null['pve_se']:.6f}), vg = {null['vg']:.5f}, ve = {null['ve']:.6f}")
    say(f"lambda_GC: LMM {res['lambda_gc']:.3f}, linear {gdata.uns['gwas_linear']['lambda_gc']:.3f}")

    ours = sg.get.gwas_df(gdata)
    gemma = pd.read_csv(d / "ref_gemma-0.98.5_CD8_pheno1_lmm4.assoc.txt.gz", sep="\t")
    gemma["chr"] = gemma["chr"].astype(str)
    both = ours.merge(gemma, on="rs", suffixes=("", "_gemma"))
    say(f"SNPs in both result tables: {len(both)} (scgenome {len(ours)}, GEMMA {len(gemma)})")
    for col in ("p_wald", "p_lrt", "p_score"):
        diff = np.abs(np.log10(both[col]) - np.log10(both[f"{col}_gemma"]))
        say(f"max |delta -log10 {col}| vs GEMMA: {diff.max():.2e}")
    rel = np.abs(both["beta"] - both["beta_gemma"]) / np.abs(both["beta_gemma"])
    say(f"max relative difference of beta vs GEMMA: {rel.max():.2e}")
    bonf = 0.05 / len(ours)
    for name, thr in (("1e-5", 1e-5), (f"Bonferroni {bonf:.2e}", bonf), ("1e-8", 1e-8)):
        a = set(ours.loc[ours["p_wald"] < thr, "rs"])
        b = set(gemma.loc[gemma["p_wald"] < thr, "rs"])
        say(f"hits at {name}: scgenome {len(a)}, GEMMA {len(b)}, identical sets: {a == b}")
    say()
    say("top 10 SNPs (scgenome) with GEMMA's p_wald:")
    top = both.sort_values("p_wald").head(10)
    top = top[["chr", "rs", "ps", "allele1", "af", "beta", "se", "l_remle", "p_wald", "p_wald_gemma"]]
    say(top.to_string(index=False, float_format=lambda v: f"{v:.4g}"))

    # Manhattan: scgenome above, GEMMA's published output mirrored below
    fig, ax = plt.subplots(figsize=(10, 4.2), layout="constrained")
    sg.pl.manhattan(
        gdata,
        other=gemma,
        genomewide_line=bonf,
        annotate_pval=bonf,
        locus_window=5_000_000,
        label="scgenome sg.tl.gwas",
        other_label="GEMMA 0.98.5 -lmm 4",
        title="HS1940 mice, CD8 (phenotype 1): LMM GWAS",
        ax=ax,
        show=False,
    )
    fig.savefig(OUT / "gwas_hs1940_manhattan.png", dpi=DPI)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4.5, 4.5), layout="constrained")
    sg.pl.qq(
        gdata, other=sg.get.gwas_df(gdata, key="gwas_linear"), label="LMM", other_label="linear", ax=ax, show=False
    )
    fig.savefig(OUT / "gwas_hs1940_qq.png", dpi=DPI)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4.5, 4.5), layout="constrained")
    x = -np.log10(both["p_wald_gemma"].to_numpy())
    y = -np.log10(both["p_wald"].to_numpy())
    ax.scatter(x, y, s=5, color="#1f4e79", linewidths=0, label="SNP")
    lim = max(x.max(), y.max()) * 1.05
    ax.plot([0, lim], [0, lim], color="black", lw=0.7, label="y = x")
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    ax.set_xlim(0, lim)
    ax.set_ylim(0, lim)
    ax.set_xlabel(r"GEMMA $-\log_{10} p_{wald}$")
    ax.set_ylabel(r"scgenome $-\log_{10} p_{wald}$")
    ax.set_title(f"{len(both)} SNPs", fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    fig.savefig(OUT / "gwas_hs1940_agreement.png", dpi=DPI)
    plt.close(fig)

    (OUT / "gwas_hs1940_numbers.txt").write_text("\n".join(lines) + "\n")
    for f in sorted(OUT.glob("gwas_hs1940_*")):
        print(f"{f}: {f.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()

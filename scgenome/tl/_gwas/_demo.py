"""Demo step ``gwas``: simulate a cohort, QC, kinship, LMM GWAS, Manhattan and QQ plots, results table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pathlib import Path

#: Size of the demo cohort (individuals, SNPs): a few seconds end to end.
N_INDIVIDUALS = 1000
N_SNPS = 5000
GENOMEWIDE = 5e-8
#: Resolution of the figures written.
DPI = 150


def _near_causal(gwas_df, causal_pos: dict[str, tuple[str, int]], window: int = 2_000_000) -> np.ndarray:
    """Whether each row of ``gwas_df`` lies within ``window`` bp of a causal SNP on its chromosome."""
    chrom = gwas_df["chr"].astype(str).to_numpy()
    ps = gwas_df["ps"].astype("float64").to_numpy()
    near = np.zeros(len(gwas_df), dtype=bool)
    for c, p in causal_pos.values():
        near |= (chrom == c) & (np.abs(ps - p) <= window)
    return near


def step(outdir: Path, rng: np.random.Generator) -> list[str]:
    """Run the GWAS demo into ``outdir``; return the summary lines.

    Writes ``manhattan.png`` (LMM p-values, the simulated causal SNPs highlighted), ``qq.png``
    (LMM against the linear model, with lambda_GC) and ``gwas_results.tsv`` (:func:`scgenome.get.gwas_df`).
    """
    from matplotlib.figure import Figure

    import scgenome as sg

    gdata = sg.datasets.simulate_cohort(
        N_INDIVIDUALS, N_SNPS, n_causal=10, heritability=0.5, missing_rate=0.002, rng=rng
    )
    truth = gdata.uns["simulation"]
    sg.pp.snp_qc(gdata)
    sg.pp.kinship(gdata)
    sg.tl.gwas(gdata, "pheno", covariates=["age", "sex"], method="lmm")
    sg.tl.gwas(gdata, "pheno", covariates=["age", "sex"], method="linear", key_added="gwas_linear")

    df = sg.get.gwas_df(gdata)
    table = outdir / "gwas_results.tsv"
    df.to_csv(table, sep="\t", index=False, na_rep="NA")

    causal = [str(s) for s in truth["causal_snps"]]
    fig = Figure(figsize=(10, 4), layout="constrained")
    sg.pl.manhattan(
        gdata,
        highlight=causal,
        highlight_label="simulated causal SNPs",
        annotate_pval=GENOMEWIDE,
        title="LMM GWAS of a simulated cohort",
        ax=fig.subplots(),
        show=False,
    )
    manhattan_png = outdir / "manhattan.png"
    fig.savefig(manhattan_png, dpi=DPI)
    fig = Figure(figsize=(4.5, 4.5), layout="constrained")
    sg.pl.qq(
        gdata,
        other=sg.get.gwas_df(gdata, key="gwas_linear"),
        label="LMM",
        other_label="linear",
        ax=fig.subplots(),
        show=False,
    )
    qq_png = outdir / "qq.png"
    fig.savefig(qq_png, dpi=DPI)

    res = gdata.uns["gwas"]
    null = res["null_model"]
    p = df["p_wald"].to_numpy(dtype=np.float64)
    hits = df.loc[p < GENOMEWIDE]
    var = gdata.var
    causal_pos = {s: (str(var.at[s, "chrom"]), int(var.at[s, "pos"])) for s in causal}
    near = _near_causal(hits, causal_pos)
    p_causal = var.loc[causal, "gwas_pval"].to_numpy(dtype=np.float64)
    lam_linear = gdata.uns["gwas_linear"]["lambda_gc"]
    return [
        f"cohort: {gdata.n_obs} individuals x {gdata.n_vars} SNPs, {gdata.obs['population'].nunique()} populations, "
        f"{(gdata.obs['family'] != 'none').sum()} siblings, simulated h2 = {truth['heritability']:.2f}",
        f"SNPs tested after QC: {res['n_snps_tested']} (individuals analysed: {res['n_analysed']})",
        f"null model: PVE = {null['pve']:.3f} (se {null['pve_se']:.3f}), vg = {null['vg']:.3f}, ve = {null['ve']:.3f}",
        f"lambda_GC: LMM {res['lambda_gc']:.3f}, linear model {lam_linear:.3f}",
        f"hits at p < {GENOMEWIDE:g}: {len(hits)} SNPs, {int(near.sum())} of them within 2 Mb of a causal SNP",
        f"causal SNPs recovered at p < {GENOMEWIDE:g}: {int((p_causal < GENOMEWIDE).sum())} of {len(causal)}"
        f" (at p < 1e-5: {int((p_causal < 1e-5).sum())})",
        f"wrote {manhattan_png.name}, {qq_png.name}, {table.name} ({len(df)} rows)",
    ]


__all__ = ["step"]

"""Demo step: synthesize a simulated cohort and report concordance, fidelity and privacy."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pathlib import Path


def step(outdir: Path, rng: np.random.Generator) -> list[str]:
    """Simulate a cohort, hold out 20%, synthesize from the rest, report and plot; return summary lines."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    import scgenome as sg

    real = sg.datasets.simulate_cohort(
        n_individuals=300, n_snps=900, n_chromosomes=3, n_causal=2, heritability=0.7, rng=rng
    )
    hold = np.zeros(real.n_obs, bool)
    hold[rng.choice(real.n_obs, real.n_obs // 5, replace=False)] = True
    real.obs["holdout"] = hold
    syn = sg.tl.synthesize(
        real[~hold].copy(),
        phenotypes="pheno",
        covariates=["sex"],
        n_individuals=real.n_obs,
        rng=rng,
    )
    tabs = sg.tl.synthesis_report(
        real, syn, phenotype="pheno", covariates=["sex"], holdout="holdout", n_subsamples=2, rng=rng
    )
    fig = sg.pl.synthesis_report(syn, return_fig=True)
    path = outdir / "synthesis_report.png"
    fig.savefig(path, dpi=150)
    plt.close(fig)
    fid, priv = tabs["fidelity"]["value"], tabs["privacy"]["value"]
    loc = tabs["gwas"].set_index(["level", "threshold"]).loc[("locus", 1e-5)]
    return [
        f"synthetic cohort {syn.n_obs} x {syn.n_vars} from {int((~hold).sum())} training individuals",
        f"locus-level recall {loc['recall']:.2f}, precision {loc['precision']:.2f} at p < 1e-5",
        f"AF corr {fid['af_corr']:.3f}, LD r2 corr {fid['ld_r2_corr']:.3f} (mean r2 real {fid['ld_r2_mean_real']:.2f} "
        f"synthetic {fid['ld_r2_mean_synthetic']:.2f}), PVE real {fid['pve_real']:.2f} synthetic {fid['pve_synthetic']:.2f}",
        f"PC1 SD ratio {fid['pca_sd_ratio_pc1']:.2f}; real-vs-synthetic classifier AUC on PC1-10: logistic "
        f"{fid['classifier_auc']:.2f}, k-NN {fid['classifier_auc_knn']:.2f} (sees the real families a sampled cohort lacks)",
        f"MIA AUC (nearest neighbour) {priv['mia_auc_nn']:.2f}, (25-SNP windows) {priv['mia_auc_window']:.2f}, "
        f"exact copies {int(priv['exact_copies'])}",
        "populations detected (populations='auto'): "
        f"{syn.uns['synthesis'].get('population_detection', {}).get('n_populations', 1)}; PC1-PC5 SD ratios "
        + ", ".join(f"{fid[f'pca_sd_ratio_pc{j}']:.2f}" for j in range(1, 6))
        + f"; k-NN AUC {fid['classifier_auc_knn']:.2f}; MIA AUCs (holdout) NN {priv['mia_auc_nn']:.2f}, "
        f"window {priv['mia_auc_window']:.2f}",
        f"figure: {path.name}",
    ]

"""Figures of docs/tutorials/synthesis.md: HS1940 CD8, real vs synthetic (run from the repository root)."""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "2")

from pathlib import Path  # noqa: E402

import matplotlib as mpl  # noqa: E402

mpl.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import scgenome as sg  # noqa: E402

OUT = Path(__file__).parent / "figures"
OUT.mkdir(exist_ok=True)

d = sg.datasets.data_path("mouse-hs1940")
real = sg.io.read_bimbam(
    d / "mouse_hs1940.geno.txt.gz", d / "mouse_hs1940.pheno.txt.gz", d / "mouse_hs1940.anno.txt.gz"
)
rng = np.random.default_rng(0)
hold = np.zeros(real.n_obs, bool)
hold[rng.choice(real.n_obs, real.n_obs // 10, replace=False)] = True
real.obs["holdout"] = hold

# as many synthetic mice as training mice (the default): like the floor's 90% subsamples
syn = sg.tl.synthesize(real[~hold].copy(), phenotypes="pheno1", rng=0)
tabs = sg.tl.synthesis_report(real, syn, phenotype="pheno1", holdout="holdout", n_subsamples=1, rng=1)
print(tabs["gwas"].to_string(float_format="%.3f"))
print(tabs["gwas_agreement"].to_string(float_format="%.3f"))
print(tabs["fidelity"].to_string(float_format="%.4f"))
print(tabs["privacy"].to_string(float_format="%.4f"))

sg.tl.gwas(real, "pheno1")
sg.tl.gwas(syn, "pheno1")
fig, ax = plt.subplots(figsize=(10, 4.5), layout="constrained")
sg.pl.manhattan(real, other=syn, label="real HS1940", other_label="synthetic", ax=ax, show=False)
fig.savefig(OUT / "synth_manhattan.png", dpi=150)
plt.close(ax.figure)

# the structure-preserving setting and the plain linear model (relatedness-driven hits)
syn_s = sg.tl.synthesize(
    real[~hold].copy(),
    phenotypes="pheno1",
    rng=0,
    n_groups=20,
    group_pooling=0.1,
    min_group_size=10,
    min_cluster_size=15,
    recombination_scale=1.5,
)
sg.tl.gwas(real, "pheno1", method="linear", key_added="linear")
sg.tl.gwas(syn_s, "pheno1", method="linear", key_added="linear")
fig, ax = plt.subplots(figsize=(10, 4.5), layout="constrained")
sg.pl.manhattan(
    real, other=syn_s, key="linear", label="real HS1940, linear", other_label="structure-preserving", ax=ax, show=False
)
fig.savefig(OUT / "synth_manhattan_linear.png", dpi=150)
plt.close(ax.figure)

fig = sg.pl.synthesis_report(syn, return_fig=True)
fig.savefig(OUT / "synth_report.png", dpi=150, bbox_inches="tight")
plt.close(fig)
print("written", sorted(p.name for p in OUT.glob("synth_*.png")))

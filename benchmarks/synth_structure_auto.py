"""``populations="auto"`` (the default of ``sg.tl.synthesize``): is population structure kept, at what privacy cost?

Usage: ``python benchmarks/synth_structure_auto.py [--parts demo,populations,hs1940] [--seeds 0,1,2,3,4]``
(HS1940 needs ../shared/data/mouse-hs1940). Threads are pinned to 2. About 2 minutes per demo / populations seed
pair, 3-4 minutes per HS1940 seed.

Each part synthesizes from a training split with the defaults (``populations="auto"``) and, for comparison, with
``populations=None`` (the previous default: one model), and prints from ``sg.tl.synthesis_report`` (with the
holdout) the PC1-PC5 SD ratios, the k-NN / logistic real-vs-synthetic AUCs, both membership-inference AUCs and the
GWAS concordance (SNP F1 against the real 90%-subsample floor; locus precision / recall at 1e-5), with the number
of populations detected:

- ``demo``: the demo's step (``simulate_cohort(300, 900, n_chromosomes=3, n_causal=2, heritability=0.7)``, 20%
  holdout), one generator ``np.random.default_rng(seed)`` throughout as in the demo;
- ``populations``: ``simulate_cohort(600, 3000, structure="populations", n_causal=5, rng=seed)``, 20% holdout;
- ``hs1940``: HS1940 CD8 (``pheno1``), a 70% / 30% train / holdout split (``holdout_mask(n, seed, 0.3)``).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "2"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import scgenome as sg  # noqa: E402


def measure(real, train_mask, phenotype, covariates, seed, populations, n_subsamples, rng) -> dict:
    """Synthesize from ``real[train_mask]`` (as many individuals as ``real``) and report; one row of numbers."""
    t = time.perf_counter()
    syn = sg.tl.synthesize(
        real[train_mask].copy(),
        phenotypes=phenotype,
        covariates=covariates,
        n_individuals=real.n_obs,
        populations=populations,
        rng=rng,
    )
    seconds = time.perf_counter() - t
    real.obs["holdout"] = ~train_mask
    tabs = sg.tl.synthesis_report(
        real, syn, phenotype=phenotype, covariates=covariates, holdout="holdout", n_subsamples=n_subsamples, rng=rng
    )
    f, p = tabs["fidelity"]["value"], tabs["privacy"]["value"]
    g = tabs["gwas"].set_index(["level", "threshold"])
    det = syn.uns["synthesis"].get("population_detection", {})
    row = {
        "seed": seed,
        "populations": "auto" if populations == "auto" else "none",
        "detected": det.get("n_populations", np.nan),
        **{f"PC{j} SD": f[f"pca_sd_ratio_pc{j}"] for j in range(1, 6)},
        "k-NN AUC": f["classifier_auc_knn"],
        "logistic AUC": f["classifier_auc"],
        "kinship p99 syn/real": f"{f['kinship_p99_synthetic']:.3f}/{f['kinship_p99_real']:.3f}",
        "MIA NN": p["mia_auc_nn"],
        "MIA window": p["mia_auc_window"],
    }
    for th in (1e-8, 5e-8, 1e-5):
        r = g.loc[("snp", th)]
        row[f"SNP F1 {th:.0e} (floor min)"] = f"{r['f1']:.3f} ({r['floor_f1_min']:.3f})"
    r = g.loc[("locus", 1e-5)]
    row["loci P/R 1e-5"] = f"{r['precision']:.2f}/{r['recall']:.2f}"
    row["seconds"] = round(seconds, 1)
    return row


def cohort(part: str, seed: int):
    """The real cohort, its training mask, phenotype, covariates and synthesis seed of ``part`` at ``seed``.

    The demo part is the demo's step (``scgenome.tl._synth._demo.step``) at ``np.random.default_rng(seed)``: one
    generator for the cohort, the split, the synthesis and the report.
    """
    if part == "hs1940":
        from _hs1940 import holdout_mask, load

        real = load()
        return real, ~holdout_mask(real.n_obs, seed, 0.3), "pheno1", None, seed
    rng = np.random.default_rng(seed)
    if part == "demo":
        real = sg.datasets.simulate_cohort(
            n_individuals=300, n_snps=900, n_chromosomes=3, n_causal=2, heritability=0.7, rng=rng
        )
    else:
        real = sg.datasets.simulate_cohort(600, 3000, structure="populations", n_causal=5, rng=rng)
    hold = np.zeros(real.n_obs, bool)
    hold[rng.choice(real.n_obs, real.n_obs // 5, replace=False)] = True
    return real, ~hold, "pheno", ["sex"], rng if part == "demo" else seed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", default="demo,populations,hs1940")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--baseline", default="demo,populations", help="parts also run with populations=None")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    for part in args.parts.split(","):
        rows = []
        for seed in seeds:
            for pops in ("auto", None) if part in args.baseline.split(",") else ("auto",):
                real, train, ph, cov, rng = cohort(part, seed)
                rows.append(measure(real, train, ph, cov, seed, pops, 3 if part == "hs1940" else 2, rng))
                print(pd.Series(rows[-1]).to_string(), flush=True)
        tab = pd.DataFrame(rows)
        print(f"\n=== {part}")
        print(tab.to_string(index=False, float_format="%.3f"))
        num = tab.select_dtypes("number").drop(columns=["seed"])
        print("min-max over seeds:")
        print(num.groupby(tab["populations"]).agg(["min", "max"]).T.to_string(float_format="%.3f"), flush=True)


if __name__ == "__main__":
    main()

"""More structure groups: do they buy the linear-model hits of HS1940, and at what privacy cost?

Usage: ``python benchmarks/synth_structure_tradeoff.py`` (needs ../shared/data/mouse-hs1940). Threads are pinned
to 2; about 10 minutes.

The HS1940 linear-model GWAS of CD8 (no kinship, lambda_GC about 20) has 2,000 hits at 1e-8, driven by the mice's
family structure. ``sg.tl.synthesize`` reproduces structure through its groups (k-means on the top genotype PCs,
each group with its own cluster transitions, pooled with all groups' by ``group_pooling``). This script walks from
the defaults (8 groups, pooled) through the structure-preserving setting (20 groups, little pooling) to family-sized
groups without pooling (60 and 200), synthesizes CD8 from the benchmarks' 90% training split at each, and prints the
linear-model and LMM SNP concordance with the GWAS of all 1,940 mice beside the privacy figures of
``sg.tl.synthesis_report`` (one floor subsample each: the floor is not the point here).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "2"

import time  # noqa: E402

import pandas as pd  # noqa: E402
from _hs1940 import SEED, STRUCTURE, holdout_mask, load  # noqa: E402

import scgenome as sg  # noqa: E402

CONFIGS = {
    "defaults": {},
    "structure setting": STRUCTURE,
    "60 groups, no pooling": {
        "n_groups": 60,
        "group_pooling": 0.0,
        "min_group_size": 10,
        "min_cluster_size": 15.0,
        "recombination_scale": 1.5,
    },
    "200 groups, no pooling": {"n_groups": 200, "group_pooling": 0.0, "min_group_size": 5},
}


def main():
    real = load()
    hold = holdout_mask(real.n_obs)
    real.obs["holdout"] = hold
    train = real[~hold].copy()
    rows = []
    for name, knobs in CONFIGS.items():
        t = time.perf_counter()
        syn = sg.tl.synthesize(train, phenotypes=["pheno1"], rng=SEED, **knobs)
        row = {
            "setting": name,
            "groups": syn.obs["synth_group"].nunique(),
            "seconds": round(time.perf_counter() - t, 1),
        }
        for method in ("linear", "lmm"):
            tabs = sg.tl.synthesis_report(
                real, syn, phenotype="pheno1", holdout="holdout", method=method, n_subsamples=1, rng=1
            )
            g = tabs["gwas"].set_index(["level", "threshold"])
            for th in (1e-8, 1e-5):
                r = g.loc[("snp", th)]
                if method == "linear":
                    row[f"linear P/R {th:.0e}"] = f"{r['precision']:.3f} / {r['recall']:.3f}"
                else:
                    row[f"LMM F1 {th:.0e}"] = round(float(r["f1"]), 3)
            if method == "linear":
                pv, fi = tabs["privacy"]["value"], tabs["fidelity"]["value"]
                row["MIA NN"] = round(pv["mia_auc_nn"], 3)
                row["MIA window"] = round(pv["mia_auc_window"], 3)
                row["NN adv. acc."] = round(pv["nn_adversarial_accuracy"], 3)
                row["min dist / p05"] = round(pv["min_syn_real_dist"] / pv["real_nn_dist_p05"], 3)
                row["kinship p99"] = round(fi["kinship_p99_synthetic"], 3)
                row["k-NN AUC"] = round(fi["classifier_auc_knn"], 3)
        rows.append(row)
        print(pd.Series(row).to_string(), flush=True)
    print(
        "\nreal kinship p99 {:.3f}; privacy bounds: MIA AUCs <= 0.55, min dist / p05 >= 1".format(
            tabs["fidelity"]["value"]["kinship_p99_real"]
        )
    )
    print(pd.DataFrame(rows).set_index("setting").T.to_string())


if __name__ == "__main__":
    main()

"""Time and accuracy of ems_score's presets: LOCO on simulated variants, seeds given on the command line.

    python benchmarks/ems_presets.py [n_variants n_features seed ...]

Prints, per preset and seed: wall time, trees per fold, pooled AP and AUC. Threads: sg.settings.n_jobs (all cores).
"""

from __future__ import annotations

import sys
import time

import numpy as np

import scgenome as sg


def main(n_variants: int = 5000, n_features: int = 100, seeds: tuple[int, ...] = (0, 1)) -> None:
    print(f"ems_score LOCO on simulate_variants({n_variants}, {n_features}), {sg.settings.n_threads} threads")
    print("preset     seed  seconds  trees/fold  AP     AUC")
    for preset in ("fast", "reference"):
        for seed in seeds:
            vdata = sg.datasets.simulate_variants(n_variants, n_features, rng=seed)
            t0 = time.perf_counter()
            sg.tl.ems_score(vdata, preset=preset, shap=False, n_boot=0, rng=seed)
            dt = time.perf_counter() - t0
            m = vdata.uns["ems"]["metrics"]
            trees = float(np.mean(vdata.uns["ems"]["folds"]["n_trees"]))
            print(f"{preset:<10} {seed:>4} {dt:8.1f} {trees:11.0f}  {m['ap']:.3f}  {m['auc']:.3f}", flush=True)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    if len(args) >= 3:
        main(args[0], args[1], tuple(args[2:]))
    else:
        main()

"""Benchmark: sc-EMS leave-one-chromosome-out with the reference parameters vs the ``fast`` preset.

Simulated 70,000 variants x 500 features on 22 chromosomes (``sg.datasets.simulate_variants``);
the same folds are run with

* reference: model 5 (depth 6, l2_leaf_reg 3, learning_rate 0.03, fixed 1000 iterations, no
  early stopping, no calibration) -- the peer pipeline's parameters, fitted by CatBoost;
* fast: the ``fast`` preset (64 borders, learning_rate 0.06, at most 600 iterations with early
  stopping on an inner validation split of the training chromosomes, no calibration).

Both use the same thread count (``--threads``, CatBoost ``thread_count`` through ``sg.settings.n_jobs``).
``--n-folds k`` runs only the first k chromosomes (each trained on the other 21) and extrapolates
the full 22-fold wall time as ``time * 22 / k``; metrics are then over the variants of those k
chromosomes. Prints wall time, AUC, AP for both and the ratios.

    python benchmarks/ems_loco.py                 # full LOCO (the reference part is ~30+ min)
    python benchmarks/ems_loco.py --n-folds 2     # time a subset and extrapolate
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-variants", type=int, default=70_000)
    parser.add_argument("--n-features", type=int, default=500)
    parser.add_argument("--n-folds", type=int, default=None, help="run only the first k chromosome folds")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"

    import numpy as np

    import scgenome as sg
    from scgenome.tl._ems._metrics import average_precision, roc_auc

    sg.settings.n_jobs = args.threads
    t0 = time.perf_counter()
    vdata = sg.datasets.simulate_variants(args.n_variants, args.n_features, rng=args.seed)
    print(f"simulated {vdata.n_obs} x {vdata.n_vars} in {time.perf_counter() - t0:.1f} s; threads={args.threads}")
    configs = {
        "reference": {"preset": "reference", "early_stopping": False, "calibration": None},
        "fast": {"preset": "fast", "calibration": None},
    }
    if args.skip_reference:
        configs.pop("reference")
    results = {}
    n_total = 22
    for name, kw in configs.items():
        t = time.perf_counter()
        out = sg.tl.ems_score(vdata, rng=args.seed, shap=False, n_boot=0, n_folds=args.n_folds, copy=True, **kw)
        wall = time.perf_counter() - t
        y = out.obs["ems_label"].to_numpy()
        s = out.obs["ems"].to_numpy()
        ok = ~np.isnan(y) & ~np.isnan(s)
        k = out.uns["ems"]["params"]["n_folds"]
        trees = out.uns["ems"]["folds"]["n_trees"].tolist()
        results[name] = {
            "wall_s": wall,
            "wall_full_s": wall * n_total / k,
            "folds": k,
            "n_scored": int(ok.sum()),
            "auc": roc_auc(y[ok], s[ok]),
            "ap": average_precision(y[ok], s[ok]),
            "median_trees": float(np.median(trees)),
        }
        print(name, json.dumps(results[name]), flush=True)
    print()
    print("| config | folds run | wall (s) | extrapolated 22 folds (s) | AUC | AP | median trees |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['folds']} | {r['wall_s']:.1f} | {r['wall_full_s']:.0f} | {r['auc']:.4f} | {r['ap']:.4f} "
            f"| {r['median_trees']:.0f} |"
        )
    if "reference" in results:
        ref, fast = results["reference"], results["fast"]
        print(
            f"\nspeed-up fast vs reference: {ref['wall_s'] / fast['wall_s']:.1f}x; "
            f"AUC difference (fast - reference): {fast['auc'] - ref['auc']:+.4f}; "
            f"AP difference: {fast['ap'] - ref['ap']:+.4f}"
        )


if __name__ == "__main__":
    main()

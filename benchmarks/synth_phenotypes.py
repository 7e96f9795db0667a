"""Every HS1940 phenotype, not only CD8: one synthetic cohort of all six per seed, LMM SNP F1 beside the floor.

Usage: ``python benchmarks/synth_phenotypes.py [n_seeds]`` (needs ../shared/data/mouse-hs1940; default 3 seeds).
Threads are pinned to 2.

The synthesis sees the benchmark's 90% training split only (``_hs1940.holdout_mask``) and makes a cohort of its
size with pheno1 to pheno6 together (pheno4 and pheno5 are binary). For each phenotype the script prints the
hit-class SNP F1 at 1e-8 / 5e-8 / 1e-5 against the LMM GWAS of all 1,940 mice, beside the replication floor
(median, min and max over five random 90% subsamples of all the mice, as ``sg.tl.synthesis_report`` computes it)
and beside the training split's own GWAS (what a generator that reproduced its source exactly would score).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "2"

import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from _hs1940 import SEED, holdout_mask, load  # noqa: E402
from _synth_bench import GWAS_TIME  # noqa: E402

import scgenome as sg  # noqa: E402
from scgenome.tl._synth._report import hit_prf  # noqa: E402

PHENOTYPES = ["pheno1", "pheno2", "pheno3", "pheno4", "pheno5", "pheno6"]
THRESHOLDS = (1e-8, 5e-8, 1e-5)
N_FLOOR = 5


def pvals(adata, phenotype: str) -> np.ndarray:
    """LMM p-values of ``phenotype`` on ``adata`` with its own kinship."""
    a = adata.copy()
    a.obsp.pop("kinship", None)
    sg.tl.gwas(a, phenotype, method="lmm", key_added="g")
    return a.var["g_pval"].to_numpy()


def f1s(p_real, p_other) -> list[float]:
    return [hit_prf(p_real, p_other, t)["f1"] for t in THRESHOLDS]


def fmt(xs) -> str:
    return " / ".join("-" if np.isnan(x) else f"{x:.3f}" for x in xs)


def main():
    n_seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    real = load()
    hold = holdout_mask(real.n_obs)
    train = real[~hold].copy()
    print(f"real {real.shape}, train {train.n_obs}, holdout {hold.sum()}")

    t0 = time.perf_counter()
    full = {ph: pvals(real, ph) for ph in PHENOTYPES}
    trained = {ph: pvals(train, ph) for ph in PHENOTYPES}
    rng = np.random.default_rng(1)
    floors = {ph: [] for ph in PHENOTYPES}
    for _ in range(N_FLOOR):
        rows = np.sort(rng.choice(real.n_obs, size=round(0.9 * real.n_obs), replace=False))
        sub = real[rows].copy()
        for ph in PHENOTYPES:
            floors[ph].append(f1s(full[ph], pvals(sub, ph)))
    print(f"real GWAS (full, training split, {N_FLOOR} subsamples): {time.perf_counter() - t0:.1f} s")

    syn_f1 = {ph: [] for ph in PHENOTYPES}
    for seed in range(SEED, SEED + n_seeds):
        GWAS_TIME[0] = 0.0
        t = time.perf_counter()
        syn = sg.tl.synthesize(train, phenotypes=PHENOTYPES, rng=seed)
        total = time.perf_counter() - t
        print(
            f"seed {seed}: fit + sample of six phenotypes {total - GWAS_TIME[0]:.1f} s (GWAS inside {GWAS_TIME[0]:.1f} s)"
        )
        for ph in PHENOTYPES:
            syn_f1[ph].append(f1s(full[ph], pvals(syn, ph)))

    print("\nLMM SNP F1 at 1e-8 / 5e-8 / 1e-5 against the GWAS of all 1,940 mice")
    print("phenotype | real hits | synthetic, per seed | synthetic median | floor median (min-max) | training split")
    for ph in PHENOTYPES:
        n_hits = " / ".join(str(int((np.nan_to_num(full[ph], nan=1.0) < t).sum())) for t in THRESHOLDS)
        fl = np.array(floors[ph], float)
        with warnings.catch_warnings():  # thresholds without real or subsample hits: all NaN, printed as "-"
            warnings.simplefilter("ignore", RuntimeWarning)
            med, lo, hi = (np.nanmedian(fl, 0), np.nanmin(fl, 0), np.nanmax(fl, 0))
        floor = " / ".join(
            "-" if np.isnan(m) else f"{m:.3f} ({a:.3f}-{b:.3f})" for m, a, b in zip(med, lo, hi, strict=True)
        )
        s = np.array(syn_f1[ph], float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            s_med = np.nanmedian(s, 0)
        per_seed = "; ".join(fmt(x) for x in s)
        print(f"{ph} | {n_hits} | {per_seed} | {fmt(s_med)} | {floor} | {fmt(f1s(full[ph], trained[ph]))}")


if __name__ == "__main__":
    main()

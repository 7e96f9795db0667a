"""A cohort the size of Gretel's CFW study (1,220 mice x 92,734 SNPs): time and memory of ``sg.tl.synthesize``.

Usage: ``python benchmarks/synth_scale.py ['{"recombination_scale": 3}']`` (optional JSON: keyword arguments of
``sg.tl.synthesize``, the privacy knobs). No data needed: the cohort is simulated; about 7 minutes. Threads are
pinned to 2.

Gretel + Illumina (2021) synthesized 1,220 CFW mice x 92,734 SNPs with about 4,700 LSTMs in about 36 hours on
80 GPUs. The CFW genotypes are not public offline, so this script simulates a cohort of that shape (19
chromosomes, LD from founder mosaics, relatives, three populations) with a binary trait and a binary covariate
(as abBMD with SW16), synthesizes it from a 90% training split, and prints the fit + sample time (the GWAS
``synthesize`` runs inside timed apart), the peak memory, and the report's GWAS concordance, fidelity and
privacy (one 90% subsample as floor).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "2"

import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from _synth_bench import GWAS_TIME, show  # noqa: E402

import scgenome as sg  # noqa: E402

N, P = 1220, 92_734


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: kilobytes


def main():
    t = time.perf_counter()
    real = sg.datasets.simulate_cohort(
        n_individuals=N, n_snps=P, n_chromosomes=19, n_causal=10, heritability=0.5, prevalence=0.5, rng=0
    )
    real.obs["sex"] = real.obs["sex"].astype(float)
    print(f"simulated {real.shape} in {time.perf_counter() - t:.1f} s; peak memory {peak_gib():.2f} GiB")
    hold = np.zeros(N, dtype=bool)
    hold[np.random.default_rng(0).choice(N, N // 10, replace=False)] = True
    real.obs["holdout"] = hold
    train = real[~hold].copy()

    knobs = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    print("knobs:", knobs or "defaults")
    t = time.perf_counter()
    syn = sg.tl.synthesize(train, phenotypes=["pheno_binary"], covariates=["sex"], n_individuals=N, rng=0, **knobs)
    total = time.perf_counter() - t
    print(
        f"synthesize {train.n_obs} training mice x {P} SNPs -> {N}: total {total:.1f} s, GWAS inside "
        f"{GWAS_TIME[0]:.1f} s, fit + sample {total - GWAS_TIME[0]:.1f} s; peak memory {peak_gib():.2f} GiB"
    )
    m = syn.uns["synthesis"]["phenotype_models"]["pheno_binary"]
    print(
        f"prevalence real {np.nanmean(real.obs['pheno_binary']):.3f} synthetic {np.nanmean(syn.obs['pheno_binary']):.3f}; "
        f"sex real {np.nanmean(real.obs['sex']):.3f} synthetic {np.nanmean(syn.obs['sex']):.3f}; "
        f"{len(m['lead_snps'])} lead SNPs, {len(m['locus_snps'])} locus SNPs"
    )

    t = time.perf_counter()
    tabs = sg.tl.synthesis_report(
        real, syn, phenotype="pheno_binary", covariates=["sex"], holdout="holdout", n_subsamples=1, rng=1
    )
    print(f"\nsynthesis_report in {time.perf_counter() - t:.1f} s; peak memory {peak_gib():.2f} GiB")
    show(
        "binary trait + sex, LMM",
        tabs,
        ["level", "threshold", "n_real", "n_synthetic", "precision", "recall", "f1", "floor_f1", "train_f1"],
    )


if __name__ == "__main__":
    main()

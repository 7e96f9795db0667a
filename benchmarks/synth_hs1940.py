"""Synthetic HS1940 cohort: every must-show number of issue 5 (run once; see docs/benchmarks.md).

Usage: ``python benchmarks/synth_hs1940.py`` (needs ../shared/data/mouse-hs1940). Threads are pinned to 2.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "2"

import time  # noqa: E402

import numpy as np  # noqa: E402
from _hs1940 import SEED, STRUCTURE, holdout_mask, load  # noqa: E402
from _synth_bench import GWAS_TIME, show  # noqa: E402

import scgenome as sg  # noqa: E402
from scgenome.tl._synth._report import hit_prf  # noqa: E402


def snp_f1_by_seed(source, p_real: dict, n: int | None, seeds, label: str) -> None:
    """Synthesize CD8 + MCH from ``source`` at each seed; print their SNP F1 against the real p-values."""
    for seed in seeds:
        syn = sg.tl.synthesize(source, phenotypes=list(p_real), n_individuals=n, rng=seed)
        cells = []
        for ph, p in p_real.items():
            sg.tl.gwas(syn, ph, key_added="g")
            f = [hit_prf(p, syn.var["g_pval"].to_numpy(), th)["f1"] for th in (1e-8, 5e-8, 1e-5)]
            cells.append(f"{ph} SNP F1 1e-8/5e-8/1e-5 " + "/".join(f"{x:.3f}" for x in f))
        print(f"{label} seed {seed}: " + "; ".join(cells))


def main():
    real = load()
    hold = holdout_mask(real.n_obs)
    real.obs["holdout"] = hold
    train = real[~hold].copy()
    print(f"real {real.shape}, train {train.n_obs}, holdout {hold.sum()}")

    GWAS_TIME[0] = 0.0
    t = time.perf_counter()
    # the synthetic cohorts have the training split's size (the default): they carry the evidence of 90% of the
    # mice, as the floor's 90% subsamples do, and both are compared with the GWAS of all the mice
    syn = sg.tl.synthesize(train, phenotypes=["pheno1", "pheno6"], rng=SEED)
    total = time.perf_counter() - t
    print(
        f"synthesize CD8+MCH: total {total:.1f} s, GWAS inside {GWAS_TIME[0]:.1f} s, "
        f"fit+sample {total - GWAS_TIME[0]:.1f} s"
    )
    syn2 = sg.tl.synthesize(train, n_individuals=200, n_iter=2, rng=SEED)
    syn3 = sg.tl.synthesize(train, n_individuals=200, n_iter=2, rng=SEED)
    print("reproducible (same seed, bit-identical X):", bool(np.array_equal(syn2.X, syn3.X)))

    tabs = sg.tl.synthesis_report(real, syn, phenotype="pheno1", holdout="holdout", method="lmm", n_subsamples=5, rng=1)
    show("CD8 (pheno1), LMM", tabs)
    tabs = sg.tl.synthesis_report(
        real,
        syn,
        phenotype="pheno1",
        holdout="holdout",
        method="linear",
        n_subsamples=3,
        rng=1,
        key_added="report_linear",
    )
    show("CD8 (pheno1), linear model", tabs)
    tabs = sg.tl.synthesis_report(
        real, syn, phenotype="pheno6", holdout="holdout", method="lmm", n_subsamples=3, rng=1, key_added="report_mch"
    )
    show("MCH (pheno6), LMM", tabs)

    # other synthesis seeds (same split): the SNP-level F1 of one synthetic cohort moves by a SNP or two near the
    # threshold from draw to draw, as the floor's does from subsample to subsample
    p_real = {}
    for ph in ("pheno1", "pheno6"):
        sg.tl.gwas(real, ph, key_added="g")
        p_real[ph] = real.var["g_pval"].to_numpy()
    snp_f1_by_seed(train, p_real, None, (SEED + 1, SEED + 2), "synthesis")
    # synthesized at the real cohort's size instead: the locus statistics are scaled up by sqrt(n_real / n_train),
    # which also scales up the training split's chance excess at SNPs selected near the threshold
    snp_f1_by_seed(train, p_real, real.n_obs, (SEED, SEED + 1, SEED + 2), f"synthesis at {real.n_obs} mice,")

    # the cohort a user would publish: synthesized from all the mice (no holdout, so no privacy figures; those
    # come from the training-split cohort above, same settings). Its GWAS against the full real one is the
    # literal comparison with the floor (90% subsamples against the full cohort)
    snp_f1_by_seed(real, p_real, real.n_obs, (SEED, SEED + 1, SEED + 2), f"synthesized from all {real.n_obs} mice,")

    # structure-preserving setting: 20 group-only chains (family-level relatedness and PCs) for the
    # linear-model GWAS, whose HS1940 hits come from relatedness; measured privacy cost beside it
    GWAS_TIME[0] = 0.0
    t = time.perf_counter()
    syns = sg.tl.synthesize(train, phenotypes="pheno1", rng=SEED, **STRUCTURE)
    total = time.perf_counter() - t
    print(f"\nsynthesize CD8 with {STRUCTURE}: fit+sample {total - GWAS_TIME[0]:.1f} s")
    for method in ("linear", "lmm"):
        tabs = sg.tl.synthesis_report(
            real, syns, phenotype="pheno1", holdout="holdout", method=method, n_subsamples=3, rng=1
        )
        show(f"CD8 (pheno1), {method}, structure-preserving setting", tabs)

    GWAS_TIME[0] = 0.0
    t = time.perf_counter()
    synb = sg.tl.synthesize(train, phenotypes="pheno4", covariates="mch_high", rng=SEED)
    total = time.perf_counter() - t
    print(
        f"\nsynthesize binary pheno4 + binary covariate: fit+sample {total - GWAS_TIME[0]:.1f} s; "
        f"prevalence real {np.nanmean(train.obs['pheno4']):.3f} syn {np.nanmean(synb.obs['pheno4']):.3f}; "
        f"covariate mean real {np.nanmean(train.obs['mch_high']):.3f} syn {synb.obs['mch_high'].mean():.3f}"
    )
    tabs = sg.tl.synthesis_report(
        real, synb, phenotype="pheno4", covariates="mch_high", holdout="holdout", method="lmm", n_subsamples=3, rng=1
    )
    show("binary pheno4 + binary covariate mch_high, LMM", tabs)


if __name__ == "__main__":
    main()

"""Strong loci on simulated cohorts: one population against three (the generator's local LD, and what it costs).

Usage: ``python benchmarks/synth_strong_loci.py`` (no data needed; about 15 minutes). Threads are pinned to 2.

HS1940's loci are moderate (CD8's lead p 8e-17) and its genome a cross of eight founder strains, which eight
haplotype clusters fit. Gretel's abBMD trait had 193 hits at 1e-8: a strong locus, whose hits are the lead's LD
neighbours. This script simulates 1,220 mice x 20,000 SNPs (``sg.datasets.simulate_cohort``: three causal SNPs
carrying 42% of the variance, h^2 0.6, 5% full siblings) once as one population (16 founder haplotypes) and once as
three (16 founders each, F_ST 0.05), synthesizes each from a 90% training split at the defaults (and the
three-population one also with ``populations="population"``: each population's own model in the lead windows), and
prints for the quantitative trait and the binary one (with the binary covariate ``sex``):

- the LD of each lead's window (5 cM) with the lead, training vs synthetic genotypes (mean r^2);
- the report's LMM concordance at SNP and locus level beside the real 90%-subsample floor, and the PVE.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "2"

import time  # noqa: E402

import numpy as np  # noqa: E402
from _synth_bench import GWAS_TIME  # noqa: E402

import scgenome as sg  # noqa: E402
from scgenome.tl._synth._api import _coords, clump  # noqa: E402

N, P = 1220, 20_000
SIM = {"n_causal": 3, "heritability": 0.6, "causal_fraction": 0.7, "relatedness": 0.05, "prevalence": 0.5}


def lead_ld(train, syn):
    """Mean r^2 of each lead's 5 cM window with the lead (leads of ``train.var["lmm_pval"]``): training / synthetic."""
    pv = train.var["lmm_pval"].to_numpy()
    coord, chrom = _coords(train.var), train.var["chrom"].astype(str).to_numpy()
    genomes = [np.asarray(train.X, float), np.asarray(syn.X, float)]
    out = []
    for j in clump(pv, coord, chrom, 1e-5, 5.0):
        idx = np.flatnonzero((chrom == chrom[j]) & (np.abs(coord - coord[j]) < 5.0))
        r2 = []
        for X in genomes:
            Z = X[:, idx] - X[:, idx].mean(0)
            z = X[:, j] - X[:, j].mean()
            r2.append(np.mean((Z.T @ z) ** 2 / ((Z * Z).sum(0) * (z @ z) + 1e-12)))
        out.append(f"{train.var_names[j]} (p {pv[j]:.0e}) {r2[0]:.3f} / {r2[1]:.3f}")
    return "; ".join(out)


def main():
    for structure in ("none", "populations"):
        real = sg.datasets.simulate_cohort(
            n_individuals=N, n_snps=P, n_chromosomes=19, structure=structure, rng=0, **SIM
        )
        real.obs["sex"] = real.obs["sex"].astype(float)
        hold = np.zeros(N, dtype=bool)
        hold[np.random.default_rng(0).choice(N, N // 10, replace=False)] = True
        real.obs["holdout"] = hold
        train = real[~hold].copy()
        settings = [{}] if structure == "none" else [{}, {"populations": "population"}]
        for ph, knobs in [(ph, k) for k in settings for ph in ("pheno", "pheno_binary")]:
            GWAS_TIME[0] = 0.0
            t = time.perf_counter()
            syn = sg.tl.synthesize(train, phenotypes=ph, covariates="sex", n_individuals=N, rng=0, **knobs)
            fit = time.perf_counter() - t - GWAS_TIME[0]
            sg.tl.gwas(train, ph, covariates=["sex"], key_added="lmm")
            tabs = sg.tl.synthesis_report(
                real, syn, phenotype=ph, covariates="sex", holdout="holdout", n_subsamples=3, rng=1
            )
            g = tabs["gwas"].set_index(["level", "threshold"])
            fid = tabs["fidelity"]["value"]
            m = syn.uns["synthesis"]["phenotype_models"][ph]
            priv = tabs["privacy"]["value"]
            print(f"\n=== structure {structure!r}, {ph}, {knobs or 'defaults'}: fit + sample {fit:.1f} s")
            print(f"lead windows' LD with the lead, mean r^2 training / synthetic: {lead_ld(train, syn)}")
            for th in (1e-8, 5e-8, 1e-5):
                s, loc = g.loc[("snp", th)], g.loc[("locus", th)]
                print(
                    f"  {th:.0e}: SNPs real {int(s.n_real)} syn {int(s.n_synthetic)}, F1 {s.f1:.3f} "
                    f"(floor {s.floor_f1:.3f}, training {s.train_f1:.3f}); locus P / R {loc.precision:.2f} / "
                    f"{loc.recall:.2f}"
                )
            print(
                f"  PVE {fid['pve_synthetic']:.3f} vs {fid['pve_real']:.3f}; LD r^2 correlation {fid['ld_r2_corr']:.3f}; "
                f"locus t RMS error {m.get('locus_t_rms_error', np.nan):.2f}; locus variance {m.get('locus_var', np.nan):.2f} "
                f"of the genetic target {m.get('genetic_var_target', np.nan):.2f}, polygenic scale "
                f"{m.get('polygenic_scale', np.nan):.2f}; MIA NN / window "
                f"{priv['mia_auc_nn']:.3f} / {priv['mia_auc_window']:.3f} (at the loci {priv['mia_auc_window_loci']:.3f}, "
                f"{int(priv['windows_loci'])} windows)",
                flush=True,
            )


if __name__ == "__main__":
    main()

"""``sg.tl.synthesize(gwas_method=...)``: the GWAS whose statistics the synthetic phenotypes reproduce.

Usage: ``python benchmarks/synth_gwas_method.py [hs1940]`` (threads pinned to 2; about 10 minutes, HS1940 needs
../shared/data/mouse-hs1940).

Two simulated cohorts of 2,000 x 10,000 (``sg.datasets.simulate_cohort``, 20 causal SNPs, h^2 0.5, 20% sibs): one
population (``structure="none"``) and three populations (F_ST 0.05, the default), each with its quantitative trait
and its binary trait; with ``hs1940`` also HS1940 CD8. Each is synthesized from a 90% training split at
``gwas_method="lmm"`` (the default) and ``"linear"``, and both synthetic cohorts get the linear-model and the LMM
report (SNP precision / recall / F1 against the GWAS of the whole real cohort, beside the replication floor's median
F1 over three 90% subsamples and the training split's own F1). A linear model inflated by structure (real
lambda_GC above 3) is refused by ``synthesize``: printed as such.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "2"

import sys  # noqa: E402
import time  # noqa: E402

import pandas as pd  # noqa: E402
from _hs1940 import holdout_mask, load  # noqa: E402

import scgenome as sg  # noqa: E402


def cohorts():
    for structure in ("none", "populations"):
        g = sg.datasets.simulate_cohort(
            2000, 10000, n_chromosomes=10, n_causal=20, heritability=0.5, structure=structure, rng=1
        )
        for ph in ("pheno", "pheno_binary"):
            yield f"simulated, {structure}, {ph}", g, ph
    if "hs1940" in sys.argv[1:]:
        yield "HS1940 CD8", load(), "pheno1"


def main():
    rows = []
    for name, real, ph in cohorts():
        real = real.copy()
        hold = holdout_mask(real.n_obs)  # the HS1940 benchmarks' split (seed 0)
        real.obs["holdout"] = hold
        train = real[~hold].copy()
        for gm in ("lmm", "linear"):
            t = time.perf_counter()
            try:
                syn = sg.tl.synthesize(train, phenotypes=[ph], gwas_method=gm, rng=0)
            except ValueError as err:  # a linear model inflated by structure: refused before the fit
                print(f"{name}, gwas_method={gm!r}: {err}", flush=True)
                rows.append({"cohort": name, "gwas_method": gm, "report": "refused", "fit + sample s": 0.0})
                continue
            sec = time.perf_counter() - t
            for method in ("linear", "lmm"):
                tabs = sg.tl.synthesis_report(
                    real, syn, phenotype=ph, holdout="holdout", method=method, n_subsamples=3, rng=1
                )
                g = tabs["gwas"].set_index(["level", "threshold"])
                for th in (1e-8, 1e-5):
                    r = g.loc[("snp", th)]
                    rows.append(
                        {
                            "cohort": name,
                            "gwas_method": gm,
                            "report": method,
                            "threshold": f"{th:.0e}",
                            "real / syn hits": f"{int(r['n_real'])} / {int(r['n_synthetic'])}",
                            "P / R": f"{r['precision']:.2f} / {r['recall']:.2f}",
                            "F1": round(float(r["f1"]), 3),
                            "floor F1": round(float(r["floor_f1"]), 3),
                            "train F1": round(float(r["train_f1"]), 3),
                        }
                    )
                if method == "linear":
                    pv = tabs["privacy"]["value"]
                    rows[-1]["MIA NN / window"] = f"{pv['mia_auc_nn']:.3f} / {pv['mia_auc_window']:.3f}"
                    rows[-1]["fit + sample s"] = round(sec, 1)
            print(pd.DataFrame(rows[-4:]).to_string(index=False), flush=True)
    print()
    print(pd.DataFrame(rows).fillna("").to_string(index=False))


if __name__ == "__main__":
    main()

"""How far can *any* phenotype take the linear-model GWAS on a synthetic HS1940 genome?

Usage: ``python benchmarks/synth_linear_ceiling.py`` (needs ../shared/data/mouse-hs1940). Threads are pinned to 2.

The HS1940 linear-model GWAS of CD8 (no kinship) has lambda_GC 18.7 and 2,000 hits at 1e-8 on all
chromosomes: its statistics are the marginal correlations of CD8 with each SNP, driven by the relatedness.
For a genome ``G`` (n x p, standardised SNPs) and a phenotype ``y`` (sd 1), those correlations are
``r = G'y / n``, so every phenotype a synthetic cohort could carry gives an ``r`` in the row space of its
genome. This script finds, for each genome, the phenotype whose correlations come closest to the real
(training-cohort) ones: least squares ``min ||G'y/n - r_real||`` on the sphere ``sd(y) = 1`` (a trust-region
subproblem, solved by the secular equation on the SVD of ``G``). The linear GWAS of that phenotype is the
best the genome allows, whatever the phenotype model. The training genome itself is the control: there
the fit is exact and the hits are those of the 90% subsample.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "2"

import numpy as np  # noqa: E402
from _hs1940 import SEED, STRUCTURE, holdout_mask, load  # noqa: E402
from scipy import optimize  # noqa: E402

import scgenome as sg  # noqa: E402

PHENO = "pheno1"


def standardised(adata):
    X = np.asarray(adata.X, dtype=np.float64)
    X = np.where(np.isnan(X), np.nanmean(X, 0), X)
    sd = X.std(0)
    G = np.zeros_like(X)
    G[:, sd > 0] = (X[:, sd > 0] - X.mean(0)[sd > 0]) / sd[sd > 0]
    return G


def best_phenotype(G, r):
    """Unit-variance ``y`` minimising ``||G'y/n - r||`` and the share of ``r`` outside the row space of ``G``."""
    n = G.shape[0]
    V, S, Ut = np.linalg.svd(G.T / np.sqrt(n), full_matrices=False)  # r = V S Ut v for y = sqrt(n) v, |v| = 1
    c = V.T @ r
    outside = float(np.linalg.norm(r - V @ c) / np.linalg.norm(r))

    def norm(mu):
        return np.sqrt(np.sum((S * c / (S**2 + mu)) ** 2)) - 1.0

    mu = optimize.brentq(norm, 1e-12, 1e8) if norm(1e-12) > 0 else 1e-12
    v = Ut.T @ (S * c / (S**2 + mu))
    return np.sqrt(n) * v / np.linalg.norm(v), outside


def hits(p, th):
    return np.nan_to_num(np.asarray(p, dtype=float), nan=1.0) < th


def main():
    real = load()
    train = real[~holdout_mask(real.n_obs)].copy()
    for d in (real, train):
        sg.tl.gwas(d, PHENO, method="linear", key_added="lin")
    lam = np.nanmedian(real.var["lin_beta"] ** 2 / real.var["lin_se"] ** 2) / 0.4549
    print(f"real linear GWAS of {PHENO}: lambda_GC {lam:.1f}, hits at 1e-8 {hits(real.var['lin_pval'], 1e-8).sum()}")
    n_tr = int(np.isfinite(train.obs[PHENO]).sum())
    t_tr = np.nan_to_num((train.var["lin_beta"] / train.var["lin_se"]).to_numpy(dtype=float))

    genomes = {"training genome (control)": train}
    for name, knobs in (("synthetic, defaults", {}), ("synthetic, structure-preserving", STRUCTURE)):
        genomes[name] = sg.tl.synthesize(train, phenotypes=PHENO, n_individuals=real.n_obs, rng=SEED, **knobs)

    print(
        f"{'genome':34s} {'phenotype':12s} {'r outside':>9s}  {'P@1e-8':>6s} {'R@1e-8':>6s}  {'P@1e-5':>6s} {'R@1e-5':>6s}"
    )
    for name, gen in genomes.items():
        ok = np.isfinite(gen.obs[PHENO].to_numpy(dtype=float))
        gen = gen[ok].copy()
        n = gen.n_obs
        t = t_tr * np.sqrt(n / n_tr)  # the training statistics at this cohort size
        r = t / np.sqrt(n - 2 + t**2)
        y, outside = best_phenotype(standardised(gen), r)
        rows = [("own", gen.obs[PHENO].to_numpy(dtype=float), np.nan), ("best", y, outside)]
        if name.startswith("training"):
            rows = rows[1:]
        for label, yy, out in rows:
            d = gen.copy()
            d.obs[PHENO] = yy
            sg.tl.gwas(d, PHENO, method="linear", key_added="lin")
            cells = []
            for th in (1e-8, 1e-5):
                a, b = hits(real.var["lin_pval"], th), hits(d.var["lin_pval"], th)
                tp = (a & b).sum()
                cells += [tp / max(b.sum(), 1), tp / max(a.sum(), 1)]
            print(
                f"{name:34s} {label:12s} {out:9.3f}  {cells[0]:6.3f} {cells[1]:6.3f}  {cells[2]:6.3f} {cells[3]:6.3f}"
            )


if __name__ == "__main__":
    main()

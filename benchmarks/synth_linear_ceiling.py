"""How far can *any* phenotype take the linear-model GWAS on a synthetic HS1940 genome?

Usage: ``python benchmarks/synth_linear_ceiling.py`` (needs ../shared/data/mouse-hs1940). Threads are pinned to 2.

The HS1940 linear-model GWAS of CD8 (no kinship) has lambda_GC about 20 (printed) and 2,000 hits at 1e-8 on
all chromosomes: its statistics are the marginal correlations of CD8 with each SNP, driven by the relatedness.
For a genome ``G`` (n x p, standardised SNPs) and a phenotype ``y`` (sd 1), those correlations are
``r = G'y / n``, so every phenotype a synthetic cohort could carry gives an ``r`` in the row space of its
genome. For each genome this script finds

- ``LS``: the phenotype whose correlations come closest to the real ones (the source cohort's, scaled to the
  synthetic size): least squares ``min ||G'y/n - r_real||`` on the sphere ``sd(y) = 1`` (a trust-region
  subproblem, solved by the secular equation on the SVD of ``G``);
- ``hit class``: the phenotype that best reproduces the real hit classes at 1e-8 (L-BFGS on the sphere, squared
  hinge: a real hit's signed correlation at least 1.1 times the threshold's, a non-hit's ``|r|`` at most 0.9 times
  it); ``hit class x4`` weighs the hits four times (recall against precision);
- for the synthetic cohort's own phenotype, ``top-k``: its part along the top ``k`` principal directions of the
  synthetic genome re-chosen for the hit classes with that part's variance kept (the directions that carry the
  structure-driven hits); the rest of the phenotype, which carries the LMM hits, unchanged.

Each phenotype's linear GWAS is compared with the full real cohort's (P / R at 1e-8 and 1e-5) and its LMM GWAS
with the full real cohort's LMM (F1 at 1e-8 and 1e-5): the price in LMM hits of chasing the linear ones.
Two sources: the 90% training split (the privacy setting; its own genome is the control, whose recall is the
90%-subsample loss) and all 1,940 mice (Gretel's protocol: the synthesis saw the cohort it is compared with).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "2"

import numpy as np  # noqa: E402
from _hs1940 import SEED, STRUCTURE, holdout_mask, load  # noqa: E402
from scipy import optimize, stats  # noqa: E402

import scgenome as sg  # noqa: E402

PHENO = "pheno1"
MARGIN = 0.1
TOP_K = (20, 100, 400)


def standardised(adata):
    X = np.asarray(adata.X, dtype=np.float64)
    X = np.where(np.isnan(X), np.nanmean(X, 0), X)
    sd = X.std(0)
    G = np.zeros_like(X)
    G[:, sd > 0] = (X[:, sd > 0] - X.mean(0)[sd > 0]) / sd[sd > 0]
    return G


def best_phenotype(svd, r):
    """Unit-variance ``y`` minimising ``||G'y/n - r||`` and the share of ``r`` outside the row space of ``G``."""
    U, S, V, n = svd  # G / sqrt(n) = U S V'; r = V S U'y / sqrt(n)
    c = V.T @ r
    outside = float(np.linalg.norm(r - V @ c) / np.linalg.norm(r))

    def norm(mu):
        return np.sqrt(np.sum((S * c / (S**2 + mu)) ** 2)) - 1.0

    mu = optimize.brentq(norm, 1e-12, 1e8) if norm(1e-12) > 0 else 1e-12
    v = S * c / (S**2 + mu)
    return np.sqrt(n) * U @ (v / np.linalg.norm(v)), outside


def hit_class_phenotype(svd, r, c, y0, k=None, hit_weight=1.0):
    """Unit-variance ``y`` whose correlations best fall in the hit classes of ``r`` at ``|r| = c`` (squared hinge).

    ``k``: only ``y0``'s part along the top ``k`` left singular vectors changes, with its norm kept.
    """
    U, S, V, n = svd
    k = len(S) if k is None else k
    Uk, VSk = U[:, :k], V[:, :k] * S[:k]
    y0 = (y0 - y0.mean()) / y0.std()
    w0 = Uk.T @ y0
    base = y0 - Uk @ w0
    r_base = V @ (S * (U.T @ base)) / np.sqrt(n)
    radius = np.sqrt(n - base @ base) if k == len(S) else np.linalg.norm(w0)
    hit, sign = np.abs(r) > c, np.sign(r)

    def loss(u):
        nu = np.linalg.norm(u)
        w = radius * u / nu
        rr = r_base + VSk @ w / np.sqrt(n)
        a = np.where(hit, np.maximum(0.0, c * (1 + MARGIN) - sign * rr), 0.0)
        b = np.where(hit, 0.0, np.maximum(0.0, np.abs(rr) - c * (1 - MARGIN)))
        grad_r = -2 * hit_weight * a * sign + 2 * b * np.sign(rr)
        gw = VSk.T @ grad_r / np.sqrt(n)
        gu = radius * (gw - (u / nu) * ((u / nu) @ gw)) / nu
        return 1e4 * (hit_weight * a @ a + b @ b), 1e4 * gu

    opts = {"maxiter": 20000, "ftol": 0.0, "gtol": 1e-12, "maxfun": 40000}
    u = optimize.minimize(loss, w0, jac=True, method="L-BFGS-B", options=opts).x
    return base + Uk @ (radius * u / np.linalg.norm(u))


def hits(p, th):
    return np.nan_to_num(np.asarray(p, dtype=float), nan=1.0) < th


def main():
    real = load()
    train = real[~holdout_mask(real.n_obs)].copy()
    for m in ("linear", "lmm"):
        sg.tl.gwas(real, PHENO, method=m, key_added=m)
    sg.tl.gwas(train, PHENO, method="linear", key_added="linear")
    lam = np.nanmedian(real.var["linear_beta"] ** 2 / real.var["linear_se"] ** 2) / 0.4549
    print(
        f"real linear GWAS of {PHENO}: lambda_GC {lam:.1f}, hits at 1e-8 {hits(real.var['linear_pval'], 1e-8).sum()}; "
        f"LMM hits at 1e-8 / 1e-5 {hits(real.var['lmm_pval'], 1e-8).sum()} / {hits(real.var['lmm_pval'], 1e-5).sum()}"
    )

    def row(source, genome, label, gen, y, out=np.nan):
        d = gen.copy()
        d.obs[PHENO] = y
        cells = []
        for m in ("linear", "lmm"):
            sg.tl.gwas(d, PHENO, method=m, key_added=m)
            for th in (1e-8, 1e-5):
                a, b = hits(real.var[f"{m}_pval"], th), hits(d.var[f"{m}_pval"], th)
                tp = (a & b).sum()
                if m == "linear":
                    cells += [f"{tp / max(b.sum(), 1):6.3f}", f"{tp / max(a.sum(), 1):6.3f}"]
                else:
                    cells.append(f"{2 * tp / max(a.sum() + b.sum(), 1):6.3f}")
        print(f"{source:9s} {genome:26s} {label:14s} {out:9.3f}  " + "  ".join(cells), flush=True)

    print(
        f"\n{'source':9s} {'genome':26s} {'phenotype':14s} {'r outside':>9s}  {'P@1e-8':>6s}  {'R@1e-8':>6s}  "
        f"{'P@1e-5':>6s}  {'R@1e-5':>6s}  {'LMM F1@1e-8':>6s}  {'LMM F1@1e-5':>6s}"
    )
    for source, src in (("90% split", train), ("all mice", real)):
        n_src = int(np.isfinite(src.obs[PHENO]).sum())
        t_src = np.nan_to_num((src.var["linear_beta"] / src.var["linear_se"]).to_numpy(dtype=float))
        genomes = {"source genome (control)": src}
        for name, knobs in (("synthetic, defaults", {}), ("synthetic, structure", STRUCTURE)):
            genomes[name] = sg.tl.synthesize(src, phenotypes=PHENO, n_individuals=real.n_obs, rng=SEED, **knobs)
        for name, gen in genomes.items():
            gen = gen[np.isfinite(gen.obs[PHENO].to_numpy(dtype=float))].copy()
            n = gen.n_obs
            t = t_src * np.sqrt(n / n_src)  # the source statistics at this cohort size
            r = t / np.sqrt(n - 2 + t**2)
            tc = stats.t.isf(1e-8 / 2, n - 2)
            c = tc / np.sqrt(n - 2 + tc**2)
            U, S, Vt = np.linalg.svd(standardised(gen) / np.sqrt(n), full_matrices=False)
            svd = (U, S, Vt.T, n)
            own = gen.obs[PHENO].to_numpy(dtype=float)
            control = name.startswith("source")
            if not control:
                row(source, name, "own", gen, own)
            y, outside = best_phenotype(svd, r)
            row(source, name, "LS", gen, y, outside)
            row(source, name, "hit class", gen, hit_class_phenotype(svd, r, c, y))
            row(source, name, "hit class x4", gen, hit_class_phenotype(svd, r, c, y, hit_weight=4.0))
            if name == "synthetic, structure":
                for k in TOP_K:
                    row(source, name, f"own, top-{k}", gen, hit_class_phenotype(svd, r, c, own, k=k))


if __name__ == "__main__":
    main()

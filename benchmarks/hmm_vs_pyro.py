"""The compiled haplotype-cluster HMM E-step against the same model written in pyro, on HS1940 chromosomes.

Usage: ``python benchmarks/hmm_vs_pyro.py [n_mice] [chromosomes]`` (needs ../shared/data/mouse-hs1940; default
200 mice, chromosomes ``18,19``). Threads are pinned to 2 for both (numba, BLAS and torch).

``sg.tl.synthesize`` fits its diploid haplotype-cluster HMM (fastPHASE) with forward-backward recursions
compiled by numba and factorised over the two haplotypes. ``scgenome.tl._synth._hmm_pyro.pyro_estep`` states
the same model as a pyro program (two enumerated cluster chains in ``pyro.markov``, the genotype a factor on
the pair) and lets pyro's variable elimination compute the exact log-likelihood and posterior cluster
occupancy. The script fits the HMM to each chromosome of the first ``n_mice`` mice (eight clusters, the
synthesis default), then runs one E-step at the fitted parameters both ways and prints the log-likelihood
difference, the largest occupancy difference and the time ratio (median of three runs each).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "2"

import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _hs1940 import load  # noqa: E402

from scgenome.tl._synth import _hmm  # noqa: E402
from scgenome.tl._synth._api import chrom_layout  # noqa: E402
from scgenome.tl._synth._hmm_pyro import pyro_estep  # noqa: E402

torch.set_num_threads(2)


def median_time(fn, repeats: int = 3):
    """(result of the last run, median wall time in s)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, float(np.median(times))


def main(n_mice: int = 200, chromosomes: tuple[str, ...] = ("18", "19")) -> None:
    g = load()
    X = np.asarray(g.X, dtype=np.float64)[:n_mice]
    order, slices, dist, _ = chrom_layout(g.var)
    chrom = g.var["chrom"].astype(str).to_numpy()[order]
    Xo = X[:, order]
    codes_all = np.where(np.isnan(Xo), 3, np.clip(np.rint(np.nan_to_num(Xo)), 0, 2)).astype(np.int8)
    group = np.zeros(n_mice, dtype=np.int64)
    print(f"HS1940, {n_mice} mice, K = 8, one structure group, 2 threads")
    print(
        "| chromosome | SNPs | logL compiled | logL pyro | |difference| | max occupancy diff | compiled s | pyro s | ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for sl in slices:
        c = chrom[sl.start]
        if c not in chromosomes:
            continue
        codes = np.ascontiguousarray(codes_all[:, sl])
        model = _hmm.fit_hmm(codes, dist[sl], [slice(0, codes.shape[1])], group, rng=np.random.default_rng(0))
        ch = model.chroms[0]
        r = _hmm._jump_prob(ch.dist, ch.rho)
        E, H1 = _hmm._emission_tables(ch.theta)
        _hmm._estep_chrom(codes, r, E, H1, ch.alpha, group, 8, False)  # compile outside the timing

        def compiled(codes=codes, r=r, E=E, H1=H1, ch=ch):
            return _hmm._estep_chrom(codes, r, E, H1, ch.alpha, group, 8, False)

        def reference(codes=codes, r=r, ch=ch):
            return pyro_estep(codes, r, ch.theta, ch.alpha, group)

        (_a, hcnt, _j, _n, ll, _t), t_ours = median_time(compiled)
        (ll_ref, occ), t_ref = median_time(reference)
        print(
            f"| {c} | {codes.shape[1]} | {ll.sum():.3f} | {ll_ref:.3f} | {abs(ll.sum() - ll_ref):.2e} | "
            f"{np.abs(hcnt - occ).max():.2e} | {t_ours:.4f} | {t_ref:.2f} | {t_ref / t_ours:.0f}x |"
        )


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    chroms = tuple(sys.argv[2].split(",")) if len(sys.argv) > 2 else ("18", "19")
    main(n, chroms)

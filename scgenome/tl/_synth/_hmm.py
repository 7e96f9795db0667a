"""Genotype-cluster hidden Markov model (fastPHASE-style) fitted by EM and sampled.

The math knows nothing about AnnData. Genotypes are int8 codes ``0, 1, 2`` (dosage of the counted
allele, rounded) and ``3`` for missing. Each chromosome is a chain of loci; an individual's hidden
state ``z_l`` in ``{0, ..., K-1}`` is a genotype cluster. Between loci ``l-1`` and ``l`` the state
"jumps" with probability ``r_l = 1 - exp(-rho * d_l)`` (``d_l`` the genetic distance) to a cluster
drawn from ``alpha[g, l, :]`` (``g`` the individual's structure group), else it stays. Emissions are
per-locus, per-cluster genotype frequencies ``theta[l, k, :]`` with a Dirichlet prior centred on the
locus' genotype frequencies (Scheet & Stephens 2006, fastPHASE; Li & Stephens 2003).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np

from ..._logging import logger


@numba.njit(cache=True, parallel=True)
def _estep_chrom(codes, r, theta, alpha, group, n_chunks):  # pragma: no cover - compiled
    """Forward-backward for one chromosome; returns summed expected counts (by chunk of individuals)."""
    n, L = codes.shape
    K = theta.shape[1]
    G = alpha.shape[0]
    em = np.zeros((n_chunks, L, K, 3))
    jc = np.zeros((n_chunks, G, L, K))
    usage = np.zeros((n_chunks, L, K))
    njump = np.zeros(n_chunks)
    loglik = np.zeros(n)
    bounds = np.linspace(0, n, n_chunks + 1).astype(np.int64)
    for ch in numba.prange(n_chunks):
        f = np.empty((L, K))
        c = np.empty(L)
        b = np.empty(K)
        bn = np.empty(K)
        e = np.empty(K)
        for i in range(bounds[ch], bounds[ch + 1]):
            g = group[i]
            # forward
            s = 0.0
            x = codes[i, 0]
            for k in range(K):
                ek = 1.0 if x == 3 else theta[0, k, x]
                f[0, k] = alpha[g, 0, k] * ek
                s += f[0, k]
            c[0] = s
            for k in range(K):
                f[0, k] /= s
            for ll in range(1, L):
                x = codes[i, ll]
                rl = r[ll]
                s = 0.0
                for k in range(K):
                    ek = 1.0 if x == 3 else theta[ll, k, x]
                    v = ((1.0 - rl) * f[ll - 1, k] + rl * alpha[g, ll, k]) * ek
                    f[ll, k] = v
                    s += v
                c[ll] = s
                for k in range(K):
                    f[ll, k] /= s
            lg = 0.0
            for ll in range(L):
                lg += np.log(c[ll])
            loglik[i] = lg
            # backward
            for k in range(K):
                b[k] = 1.0
            for ll in range(L - 1, -1, -1):
                x = codes[i, ll]
                # posterior at ll
                for k in range(K):
                    gk = f[ll, k] * b[k]
                    usage[ch, ll, k] += gk
                    if x != 3:
                        em[ch, ll, k, x] += gk
                if ll == 0:
                    for k in range(K):
                        jc[ch, g, 0, k] += f[0, k] * b[k]
                    break
                rl = r[ll]
                acc = 0.0
                for k in range(K):
                    ek = 1.0 if x == 3 else theta[ll, k, x]
                    e[k] = ek * b[k] / c[ll]
                    jk = rl * alpha[g, ll, k] * e[k]
                    jc[ch, g, ll, k] += jk
                    njump[ch] += jk
                    acc += alpha[g, ll, k] * e[k]
                for k in range(K):
                    bn[k] = (1.0 - rl) * e[k] + rl * acc
                for k in range(K):
                    b[k] = bn[k]
    return em.sum(0), jc.sum(0), usage.sum(0), njump.sum(), loglik


def _moving_sum(a: np.ndarray, w: int, axis: int) -> np.ndarray:
    """Centred moving sum of width ``2 * w + 1`` along ``axis`` (edges truncated)."""
    if w <= 0:
        return a
    cs = np.cumsum(a, axis=axis)
    cs = np.concatenate([np.zeros_like(np.take(cs, [0], axis=axis)), cs], axis=axis)
    L = a.shape[axis]
    hi = np.minimum(np.arange(L) + w + 1, L)
    lo = np.maximum(np.arange(L) - w, 0)
    return np.take(cs, hi, axis=axis) - np.take(cs, lo, axis=axis)


@dataclass
class ChromHMM:
    """Fitted parameters of one chromosome."""

    theta: np.ndarray  # (L, K, 3) emission genotype frequencies
    alpha: np.ndarray  # (G, L, K) jump-to distributions per group
    dist: np.ndarray  # (L,) genetic distance to the previous locus (first is 0)
    rho: float  # jumps per unit distance
    usage: np.ndarray  # (L, K) expected number of individuals in each cluster
    geno_freq: np.ndarray  # (G, L, 3) observed genotype frequencies per group (shrunk to the total)
    loglik: float = np.nan


@dataclass
class GenotypeHMM:
    """A fitted genotype-cluster HMM: one :class:`ChromHMM` per chromosome."""

    chroms: list[ChromHMM]
    slices: list[slice]
    group_freq: np.ndarray
    n_states: int
    history: list[float] = field(default_factory=list)


def _jump_prob(dist: np.ndarray, rho: float) -> np.ndarray:
    r = -np.expm1(-rho * dist)
    r[0] = 1.0
    return np.clip(r, 0.0, 1.0)


def _solve_rho(dist: np.ndarray, target: float) -> float:
    """Rho such that the expected number of jumps per individual equals ``target``."""
    d = dist[1:]
    if target <= 0 or d.sum() == 0:
        return 1e-6
    lo, hi = 1e-8, 1e4
    for _ in range(80):
        mid = np.sqrt(lo * hi)
        if (-np.expm1(-mid * d)).sum() < target:
            lo = mid
        else:
            hi = mid
    return float(np.sqrt(lo * hi))


def fit_hmm(
    codes: np.ndarray,
    dist: np.ndarray,
    chrom_slices: list[slice],
    group: np.ndarray,
    *,
    n_states: int = 16,
    emission_prior: float = 1.0,
    alpha_window: int = 3,
    n_iter: int = 10,
    rng: np.random.Generator,
    n_chunks: int = 8,
) -> GenotypeHMM:
    """Fit the genotype-cluster HMM by EM (Baum-Welch), chromosome by chromosome.

    Parameters
    ----------
    codes
        ``(n, p)`` int8 genotype codes (0, 1, 2; 3 = missing).
    dist
        ``(p,)`` genetic distance of each locus to the previous one on its chromosome.
    chrom_slices
        Column slices of each chromosome (contiguous).
    group
        ``(n,)`` structure-group label of each individual (0..G-1).
    n_states
        Number of genotype clusters ``K``.
    emission_prior
        Dirichlet pseudocount pulling each cluster's genotype frequencies to the locus frequencies.
    alpha_window
        Half-width (loci) of the window that pools jump counts when estimating ``alpha``.
    n_iter
        EM iterations.
    rng
        Random generator (initialisation).
    n_chunks
        Chunks of individuals processed in parallel (summed in a fixed order: reproducible).
    """
    n = codes.shape[0]
    G = int(group.max()) + 1
    K = n_states
    group = group.astype(np.int64)
    chroms = []
    total_ll = 0.0
    for sl in chrom_slices:
        x = np.ascontiguousarray(codes[:, sl])
        d = np.asarray(dist[sl], dtype=np.float64).copy()
        L = x.shape[1]
        cnt = np.stack([(x == g).sum(0) for g in range(3)], axis=1).astype(np.float64)
        tfreq = cnt / np.maximum(cnt.sum(1, keepdims=True), 1.0)
        gcnt = np.stack([np.stack([((x == g) & (group[:, None] == h)).sum(0) for g in range(3)], 1) for h in range(G)])
        gfreq = (gcnt + 2.0 * tfreq[None]) / (gcnt.sum(2, keepdims=True) + 2.0)
        pfreq = (cnt + 0.5) / (cnt + 0.5).sum(1, keepdims=True)
        theta = rng.dirichlet(np.ones(3), size=(L, K)) * 0.5 + 0.5 * pfreq[:, None, :]
        alpha = np.full((G, L, K), 1.0 / K)
        rho = _solve_rho(d, 0.5 * K * max(1.0, d[1:].sum() / 100.0))
        ll_old = -np.inf
        for _it in range(n_iter):
            r = _jump_prob(d, rho)
            em, jc, usage, njump, ll = _estep_chrom(x, r, theta, alpha, group, n_chunks)
            ll = float(ll.sum())
            # M-step
            theta = em + emission_prior * pfreq[:, None, :]
            theta /= theta.sum(2, keepdims=True)
            tot = _moving_sum(jc.sum(0), 2, axis=0) + 1e-3
            glob = tot / tot.sum(1, keepdims=True)
            grp = _moving_sum(jc, alpha_window, axis=1)
            alpha = grp + 1.0 * glob[None]
            alpha /= alpha.sum(2, keepdims=True)
            rho = _solve_rho(d, njump / n)
            if ll - ll_old < 1e-4 * abs(ll):
                ll_old = ll
                break
            ll_old = ll
        chroms.append(ChromHMM(theta=theta, alpha=alpha, dist=d, rho=rho, usage=usage, geno_freq=gfreq, loglik=ll_old))
        total_ll += ll_old
    group_freq = np.bincount(group, minlength=G) / n
    logger.info("genotype HMM fitted: K=%d, %d chromosomes, logL %.1f", K, len(chroms), total_ll)
    return GenotypeHMM(chroms=chroms, slices=list(chrom_slices), group_freq=group_freq, n_states=K)


def sample_hmm(
    model: GenotypeHMM,
    group: np.ndarray,
    *,
    recombination_scale: float = 1.0,
    min_cluster_size: float = 0.0,
    calibrate: bool = True,
    rng: np.random.Generator,
) -> np.ndarray:
    """Sample genotype codes ``(n, p)`` (int8 0..2) for individuals of the given groups.

    A state path is drawn from the Markov chain (jump rate multiplied by ``recombination_scale``;
    clusters used by fewer than ``min_cluster_size`` training individuals at a locus cannot be
    jumped into), then each genotype from the state's emission frequencies. With ``calibrate``, the
    emission frequencies are first tilted (per locus and genotype, a few proportional-fitting sweeps)
    so that the chain's marginal genotype frequencies in each structure group equal the observed ones
    (this keeps the between-group allele-frequency differences, i.e. the population structure).
    """
    m = group.shape[0]
    p = sum(sl.stop - sl.start for sl in model.slices)
    out = np.empty((m, p), dtype=np.int8)
    for ch, sl in zip(model.chroms, model.slices, strict=True):
        L, K = ch.usage.shape
        r = _jump_prob(ch.dist, ch.rho * recombination_scale)
        alpha = ch.alpha.copy()
        if min_cluster_size > 0:
            ok = ch.usage >= min_cluster_size
            ok[ok.sum(1) == 0] = True
            alpha = alpha * ok[None]
            alpha /= alpha.sum(2, keepdims=True)
        G = alpha.shape[0]
        theta = _calibrated_theta(ch, r, alpha) if calibrate else np.broadcast_to(ch.theta, (G, *ch.theta.shape))
        calpha = np.cumsum(alpha, axis=2)
        ctheta = np.cumsum(theta, axis=3)
        u_jump = rng.random((L, m))
        u_state = rng.random((L, m))
        u_geno = rng.random((L, m))
        z = np.zeros(m, dtype=np.int64)
        for ll in range(L):
            jump = u_jump[ll] < r[ll]
            if jump.any():
                cz = calpha[group[jump], ll, :]
                z[jump] = np.minimum((u_state[ll, jump, None] > cz).sum(1), K - 1)
            ct = ctheta[group, ll, z, :]
            out[:, sl.start + ll] = np.minimum((u_geno[ll, :, None] > ct).sum(1), 2)
    return out


def _calibrated_theta(ch: ChromHMM, r: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Per-group emission frequencies ``(G, L, K, 3)`` matching the observed genotype frequencies.

    The shared frequencies are tilted (iterative proportional fitting) so that the sampled chain's
    genotype frequencies in each group equal the observed ones.
    """
    L = r.shape[0]
    G, _, K = alpha.shape
    marg = np.empty((G, L, K))
    P = np.zeros((G, K))
    for ll in range(L):
        P = (1.0 - r[ll]) * P + r[ll] * alpha[:, ll, :]
        marg[:, ll] = P
    target = ch.geno_freq
    w = np.ones((G, L, 3))
    theta = np.broadcast_to(ch.theta, (G, L, K, 3))
    for _ in range(10):
        theta = ch.theta[None] * w[:, :, None, :]
        theta /= theta.sum(3, keepdims=True)
        cur = np.einsum("glk,glkc->glc", marg, theta)
        w *= (target + 1e-6) / (cur + 1e-6)
    return theta

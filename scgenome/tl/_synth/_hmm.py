"""Diploid haplotype-cluster hidden Markov model (fastPHASE) fitted by EM and sampled.

The math knows nothing about AnnData. Genotypes are int8 codes ``0, 1, 2`` (dosage of the counted
allele, rounded) and ``3`` for missing. Each chromosome is a chain of loci. An individual carries two
haplotypes; each haplotype's hidden state ``z_l`` in ``{0, ..., K-1}`` is a haplotype cluster. Between
loci ``l-1`` and ``l`` each haplotype independently "jumps" with probability ``r_l = 1 - exp(-rho d_l)``
(``d_l`` the genetic distance) to a cluster drawn from ``alpha[g, l, :]`` (``g`` the individual's
structure group), else it stays. Cluster ``k`` carries the counted allele with probability
``theta[l, k]`` (Beta prior centred on the locus' allele frequency); the genotype is the sum of the two
haplotypes' alleles, so the pair state ``(k1, k2)`` emits ``0, 1, 2`` with the binomial-like
probabilities of two independent alleles (Scheet & Stephens 2006). The forward-backward recursions use
the factorisation of the pair transition, ``O(K^2)`` per locus instead of ``O(K^4)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from ..._logging import logger
from ..._utils import progress


def _emission_tables(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the pair-state emission table and the heterozygote allele split.

    ``E[l, x, k1, k2]`` (``x`` = 0, 1, 2, 3 = missing) and, for ``x = 1``, the probability
    ``H1[l, k1, k2]`` that haplotype 1 (in ``k1``) carries the counted allele.
    """
    t1 = theta[:, :, None]
    t2 = theta[:, None, :]
    L, K = theta.shape
    E = np.empty((L, 4, K, K))
    E[:, 0] = (1.0 - t1) * (1.0 - t2)
    het = t1 * (1.0 - t2)
    E[:, 1] = het + (1.0 - t1) * t2
    E[:, 2] = t1 * t2
    E[:, 3] = 1.0
    return E, het / E[:, 1]


#: floating-point reassociation lets the compiler vectorise the K-wide sums (NaN and inf semantics kept)
_FAST = {"reassoc", "contract", "nsz", "arcp"}


@numba.njit(cache=True, fastmath=_FAST)
def _forward(codes, i, g, r, E, alpha, f, c, Rs):  # pragma: no cover - compiled
    """Scaled forward pass of individual ``i`` into ``f`` (L, K, K; each locus sums to 1) and ``c`` (scales).

    ``Rs[l]`` receives the row sums of ``f[l - 1]`` (used again by the backward pass). The pair posterior is
    symmetric; the full ``K x K`` square is computed all the same, as contiguous rows the compiler vectorises.
    """
    L = codes.shape[1]
    K = alpha.shape[2]
    x = codes[i, 0]
    s = 0.0
    for k1 in range(K):
        for k2 in range(k1, K):
            v = alpha[g, 0, k1] * alpha[g, 0, k2] * E[0, x, k1, k2]
            f[0, k1, k2] = v
            f[0, k2, k1] = v
            s += v if k1 == k2 else 2.0 * v
    c[0] = s
    for k1 in range(K):
        for k2 in range(K):
            f[0, k1, k2] /= s
    for ll in range(1, L):
        x = codes[i, ll]
        rl = r[ll]
        st = 1.0 - rl
        R = Rs[ll]
        for k1 in range(K):
            acc = 0.0
            for k2 in range(K):
                acc += f[ll - 1, k1, k2]
            R[k1] = acc
        s = 0.0
        ss = st * st
        sr = st * rl
        rr = rl * rl
        for k1 in range(K):
            a1 = alpha[g, ll, k1]
            r1 = sr * R[k1]
            q1 = sr * a1
            p1 = rr * a1
            for k2 in range(K):
                a2 = alpha[g, ll, k2]
                v = (ss * f[ll - 1, k1, k2] + a2 * (r1 + p1) + q1 * R[k2]) * E[ll, x, k1, k2]
                f[ll, k1, k2] = v
                s += v
        c[ll] = s
        inv = 1.0 / s
        for k1 in range(K):
            for k2 in range(K):
                f[ll, k1, k2] *= inv


@numba.njit(cache=True, parallel=True, fastmath=_FAST)
def _estep_chrom(codes, r, E, H1, alpha, group, n_chunks, want_trans):  # pragma: no cover - compiled
    """Forward-backward of the diploid model for one chromosome; returns summed expected counts.

    Returns ``(allele, total, jumps, njump, loglik, trans)``: expected counted alleles per (locus, cluster)
    and haplotypes per (group, locus, cluster), expected jumps into each cluster per (group, locus), the total
    expected number of jumps (loci after the first), the per-individual log-likelihood and, with
    ``want_trans``, the expected cluster transitions ``(G, L, K, K)``: ``[g, l, j, k]`` sums, over the
    individuals of group ``g`` and both haplotypes, the posterior probability of cluster ``j`` at locus
    ``l - 1`` and ``k`` at ``l`` (row ``l = 0`` holds the initial cluster counts on its diagonal).
    """
    n, L = codes.shape
    K = alpha.shape[2]
    G = alpha.shape[0]
    acnt = np.zeros((n_chunks, L, K))
    hcnt = np.zeros((n_chunks, G, L, K))
    jc = np.zeros((n_chunks, G, L, K))
    Lt = L if want_trans else 1
    tr = np.zeros((n_chunks, G, Lt, K, K))
    njump = np.zeros(n_chunks)
    loglik = np.zeros(n)
    bounds = np.linspace(0, n, n_chunks + 1).astype(np.int64)
    for ch in numba.prange(n_chunks):
        f = np.empty((L, K, K))
        c = np.empty(L)
        b = np.empty((K, K))
        eb = np.empty((K, K))
        Rs = np.empty((L, K))
        Q = np.empty(K)
        xi = np.empty((K, K))
        al = np.empty(K)
        w = np.empty(K)
        for i in range(bounds[ch], bounds[ch + 1]):
            g = group[i]
            _forward(codes, i, g, r, E, alpha, f, c, Rs)
            lg = 0.0
            for ll in range(L):
                lg += np.log(c[ll])
            loglik[i] = lg
            # ---------------- backward (b scaled by the forward scales: f * b is the posterior)
            for k1 in range(K):
                for k2 in range(K):
                    b[k1, k2] = 1.0
            for ll in range(L - 1, -1, -1):
                x = codes[i, ll]
                # posterior of the pair state: allele counts per cluster
                if x == 1:
                    for k1 in range(K):
                        hs = 0.0
                        a_s = 0.0
                        for k2 in range(K):
                            gk = f[ll, k1, k2] * b[k1, k2]
                            hs += gk
                            a_s += gk * H1[ll, k1, k2]
                        hcnt[ch, g, ll, k1] += hs  # haplotype 1 in k1 (haplotype 2 by symmetry below)
                        acnt[ch, ll, k1] += a_s
                elif x != 3:
                    for k1 in range(K):
                        hs = 0.0
                        for k2 in range(K):
                            hs += f[ll, k1, k2] * b[k1, k2]
                        hcnt[ch, g, ll, k1] += hs
                        if x == 2:
                            acnt[ch, ll, k1] += hs
                if ll == 0:
                    for k1 in range(K):
                        acc = 0.0
                        for k2 in range(K):
                            acc += f[0, k1, k2] * b[k1, k2]
                        jc[ch, g, 0, k1] += 2.0 * acc
                        if want_trans:
                            tr[ch, g, 0, k1, k1] += 2.0 * acc
                    break
                rl = r[ll]
                st = 1.0 - rl
                inv_c = 1.0 / c[ll]
                for k1 in range(K):
                    for k2 in range(K):
                        eb[k1, k2] = E[ll, x, k1, k2] * b[k1, k2] * inv_c
                R = Rs[ll]
                for k in range(K):
                    al[k] = alpha[g, ll, k]
                    w[k] = st * R[k] + rl * al[k]
                # expected jumps of haplotype 1 into k1 (times 2 for both haplotypes)
                jsum = 0.0
                for k1 in range(K):
                    acc = 0.0
                    accq = 0.0
                    for k2 in range(K):
                        e = eb[k1, k2]
                        acc += e * w[k2]
                        accq += e * al[k2]
                    jk = rl * al[k1] * acc
                    jc[ch, g, ll, k1] += 2.0 * jk
                    jsum += jk
                    Q[k1] = accq
                njump[ch] += 2.0 * jsum
                if want_trans:
                    # xi(j, k) = T(j, k) sum_j2 f(j, j2) [(1 - r) eb(k, j2) + r Q(k)]
                    # (eb is symmetric: sum_j2 f(j, j2) eb(j2, k), an axpy over contiguous k)
                    for j in range(K):
                        rj = rl * R[j]
                        for k in range(K):
                            xi[j, k] = rj * Q[k]
                        for j2 in range(K):
                            fj = st * f[ll - 1, j, j2]
                            for k in range(K):
                                xi[j, k] += fj * eb[j2, k]
                    for j in range(K):
                        for k in range(K):
                            tr[ch, g, ll, j, k] += 2.0 * rl * al[k] * xi[j, k]
                        tr[ch, g, ll, j, j] += 2.0 * st * xi[j, j]
                Z = 0.0
                for k1 in range(K):
                    Z += al[k1] * Q[k1]
                ss = st * st
                rz = rl * rl * Z
                for k1 in range(K):
                    Q[k1] *= st * rl
                for k1 in range(K):
                    q1 = Q[k1] + rz
                    for k2 in range(K):
                        b[k1, k2] = ss * eb[k1, k2] + Q[k2] + q1
    # haplotype 2 mirrors haplotype 1 (the posterior is symmetric in the pair)
    return 2.0 * acnt.sum(0), 2.0 * hcnt.sum(0), jc.sum(0), njump.sum(), loglik, tr.sum(0)


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

    theta: np.ndarray  # (L, K) probability that cluster k carries the counted allele
    alpha: np.ndarray  # (G, L, K) jump-to distributions per group
    dist: np.ndarray  # (L,) genetic distance to the previous locus (first is 0)
    rho: float  # jumps per haplotype per unit distance
    usage: np.ndarray  # (G, L, K) expected number of training haplotypes of each group in each cluster
    trans: np.ndarray | None = None  # (G, L, K, K) expected cluster transitions of the training haplotypes
    loglik: float = np.nan


@dataclass
class GenotypeHMM:
    """A fitted haplotype-cluster HMM: one :class:`ChromHMM` per chromosome."""

    chroms: list[ChromHMM]
    slices: list[slice]
    group_freq: np.ndarray
    n_states: int
    #: (G,) pool of each group (its population): ``group_pooling`` pools a group's transitions with its own pool's
    #: groups only; ``None``: one pool, all groups
    group_pool: np.ndarray | None = None


def _jump_prob(dist: np.ndarray, rho: float) -> np.ndarray:
    r = -np.expm1(-rho * dist)
    r[0] = 1.0
    return np.clip(r, 0.0, 1.0)


def _solve_rho(dist: np.ndarray, target: float) -> float:
    """Rho such that the expected number of jumps per haplotype equals ``target``."""
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
    n_states: int = 8,
    emission_prior: float = 0.1,
    alpha_window: int = 3,
    n_iter: int = 10,
    rng: np.random.Generator,
    n_chunks: int = 8,
) -> GenotypeHMM:
    """Fit the haplotype-cluster HMM by EM (Baum-Welch), chromosome by chromosome.

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
        Number of haplotype clusters ``K``.
    emission_prior
        Beta pseudo-count (in haplotypes) pulling each cluster's allele frequency to the locus frequency.
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
    for sl in progress(chrom_slices, desc="haplotype-cluster HMM", unit="chromosome"):
        x = np.ascontiguousarray(codes[:, sl])
        d = np.asarray(dist[sl], dtype=np.float64).copy()
        L = x.shape[1]
        obs = x != 3
        xa = np.where(obs, x, 0).astype(np.float64)
        p = (xa.sum(0) + 0.5) / (2.0 * obs.sum(0) + 1.0)
        theta = np.clip(rng.uniform(0.05, 0.95, size=(L, K)) * 0.5 + 0.5 * p[:, None], 0.01, 0.99)
        alpha = np.full((G, L, K), 1.0 / K)
        rho = _solve_rho(d, max(1.0, d[1:].sum() / 100.0))
        ll_old = -np.inf
        for _it in range(n_iter):
            r = _jump_prob(d, rho)
            E, H1 = _emission_tables(theta)
            last = _it == n_iter - 1
            acnt, hcnt, jc, njump, ll, trans = _estep_chrom(x, r, E, H1, alpha, group, n_chunks, last)
            ll = float(ll.sum())
            # M-step
            theta = (acnt + emission_prior * p[:, None]) / (hcnt.sum(0) + emission_prior)
            theta = np.clip(theta, 1e-4, 1.0 - 1e-4)
            tot = _moving_sum(jc.sum(0), 2, axis=0) + 1e-3
            glob = tot / tot.sum(1, keepdims=True)
            grp = _moving_sum(jc, alpha_window, axis=1)
            alpha = grp + 1.0 * glob[None]
            alpha /= alpha.sum(2, keepdims=True)
            rho = _solve_rho(d, njump / (2.0 * n))
            converged = ll - ll_old < 1e-4 * abs(ll)
            ll_old = ll
            if converged and not last:
                # the transitions come from the last E-step (before its M-step: their cluster totals are the
                # usage from which theta was just estimated, so the sampled allele frequencies match)
                E, H1 = _emission_tables(theta)
                *_, trans = _estep_chrom(x, _jump_prob(d, rho), E, H1, alpha, group, n_chunks, True)
                break
        trans = trans.astype(np.float32)
        chroms.append(ChromHMM(theta=theta, alpha=alpha, dist=d, rho=rho, usage=hcnt, trans=trans, loglik=ll_old))
        total_ll += ll_old
    group_freq = np.bincount(group, minlength=G) / n
    logger.info("haplotype-cluster HMM fitted: K=%d, %d chromosomes, logL %.1f", K, len(chroms), total_ll)
    return GenotypeHMM(chroms=chroms, slices=list(chrom_slices), group_freq=group_freq, n_states=K)


def sample_haplotypes(
    model: GenotypeHMM,
    group: np.ndarray,
    *,
    recombination_scale: float = 1.0,
    min_cluster_size: float = 0.0,
    transition_prior: float = 1.0,
    group_pooling: float = 1.0,
    pair_repulsion: float = 0.0,
    rng: np.random.Generator,
    tables: list | None = None,
) -> np.ndarray:
    """Sample two haplotypes per individual: ``(n, 2, p)`` int8 alleles (1 = counted allele).

    Each haplotype's cluster path is a draw from the group's non-homogeneous Markov chain whose
    transition matrix at each locus is the training haplotypes' expected cluster transitions (plus
    ``transition_prior`` pseudo-haplotypes per row following the fitted jump model), so that the
    chain's cluster frequencies, and through them the allele frequencies, follow the fitted usage.
    ``recombination_scale`` scales the off-diagonal (switching) part of every transition matrix;
    clusters used by fewer than ``min_cluster_size`` training haplotypes at a locus cannot be entered
    there (counting the haplotypes behind the group's chain: its own and its pooled share). Each group's
    transition counts are pooled with ``group_pooling`` times its share of all groups' counts (1: half
    within the group, half across groups). ``pair_repulsion`` (0 to 1) lowers by that factor the chance
    that an individual's second haplotype sits in the same cluster as its first at a locus: two haplotypes
    drawn independently from one group's chain share clusters more often than a real individual's two
    (whose parents differ), which lowers heterozygosity. Each allele is then drawn from its cluster's
    allele frequency (never copied). ``tables``: :func:`chain_tables` of the same model and knobs, when already
    built.
    """
    m = group.shape[0]
    p = sum(sl.stop - sl.start for sl in model.slices)
    out = np.empty((m, 2, p), dtype=np.int8)
    hgroup = np.repeat(group, 2)
    if tables is None:
        tables = chain_tables(
            model,
            recombination_scale=recombination_scale,
            min_cluster_size=min_cluster_size,
            transition_prior=transition_prior,
            group_pooling=group_pooling,
        )
    for (P, cP, theta), sl in zip(tables, model.slices, strict=True):
        L = theta.shape[0]
        u_state = np.ascontiguousarray(rng.random((L, 2 * m)).T)
        u_allele = np.ascontiguousarray(rng.random((L, 2 * m)).T)
        hap = np.empty((2 * m, L), dtype=np.int8)
        _sample_paths(P, cP, theta, hgroup, u_state, u_allele, float(pair_repulsion), hap)
        out[:, :, sl] = hap.reshape(m, 2, L)
    return out


def _pooled(model: GenotypeHMM, a: np.ndarray) -> np.ndarray:
    """Each group's share of the counts ``a`` (groups first) summed over its pool (over all groups without pools)."""
    shape = (-1,) + (1,) * (a.ndim - 1)
    if model.group_pool is None:
        return model.group_freq.reshape(shape) * a.sum(0, keepdims=True)
    pool = model.group_pool
    out = np.empty_like(a)
    for q in np.unique(pool):
        sel = pool == q
        out[sel] = (model.group_freq[sel] / model.group_freq[sel].sum()).reshape(shape) * a[sel].sum(0, keepdims=True)
    return out


def chain_tables(
    model: GenotypeHMM,
    *,
    recombination_scale: float = 1.0,
    min_cluster_size: float = 0.0,
    transition_prior: float = 1.0,
    group_pooling: float = 1.0,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per chromosome, the sampling chain of :func:`sample_haplotypes`: ``(P, cumsum(P), theta)``.

    ``P[g, l, j, k]`` is group ``g``'s probability of cluster ``k`` at locus ``l`` after cluster ``j`` (row ``l = 0``:
    the initial distribution, repeated over ``j``). They depend on the model and the knobs only, so that several
    cohorts drawn with the same knobs (the trial cohorts of the pair-repulsion search) build them once.
    """
    tables = []
    for ch in model.chroms:
        K = ch.theta.shape[1]
        r = _jump_prob(ch.dist, ch.rho)
        eye = np.eye(K)
        prior = (1.0 - r)[None, :, None, None] * eye + r[None, :, None, None] * ch.alpha[:, :, None, :]
        tr = ch.trans.astype(np.float64)
        if group_pooling > 0 and tr.shape[0] > 1:
            # each group's counts plus ``group_pooling`` times its share of the pooled counts (of its pool's groups)
            tr = tr + group_pooling * _pooled(model, tr)
        P = tr + transition_prior * prior
        P[:, 0] = tr[:, 0].sum(2)[:, None, :] + transition_prior * ch.alpha[:, 0, None, :]
        P /= P.sum(3, keepdims=True)
        if recombination_scale != 1.0:
            P[:, 1:] = (1.0 - recombination_scale) * eye + recombination_scale * P[:, 1:]
            np.clip(P, 0.0, None, out=P)
        if min_cluster_size > 0:
            # the haplotypes behind each group's chain: its own plus its pooled share of all groups'
            usage = ch.usage.astype(np.float64)
            usage = usage + group_pooling * _pooled(model, usage)
            ok = usage >= min_cluster_size
            ok[ok.sum(2) == 0] = True
            P *= ok[:, :, None, :]
        P /= np.maximum(P.sum(3, keepdims=True), 1e-300)
        tables.append((P, np.cumsum(P, axis=3), np.ascontiguousarray(ch.theta)))
    return tables


@numba.njit(cache=True, parallel=True)
def _sample_paths(P, cP, theta, hgroup, u_state, u_allele, pair_repulsion, hap):  # pragma: no cover - compiled
    """Cluster paths and alleles of haplotype pairs ``(2 i, 2 i + 1)`` from pre-drawn uniforms (inverse CDF).

    Haplotype ``h`` at locus ``l`` enters cluster ``#{k: u > cP[g, l, z_prev, k]}`` (capped at ``K - 1``); with
    ``pair_repulsion`` the second haplotype's row is ``P[g, l, z_prev]`` with the first one's new cluster
    down-weighted by ``1 - pair_repulsion``. The allele is ``u_allele < theta[l, z]``.
    """
    n2, L = hap.shape
    K = theta.shape[1]
    for i in numba.prange(n2 // 2):
        g = hgroup[2 * i]
        z1 = 0
        z2 = 0
        c2 = np.empty(K)
        for ll in range(L):
            u = u_state[2 * i, ll]
            cnt = 0
            for k in range(K):
                if u > cP[g, ll, z1, k]:
                    cnt += 1
            n1 = min(cnt, K - 1)
            if pair_repulsion > 0:
                acc = 0.0
                for k in range(K):
                    v = P[g, ll, z2, k]
                    if k == n1:
                        v *= 1.0 - pair_repulsion
                    acc += v
                    c2[k] = acc
                u = u_state[2 * i + 1, ll] * c2[K - 1]
                cnt = 0
                for k in range(K):
                    if u > c2[k]:
                        cnt += 1
            else:
                u = u_state[2 * i + 1, ll]
                cnt = 0
                for k in range(K):
                    if u > cP[g, ll, z2, k]:
                        cnt += 1
            z1 = n1
            z2 = min(cnt, K - 1)
            hap[2 * i, ll] = 1 if u_allele[2 * i, ll] < theta[ll, z1] else 0
            hap[2 * i + 1, ll] = 1 if u_allele[2 * i + 1, ll] < theta[ll, z2] else 0


def sample_hmm(
    model: GenotypeHMM,
    group: np.ndarray,
    *,
    recombination_scale: float = 1.0,
    min_cluster_size: float = 0.0,
    group_pooling: float = 1.0,
    pair_repulsion: float = 0.0,
    rng: np.random.Generator,
    tables: list | None = None,
) -> np.ndarray:
    """Sample genotype codes ``(n, p)`` (int8 0..2): the sum of two haplotypes from :func:`sample_haplotypes`."""
    hap = sample_haplotypes(
        model,
        group,
        recombination_scale=recombination_scale,
        min_cluster_size=min_cluster_size,
        group_pooling=group_pooling,
        pair_repulsion=pair_repulsion,
        rng=rng,
        tables=tables,
    )
    return hap.sum(1, dtype=np.int8)

"""Simulated GWAS cohorts: genotypes with LD, population structure and relatives, plus phenotypes."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from .._logging import logger

if TYPE_CHECKING:
    from anndata import AnnData

#: Generations of the ancestral LD between founder haplotypes, relative to ``n_generations``.
_FOUNDER_GENERATIONS = 1.0

_ALLELE_PAIRS = np.array(
    [("A", "G"), ("G", "A"), ("C", "T"), ("T", "C"), ("A", "C"), ("C", "A"), ("G", "T"), ("T", "G")]
)


def _chromosome_layout(
    n_snps: int, n_chromosomes: int, cm_per_mb: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chromosome labels, bp positions and cM of every SNP (mouse-like chromosome lengths)."""
    lengths = np.linspace(195e6, 61e6, n_chromosomes) if n_chromosomes > 1 else np.array([150e6])
    share = lengths / lengths.sum() * n_snps
    counts = np.maximum(np.floor(share).astype(np.int64), 2)
    # largest remainder, then fix any excess created by the minimum of 2 per chromosome
    while counts.sum() < n_snps:
        counts[np.argmax(share - counts)] += 1
    while counts.sum() > n_snps:
        counts[np.argmax(counts - share)] -= 1
    chrom, pos, cm = [], [], []
    for c, (m, length) in enumerate(zip(counts, lengths, strict=True)):
        u = np.sort(rng.random(m)) * (length - m)
        p = np.floor(u).astype(np.int64) + np.arange(m) + 1  # strictly increasing
        gap = np.diff(p, prepend=0).astype(np.float64)
        # local recombination rate varies (Gamma, mean 1): hotspots and cold regions make LD blocks
        rate = rng.gamma(0.5, 2.0, size=m)
        cm.append(np.cumsum(gap * 1e-6 * cm_per_mb * rate))
        pos.append(p)
        chrom.append(np.full(m, str(c + 1), dtype=object))
    return np.concatenate(chrom), np.concatenate(pos), np.concatenate(cm)


def _founder_haplotypes(
    p_pop: np.ndarray, flip: np.ndarray, n_founders: int, d_morgan: np.ndarray, generations: float, rng
) -> np.ndarray:
    """Founder haplotypes (P, K, m) int8 with ancestral LD along one chromosome.

    Each founder carries a latent uniform that stays constant over ancestral segments (a new value
    starts between two SNPs with probability ``1 - exp(-generations * d)``); its allele is
    ``latent < p`` (or ``latent > 1 - p`` for flipped SNPs), so SNPs within a segment are in strong LD
    while each keeps its population frequency ``p``.
    """
    n_pop, m = p_pop.shape
    refresh = rng.random((n_pop * n_founders, m)) < (1.0 - np.exp(-generations * d_morgan))[None, :]
    refresh[:, 0] = True
    latent = rng.random(int(refresh.sum()))[np.cumsum(refresh.ravel()) - 1].reshape(n_pop, n_founders, m)
    p = p_pop[:, None, :]
    alleles = np.where(flip[None, None, :], latent > 1.0 - p, latent < p)
    return alleles.astype(np.int8)


def _mosaic_haplotypes(
    founders: np.ndarray,
    p_pop: np.ndarray,
    hap_q: np.ndarray,
    p_switch: np.ndarray,
    mutation: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Haplotypes as Markov mosaics of founder haplotypes along one chromosome.

    ``founders`` is (P, K, m) int8, ``p_pop`` (P, m) allele frequencies, ``hap_q`` (H, P) the
    population (admixture) weights of each haplotype, ``p_switch`` (m,) the probability of a new
    founder segment starting at each SNP (1 at the first SNP). Returns (H, m) int8.
    """
    n_pop, n_founders, m = founders.shape
    n_hap = hap_q.shape[0]
    switch = rng.random((n_hap, m), dtype=np.float32) < p_switch.astype(np.float32)[None, :]
    rows = np.nonzero(switch)[0]
    n_switch = rows.size
    if n_pop == 1:
        pop = np.zeros(n_switch, dtype=np.int64)
    else:
        cum = np.cumsum(hap_q, axis=1)
        u = rng.random(n_switch)
        pop = np.minimum((u[:, None] > cum[rows]).sum(axis=1), n_pop - 1)
    src = pop * n_founders + rng.integers(0, n_founders, size=n_switch)
    seg = np.cumsum(switch.ravel()) - 1
    src_full = src[seg].reshape(n_hap, m)
    cols = np.arange(m)[None, :]
    haps = founders.reshape(n_pop * n_founders, m)[src_full, cols]
    # mutation / gene conversion: a few alleles redrawn from the population frequency
    n_mut = rng.binomial(n_hap * m, mutation)
    if n_mut:
        mut_r, mut_c = np.divmod(rng.integers(0, n_hap * m, size=n_mut), m)
        p = p_pop[src_full[mut_r, mut_c] // n_founders, mut_c]
        haps[mut_r, mut_c] = rng.random(mut_r.size) < p
    return haps


def _meiosis(parent_haps: np.ndarray, p_recomb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One gamete per row of ``parent_haps`` (G, 2, m): a crossover mosaic of the two parental haplotypes."""
    n_gam, _, m = parent_haps.shape
    cross = rng.random((n_gam, m), dtype=np.float32) < p_recomb.astype(np.float32)[None, :]
    start = rng.integers(0, 2, size=n_gam)
    phase = (np.cumsum(cross, axis=1) + start[:, None]) % 2
    return np.where(phase == 1, parent_haps[:, 1, :], parent_haps[:, 0, :])


def _family_sizes(n_related: int, rng: np.random.Generator) -> list[int]:
    """Sibship sizes (2 to 4) adding up to ``n_related``."""
    sizes: list[int] = []
    left = n_related
    while left >= 2:
        s = int(min(rng.integers(2, 5), left))
        if left - s == 1:
            s = s + 1 if s < 4 else s - 1
        sizes.append(s)
        left -= s
    return sizes


def simulate_cohort(
    n_individuals: int = 1000,
    n_snps: int = 5000,
    *,
    n_chromosomes: int = 10,
    n_causal: int = 10,
    heritability: float = 0.5,
    causal_fraction: float = 0.5,
    structure: Literal["populations", "admixed", "none"] = "populations",
    n_populations: int = 3,
    fst: float = 0.05,
    relatedness: float = 0.2,
    n_founders: int = 16,
    n_generations: float = 20.0,
    mutation: float = 0.01,
    stratification: float = 0.1,
    covariate_variance: float = 0.1,
    prevalence: float = 0.3,
    missing_rate: float = 0.0,
    rng: int | np.random.Generator | None = None,
) -> AnnData:
    """Simulate a GWAS cohort: genotypes with LD, structure and relatives, and phenotypes.

    Genotypes are built the way outbred and admixed cohorts look. Each population has its own
    allele frequencies (Balding-Nichols with ``fst`` around ancestral frequencies uniform on
    [0.05, 0.95]) and ``n_founders`` founder haplotypes drawn from them. Every haplotype of an
    individual is a mosaic of founder haplotypes: along the chromosome a new founder segment starts
    between two SNPs with probability ``1 - exp(-n_generations * d)`` (``d`` the genetic distance in
    Morgan), so linkage disequilibrium decays with distance, and a small fraction ``mutation`` of
    alleles is redrawn from the population frequency. A share ``relatedness`` of the cohort are full
    siblings (sibships of 2-4, kinship 1/4) made by meiosis (Haldane crossovers) from simulated parents
    who are not in the cohort. Individuals are returned in random order.

    The quantitative phenotype is::

        pheno = g_causal + g_polygenic + e_population + e + b_age * age + b_sex * sex

    with ``var(g_causal) = heritability * causal_fraction`` carried by ``n_causal`` SNPs (minor allele
    frequency >= 0.05), ``var(g_polygenic) = heritability * (1 - causal_fraction)`` spread over all
    SNPs (infinitesimal, what a kinship matrix captures), and the non-genetic part
    ``var(e_population + e) = 1 - heritability`` of which a share ``stratification`` is a
    per-population mean shift (confounding by structure). The genetic variances are set on the
    simulated sample exactly (the individual noise is made orthogonal to ``g`` and ``e_population``),
    so ``heritability`` is the variance share of the genetic value after the covariates, as an LMM's
    PVE estimates it. The covariates add ``covariate_variance`` on top.
    The binary phenotype thresholds the same liability (``pheno``) at its ``1 - prevalence`` quantile.

    Parameters
    ----------
    n_individuals
        Number of individuals (observations).
    n_snps
        Number of SNPs (variables), spread over the chromosomes in proportion to their length.
    n_chromosomes
        Number of autosomes, named ``"1"``, ``"2"``, ...; lengths decrease from 195 Mb to 61 Mb as in
        the mouse, with 0.5 cM/Mb on average and a locally varying recombination rate.
    n_causal
        Number of causal SNPs with a large effect.
    heritability
        Share of the (covariate-adjusted) phenotypic variance that is genetic, in [0, 1).
    causal_fraction
        Share of the heritability carried by the causal SNPs; the rest is polygenic.
    structure
        ``"populations"``: ``n_populations`` discrete subpopulations of about equal size;
        ``"admixed"``: every individual has its own admixture proportions (Dirichlet(1/2)) over
        ``n_populations`` ancestral populations; ``"none"``: a single population.
    n_populations
        Number of (ancestral) populations; ignored with ``structure="none"``.
    fst
        Balding-Nichols F_ST between populations, in (0, 1).
    relatedness
        Share of individuals who belong to sibships, in [0, 1).
    n_founders
        Founder haplotypes per population (fewer gives longer-range LD and more haplotype sharing).
    n_generations
        Generations of recombination since the founders (more gives shorter-range LD).
    mutation
        Probability that an allele is redrawn from its population frequency rather than copied from the founder.
    stratification
        Share of the non-genetic variance that is a population mean shift.
    covariate_variance
        Variance added by the covariates ``age`` and ``sex``.
    prevalence
        Share of cases (1) in ``pheno_binary``, in (0, 1).
    missing_rate
        Share of genotype entries set to NaN at random (the phenotype uses the complete genotypes).
    rng
        Seed or generator; the same seed gives bit-identical output.

    Returns
    -------
    AnnData of individuals x SNPs with

    - ``X``: float32 allele-1 dosages 0, 1, 2 (NaN where missing);
    - ``var``: ``chrom`` (str), ``pos`` (Int64, bp), ``cm`` (float), ``allele1`` (counted), ``allele0``;
    - ``obs``: ``pheno`` (float), ``pheno_binary`` (0/1 int), ``age`` (float), ``sex`` (0/1 int),
      ``population`` (categorical; the largest ancestry share when admixed), ``family``
      (categorical: ``"fam0001"``, ... for siblings, ``"none"`` for the others);
    - ``uns["simulation"]``: the truth, a dict with ``params`` (every argument), ``causal_snps``
      (names, in file order), ``causal_effects`` (per-allele effects on the dosage scale),
      ``causal_variance`` (variance explained by each causal SNP in the sample), ``genetic_value``,
      ``causal_value``, ``polygenic_value``, ``environment`` (the non-genetic part ``e_population + e``),
      ``covariate_effects`` (``{"age": b_age, "sex": b_sex}``), ``population_shift`` (per population),
      ``heritability`` (realised ``var(g) / (var(g) + var(e))``), ``genetic_share`` (``var(g) / var(g + e)``,
      which differs from it by the covariance that stratification creates between ``g`` and
      ``e_population``), ``h2_causal``, ``h2_polygenic``,
      ``liability_threshold``, ``admixture`` (n x populations ancestry proportions) and
      ``allele_freq`` (populations x SNPs).

    Notes
    -----
    Allele frequencies follow Balding & Nichols (1995, Genetica 96:3); haplotypes as mosaics of
    founders follow the Li & Stephens (2003, Genetics 165:2213) copying model, as in heterogeneous-stock
    mice (Valdar et al. 2006, Nat Genet 38:879). Everything is vectorised over individuals and SNPs:
    2,000 x 20,000 takes about 2 seconds on one core.

    Examples
    --------
    >>> import scgenome as sg
    >>> gdata = sg.datasets.simulate_cohort(200, 1000, n_causal=5, rng=0)
    >>> gdata.shape
    (200, 1000)
    >>> sorted(gdata.obs.columns)
    ['age', 'family', 'pheno', 'pheno_binary', 'population', 'sex']
    >>> len(gdata.uns["simulation"]["causal_snps"])
    5
    """
    from anndata import AnnData

    params = {
        "n_individuals": n_individuals,
        "n_snps": n_snps,
        "n_chromosomes": n_chromosomes,
        "n_causal": n_causal,
        "heritability": heritability,
        "causal_fraction": causal_fraction,
        "structure": structure,
        "n_populations": n_populations,
        "fst": fst,
        "relatedness": relatedness,
        "n_founders": n_founders,
        "n_generations": n_generations,
        "mutation": mutation,
        "stratification": stratification,
        "covariate_variance": covariate_variance,
        "prevalence": prevalence,
        "missing_rate": missing_rate,
    }
    _check_params(params)
    rng = np.random.default_rng(rng)
    n, m = int(n_individuals), int(n_snps)
    n_pop = 1 if structure == "none" else int(n_populations)

    # --- SNP layout -------------------------------------------------------------------------
    chrom, pos, cm = _chromosome_layout(m, int(n_chromosomes), 0.5, rng)
    alleles = _ALLELE_PAIRS[rng.integers(0, len(_ALLELE_PAIRS), size=m)]

    # --- allele frequencies and founders ------------------------------------------------------
    p_anc = rng.uniform(0.05, 0.95, size=m)
    if n_pop > 1:
        a = p_anc * (1 - fst) / fst
        b = (1 - p_anc) * (1 - fst) / fst
        p_pop = np.clip(rng.beta(a[None, :], b[None, :], size=(n_pop, m)), 1e-4, 1 - 1e-4)
    else:
        p_pop = p_anc[None, :].copy()
    flip = rng.random(m) < 0.5  # which allele the latent threshold counts: LD of either sign

    # --- who is who: unrelated individuals, sibships and their parents -------------------------
    sizes = _family_sizes(round(relatedness * n), rng)
    n_sibs = int(sum(sizes))
    n_unrel = n - n_sibs
    n_fam = len(sizes)
    n_base = n_unrel + 2 * n_fam  # individuals built from founders (parents are not in the cohort)
    if structure == "admixed":
        q_base = rng.dirichlet(np.full(n_pop, 0.5), size=n_base)
    else:
        labels = rng.integers(0, n_pop, size=n_fam)
        base_pop = np.concatenate([rng.integers(0, n_pop, size=n_unrel), np.repeat(labels, 2)])
        q_base = np.eye(n_pop)[base_pop]
    hap_q = np.repeat(q_base, 2, axis=0)  # two haplotypes per base individual
    fam_of_child = np.repeat(np.arange(n_fam), sizes)
    mother = n_unrel + 2 * fam_of_child
    father = mother + 1
    q = np.concatenate([q_base[:n_unrel], (q_base[mother] + q_base[father]) / 2])

    # --- haplotypes chromosome by chromosome ----------------------------------------------------
    X = np.empty((n, m), dtype=np.float32)
    chrom_codes, chrom_start = np.unique(chrom.astype(np.int64), return_index=True)
    bounds = [*chrom_start[np.argsort(chrom_codes)], m]
    for lo, hi in itertools.pairwise(bounds):
        d_morgan = np.diff(cm[lo:hi], prepend=cm[lo]) / 100.0
        p_switch = 1.0 - np.exp(-n_generations * d_morgan)
        p_switch[0] = 1.0
        p_recomb = 0.5 * (1.0 - np.exp(-2.0 * d_morgan))
        founders = _founder_haplotypes(
            p_pop[:, lo:hi], flip[lo:hi], int(n_founders), d_morgan, _FOUNDER_GENERATIONS * n_generations, rng
        )
        haps = _mosaic_haplotypes(founders, p_pop[:, lo:hi], hap_q, p_switch, mutation, rng)
        haps = haps.reshape(n_base, 2, hi - lo)
        if n_sibs:
            gam_m = _meiosis(haps[mother], p_recomb, rng)
            gam_f = _meiosis(haps[father], p_recomb, rng)
            X[n_unrel:, lo:hi] = gam_m + gam_f
        X[:n_unrel, lo:hi] = haps[:n_unrel].sum(axis=1)

    order = rng.permutation(n)
    X = X[order]
    q = q[order]
    family = np.concatenate([np.full(n_unrel, "none", dtype=object), [f"fam{i + 1:04d}" for i in fam_of_child]])
    family = family[order]
    pop_idx = q.argmax(axis=1)

    # --- phenotype -----------------------------------------------------------------------------
    af = X.mean(axis=0, dtype=np.float64) / 2.0
    sd = np.sqrt(2.0 * af * (1.0 - af))
    ok = sd > 0
    maf = np.minimum(af, 1 - af)
    eligible = np.flatnonzero(maf >= 0.05)
    if n_causal > eligible.size:
        msg = (
            f"n_causal={n_causal} but only {eligible.size} SNPs have a minor allele frequency >= 0.05; "
            "ask for fewer causal SNPs or more SNPs."
        )
        raise ValueError(msg)
    causal = np.sort(rng.choice(eligible, size=int(n_causal), replace=False)) if n_causal else np.array([], int)
    h2 = float(heritability)
    h2_causal = h2 * float(causal_fraction) if n_causal else 0.0
    h2_poly = h2 - h2_causal

    def _scaled(v: np.ndarray, var: float) -> tuple[np.ndarray, float]:
        s = v.std()
        f = np.sqrt(var) / s if var > 0 and s > 0 else 0.0
        return v * f, f

    # effect sizes of comparable magnitude (uniform 0.5-1.5 on the standardised scale, random sign)
    beta_std = rng.uniform(0.5, 1.5, size=causal.size) * rng.choice([-1.0, 1.0], size=causal.size)
    b_causal = beta_std / sd[causal]
    g_causal_raw = (X[:, causal].astype(np.float64) - 2 * af[causal]) @ b_causal
    g_causal, f_c = _scaled(g_causal_raw, h2_causal)
    b_causal = b_causal * f_c
    b_poly = np.where(ok, rng.standard_normal(m) / np.where(ok, sd, 1.0), 0.0)
    g_poly_raw = X.astype(np.float64) @ b_poly - 2 * af @ b_poly
    if causal.size:  # orthogonal to the causal value in the sample, so that the variances add up exactly
        g_poly_raw = g_poly_raw - g_causal * (g_poly_raw @ g_causal) / max(g_causal @ g_causal, 1e-300)
    g_poly, _ = _scaled(g_poly_raw, h2_poly)
    g = g_causal + g_poly

    shift_raw = rng.standard_normal(n_pop)
    e_pop_raw = q @ shift_raw
    e_pop, f_s = _scaled(e_pop_raw, (1 - h2) * float(stratification)) if n_pop > 1 else (np.zeros(n), 0.0)
    # individual noise, made orthogonal in the sample to the genetic value and the population shift so that
    # the variance shares are exact: var(e_population + e) = 1 - heritability
    noise = rng.standard_normal(n)
    basis = np.column_stack([np.ones(n), g, e_pop])
    noise = noise - basis @ np.linalg.lstsq(basis, noise, rcond=None)[0]
    noise, _ = _scaled(noise, (1 - h2) * (1 - float(stratification) * (n_pop > 1)))
    e = e_pop + noise

    age = np.round(rng.uniform(6.0, 20.0, size=n), 1)
    sex = rng.integers(0, 2, size=n)
    cov_raw = rng.standard_normal(2)
    cov = cov_raw[0] * (age - age.mean()) / age.std() + cov_raw[1] * (sex - sex.mean()) / max(sex.std(), 1e-12)
    cov, f_cov = _scaled(cov, float(covariate_variance))
    b_age = float(cov_raw[0] * f_cov / age.std())
    b_sex = float(cov_raw[1] * f_cov / max(sex.std(), 1e-12))
    pheno = g + e + b_age * (age - age.mean()) + b_sex * (sex - sex.mean())
    threshold = float(np.quantile(pheno, 1 - float(prevalence)))
    pheno_binary = (pheno > threshold).astype(np.int64)

    causal_var = (X[:, causal].astype(np.float64) * b_causal).var(axis=0)
    if missing_rate > 0:
        X[rng.random((n, m)) < missing_rate] = np.nan

    # --- assemble -------------------------------------------------------------------------------
    width = len(str(m))
    var_names = [f"snp{i + 1:0{width}d}" for i in range(m)]
    obs_names = [f"ind{i + 1:0{len(str(n))}d}" for i in range(n)]
    var = pd.DataFrame(
        {
            "chrom": pd.Series(chrom, dtype=object).to_numpy(),
            "pos": pd.array(pos, dtype="Int64"),
            "cm": cm.astype(np.float64),
            "allele1": alleles[:, 0].astype(object),
            "allele0": alleles[:, 1].astype(object),
        },
        index=pd.Index(var_names),
    )
    pop_names = [f"pop{i + 1}" for i in range(n_pop)]
    fam_levels = ["none", *sorted({f for f in family if f != "none"})]
    obs = pd.DataFrame(
        {
            "pheno": pheno,
            "pheno_binary": pheno_binary,
            "age": age,
            "sex": sex.astype(np.int64),
            "population": pd.Categorical.from_codes(pop_idx, categories=pop_names),
            "family": pd.Categorical(family, categories=fam_levels),
        },
        index=pd.Index(obs_names),
    )
    truth = {
        "params": {k: (str(v) if isinstance(v, str) else v) for k, v in params.items()},
        "causal_snps": np.asarray([var_names[i] for i in causal], dtype=object),
        "causal_effects": np.asarray(b_causal, dtype=np.float64),
        "causal_variance": np.asarray(causal_var, dtype=np.float64),
        "genetic_value": g,
        "causal_value": g_causal,
        "polygenic_value": g_poly,
        "environment": e,
        "covariate_effects": {"age": b_age, "sex": b_sex},
        "population_shift": np.asarray(shift_raw * f_s, dtype=np.float64),
        "heritability": float(np.var(g) / (np.var(g) + np.var(e))),
        "genetic_share": float(np.var(g) / np.var(g + e)),
        "h2_causal": h2_causal,
        "h2_polygenic": h2_poly,
        "liability_threshold": threshold,
        "admixture": q,
        "allele_freq": p_pop,
    }
    adata = AnnData(X=X, obs=obs, var=var, uns={"simulation": truth})
    logger.info(
        "simulated cohort: %d individuals x %d SNPs, %d populations, %d sibships, %d causal SNPs",
        n,
        m,
        n_pop,
        n_fam,
        causal.size,
    )
    return adata


def _check_params(p: dict) -> None:
    """Raise ``ValueError`` for an out-of-range simulation parameter."""

    def bad(name: str, rule: str) -> None:
        msg = f"simulate_cohort: {name}={p[name]!r} is invalid; it must be {rule}."
        raise ValueError(msg)

    if int(p["n_individuals"]) < 10:
        bad("n_individuals", "at least 10")
    if int(p["n_chromosomes"]) < 1:
        bad("n_chromosomes", "at least 1")
    if int(p["n_snps"]) < 2 * int(p["n_chromosomes"]):
        bad("n_snps", f"at least 2 per chromosome ({2 * int(p['n_chromosomes'])})")
    if int(p["n_causal"]) < 0:
        bad("n_causal", ">= 0")
    if not 0 <= p["heritability"] < 1:
        bad("heritability", "in [0, 1)")
    if not 0 <= p["causal_fraction"] <= 1:
        bad("causal_fraction", "in [0, 1]")
    if p["structure"] not in ("populations", "admixed", "none"):
        bad("structure", "one of 'populations', 'admixed', 'none'")
    if p["structure"] != "none" and int(p["n_populations"]) < 1:
        bad("n_populations", "at least 1")
    if not 0 < p["fst"] < 1:
        bad("fst", "in (0, 1)")
    if not 0 <= p["relatedness"] < 1:
        bad("relatedness", "in [0, 1)")
    if int(p["n_founders"]) < 2:
        bad("n_founders", "at least 2")
    if p["n_generations"] <= 0:
        bad("n_generations", "> 0")
    if not 0 <= p["mutation"] <= 1:
        bad("mutation", "in [0, 1]")
    if not 0 <= p["stratification"] <= 1:
        bad("stratification", "in [0, 1]")
    if p["covariate_variance"] < 0:
        bad("covariate_variance", ">= 0")
    if not 0 < p["prevalence"] < 1:
        bad("prevalence", "in (0, 1)")
    if not 0 <= p["missing_rate"] < 1:
        bad("missing_rate", "in [0, 1)")


__all__ = ["simulate_cohort"]

"""``sg.datasets.simulate_variants``: labelled variants with sc-EMS-like annotations and a known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._utils import get_rng

# GRCh38 autosome lengths in Mb (rounded), used for positions
_CHROM_MB = [248, 242, 198, 190, 181, 171, 159, 145, 138, 134, 135, 133, 114, 107, 102, 90, 83, 80, 59, 64, 47, 51]


def simulate_variants(
    n_variants: int = 5000,
    n_features: int = 100,
    *,
    n_chromosomes: int = 22,
    positive_rate: float = 0.1,
    rng: int | np.random.Generator | None = None,
):
    """Simulate fine-mapped variants with annotation features named like sc-EMS's and a known truth.

    Feature families: ``abs_distance_TSS_log`` (natural log of the distance to the TSS; nearer is
    more likely causal), ``diff_32_*`` (signed allelic-effect scores), ``chrombpnet_positive_*``,
    ``tf_positive_*`` (signed), ``gnomad_MAF``, ``phastCons100way`` (conservation), the decoy
    ``length_diff`` (indel length change; no effect, and not matched by the ``diff_*`` pattern)
    and uninformative ``annot_*`` columns. The true log-odds depend on the *absolute value* of a
    few diff / chrombpnet / tf columns (so the absolute-value transform matters), on the distance
    and on conservation.

    Parameters
    ----------
    n_variants
        Number of variants (rows).
    n_features
        Number of features (at least 12).
    n_chromosomes
        Chromosomes ``chr1`` ... (at most 22); variants are spread by chromosome length.
    positive_rate
        Fraction of true functional variants (the intercept is solved to give it).
    rng
        Seed or generator.

    Returns
    -------
    AnnData (variants x features) with ``obs``: ``chrom``, ``pos``, ``ref``, ``alt``, ``gene``,
    ``pip`` (positives above 0.1; negatives below 0.01, a tenth of them between 0.01 and 0.1),
    ``true_label`` and ``true_prob``; ``uns["simulation"]``: ``coefficients`` (feature ->
    log-odds effect, on ``|x|`` for the signed families), ``abs_effect`` (features acting
    through their absolute value), ``informative``, ``decoys``, ``intercept``, ``positive_rate``.

    Examples
    --------
    >>> import scgenome as sg
    >>> vdata = sg.datasets.simulate_variants(1000, 40, rng=0)
    >>> vdata.shape
    (1000, 40)
    >>> sorted(vdata.uns["simulation"]["informative"])[:2]
    ['abs_distance_TSS_log', 'chrombpnet_positive_0']
    """
    from anndata import AnnData

    if n_features < 12:
        msg = f"n_features must be at least 12 (one per feature family), got {n_features}."
        raise ValueError(msg)
    if not 1 <= n_chromosomes <= 22:
        msg = f"n_chromosomes must be between 1 and 22, got {n_chromosomes}."
        raise ValueError(msg)
    if not 0 < positive_rate < 1:
        msg = f"positive_rate must lie strictly between 0 and 1, got {positive_rate}."
        raise ValueError(msg)
    rng = get_rng(rng)
    n = int(n_variants)
    lengths = np.array(_CHROM_MB[:n_chromosomes], dtype=float)
    ci = rng.choice(n_chromosomes, size=n, p=lengths / lengths.sum())
    chrom = np.array([f"chr{i + 1}" for i in ci])
    pos = (rng.random(n) * lengths[ci] * 1e6).astype(np.int64) + 1
    gene = np.array([f"GENE{i + 1}_{k}" for i, k in zip(ci, rng.integers(0, max(1, n // 200), n), strict=True)])
    kind = rng.choice(3, size=n, p=[0.85, 0.08, 0.07])  # SNV, deletion, insertion
    bases = np.array(list("ACGT"))
    ref_i = rng.integers(0, 4, n)
    ref = bases[ref_i].astype(object)
    alt = bases[(ref_i + rng.integers(1, 4, n)) % 4].astype(object)  # an SNV changes the base
    ln = rng.integers(1, 6, n)
    for i in np.flatnonzero(kind == 1):
        ref[i] = ref[i] + "".join(bases[rng.integers(0, 4, ln[i])])
        alt[i] = ref[i][0]
    for i in np.flatnonzero(kind == 2):
        alt[i] = ref[i] + "".join(bases[rng.integers(0, 4, ln[i])])

    n_rest = n_features - 4
    n_diff = max(3, int(0.4 * n_rest))
    n_cbp = max(2, int(0.2 * n_rest))
    n_tf = max(2, int(0.2 * n_rest))
    n_noise = n_rest - n_diff - n_cbp - n_tf
    names = (
        ["abs_distance_TSS_log", "gnomad_MAF", "phastCons100way", "length_diff"]
        + [f"diff_32_{i}" for i in range(n_diff)]
        + [f"chrombpnet_positive_{i}" for i in range(n_cbp)]
        + [f"tf_positive_{i}" for i in range(n_tf)]
        + [f"annot_{i}" for i in range(n_noise)]
    )
    X = np.empty((n, n_features), dtype=np.float32)
    dist_log = rng.uniform(np.log(1e3), np.log(1e6), n)
    X[:, 0] = dist_log
    X[:, 1] = 0.5 * rng.beta(0.5, 3.0, n)
    X[:, 2] = rng.beta(0.3, 0.7, n)
    X[:, 3] = np.array([len(a) - len(r) for r, a in zip(ref, alt, strict=True)], dtype=np.float32)
    X[:, 4:] = rng.standard_t(5, size=(n, n_rest)) * 0.8
    coef = {
        "abs_distance_TSS_log": -0.8,
        "phastCons100way": 1.5,
        "diff_32_0": 1.2,
        "diff_32_1": 0.9,
        "diff_32_2": 0.7,
        "chrombpnet_positive_0": 1.0,
        "chrombpnet_positive_1": 0.7,
        "tf_positive_0": 0.8,
        "tf_positive_1": 0.6,
    }
    abs_effect = [k for k in coef if k.startswith(("diff_", "chrombpnet_", "tf_"))]
    col = {f: i for i, f in enumerate(names)}
    eta = np.zeros(n)
    for f, b in coef.items():
        x = X[:, col[f]].astype(float)
        eta += b * (np.abs(x) if f in abs_effect else x - x.mean())
    # intercept giving the requested positive rate
    lo, hi = -30.0, 30.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if np.mean(1 / (1 + np.exp(-(eta + mid)))) > positive_rate:
            hi = mid
        else:
            lo = mid
    b0 = (lo + hi) / 2
    prob = 1 / (1 + np.exp(-(eta + b0)))
    y = (rng.random(n) < prob).astype(np.int64)
    pip = np.where(y == 1, rng.uniform(0.1001, 1.0, n), rng.uniform(0.0, 0.0099, n))
    grey = (y == 0) & (rng.random(n) < 0.1)
    pip[grey] = rng.uniform(0.01, 0.1, grey.sum())

    obs = pd.DataFrame(
        {
            "chrom": pd.Categorical(chrom, categories=[f"chr{i + 1}" for i in range(n_chromosomes)]),
            "pos": pos,
            "ref": ref.astype(str),
            "alt": alt.astype(str),
            "gene": gene,
            "pip": pip,
            "true_label": y,
            "true_prob": prob,
        },
        index=pd.Index([f"{c}:{p}:{r}:{a}" for c, p, r, a in zip(chrom, pos, ref, alt, strict=True)]),
    )
    # positions are drawn at random: make names unique without changing the variants
    if not obs.index.is_unique:
        dup = obs.index.duplicated(keep="first")
        obs.loc[dup, "pos"] = obs.loc[dup, "pos"] + 1 + np.arange(dup.sum())
        obs.index = pd.Index([f"{c}:{p}:{r}:{a}" for c, p, r, a in obs[["chrom", "pos", "ref", "alt"]].to_numpy()])
    adata = AnnData(X=X, obs=obs, var=pd.DataFrame(index=names))
    adata.uns["simulation"] = {
        "coefficients": coef,
        "abs_effect": abs_effect,
        "informative": list(coef),
        "decoys": ["length_diff"],
        "intercept": float(b0),
        "positive_rate": float(y.mean()),
    }
    return adata


__all__ = ["simulate_variants"]

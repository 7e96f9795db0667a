"""Detection of discrete populations in a genotype matrix (``populations="auto"`` of ``sg.tl.synthesize``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: silhouette (Kaufman & Rousseeuw 1990: above 0.70, "a strong structure has been found") that a partition into
#: populations must reach on the top genotype PCs
MIN_SILHOUETTE = 0.70
#: most populations tried
MAX_POPULATIONS = 10


@dataclass
class Populations:
    """Result of :func:`detect_populations`."""

    n_populations: int
    labels: np.ndarray | None  # (n,) codes 0..P-1, or None for one population
    silhouette: dict[int, float] = field(default_factory=dict)  # per number of populations tried
    eigenvalues: list[float] = field(default_factory=list)  # top genotype-covariance eigenvalues (GRM scale)

    def summary(self) -> dict:
        """Plain-type summary for ``uns``."""
        return {
            "method": "silhouette",
            "min_silhouette": MIN_SILHOUETTE,
            "n_populations": int(self.n_populations),
            "silhouette": {str(k): float(v) for k, v in self.silhouette.items()},
            "eigenvalues": [float(x) for x in self.eigenvalues],
            "sizes": [] if self.labels is None else np.bincount(self.labels).tolist(),
        }


def detect_populations(
    X: np.ndarray, min_size: int, *, max_populations: int = MAX_POPULATIONS, seed: int = 0
) -> Populations:
    """Discrete populations of the rows of the (complete) dosage matrix ``X``: their number and k-means labels.

    For each number ``P`` from 2 to ``max_populations``, k-means on the top ``max(P - 1, 2)`` principal components
    (scores on standardised genotypes; ``P`` discrete populations span ``P - 1`` axes, and at least two are used so
    that cutting one continuous axis in two is not rewarded) and the mean silhouette of its partition; the largest
    ``P`` whose silhouette reaches :data:`MIN_SILHOUETTE` with every cluster of at least ``min_size`` individuals is
    taken, else one population. Continuous structure (relatives, families, an admixture cline, LD) splits into
    clusters that touch, discrete populations into separated ones (see the benchmarks page for the measured
    silhouettes). Deterministic (its own ``seed``).
    """
    from scipy.sparse.linalg import svds
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    n = X.shape[0]
    if n < 2 * max(min_size, 2):
        return Populations(1, None)
    af = X.mean(0) / 2
    keep = (af > 0.01) & (af < 0.99)
    if keep.sum() < 3:
        return Populations(1, None)
    Z = X[:, keep] - 2 * af[keep]
    Z /= np.sqrt(np.maximum(Z.var(0), 1e-12))
    k = int(min(max(max_populations - 1, 2), min(Z.shape) - 2))
    if k < 2:
        return Populations(1, None)
    U, S, _ = svds(Z, k=k, random_state=seed)
    order = np.argsort(-S)
    scores = U[:, order] * S[order]
    evals = (S[order] ** 2 / Z.shape[1]).tolist()
    sil: dict[int, float] = {}
    best, best_lab = 1, None
    for P in range(2, min(max_populations, k + 1, n // max(min_size, 1)) + 1):
        sc = scores[:, : max(P - 1, 2)]
        lab = KMeans(n_clusters=P, n_init=4, random_state=seed).fit(sc).labels_
        if len(np.unique(lab)) < P:
            continue
        sil[P] = float(silhouette_score(sc, lab))
        if sil[P] >= MIN_SILHOUETTE and np.bincount(lab, minlength=P).min() >= min_size:
            best, best_lab = P, lab.astype(np.int64)
    return Populations(best, best_lab, sil, evals)

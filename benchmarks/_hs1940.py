"""Shared set-up of the HS1940 synthesis benchmarks: data, the 90% / 10% split and the structure setting."""

from __future__ import annotations

import numpy as np

import scgenome as sg

SEED = 0
#: the structure-preserving setting of sg.tl.synthesize (see docs/benchmarks.md)
STRUCTURE = {
    "n_groups": 20,
    "group_pooling": 0.1,
    "min_group_size": 10,
    "min_cluster_size": 15.0,
    "recombination_scale": 1.5,
}


def load():
    """HS1940 with ``mch_high`` (MCH above its median; NaN where MCH is missing) as a binary covariate."""
    d = sg.datasets.data_path("mouse-hs1940")
    g = sg.io.read_bimbam(
        d / "mouse_hs1940.geno.txt.gz", d / "mouse_hs1940.pheno.txt.gz", d / "mouse_hs1940.anno.txt.gz"
    )
    g.obs["mch_high"] = (g.obs["pheno6"] > g.obs["pheno6"].median()).astype(float)
    g.obs.loc[g.obs["pheno6"].isna(), "mch_high"] = np.nan
    return g


def holdout_mask(n: int, seed: int = SEED, fraction: float = 0.1) -> np.ndarray:
    """A random ``fraction`` (default 10%) of ``n`` individuals: the real mice the synthesis never sees."""
    hold = np.zeros(n, bool)
    size = n // 10 if fraction == 0.1 else round(fraction * n)  # (the 10% split as it always was)
    hold[np.random.default_rng(seed).choice(n, size=size, replace=False)] = True
    return hold

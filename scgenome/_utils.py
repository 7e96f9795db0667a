"""Small helpers shared by all tools: random generators, progress bars, AnnData/MuData access."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ._settings import settings

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pandas as pd
    from anndata import AnnData
    from mudata import MuData


def get_rng(rng: int | np.random.Generator | None) -> np.random.Generator:
    """Return a :class:`numpy.random.Generator` from a seed, a generator or ``None``."""
    return np.random.default_rng(rng)


def child_seed(rng: np.random.Generator) -> int:
    """Draw an integer seed (for torch, CatBoost, ...) from ``rng``."""
    return int(rng.integers(0, 2**31 - 1))


def progress(iterable: Iterable | None = None, **kwargs: Any):
    """Return a tqdm progress bar that respects ``sg.settings.verbosity``.

    Shown from the default verbosity on, but only once its work has run for ``delay`` seconds (2 by default), so
    that quick calls print nothing.
    """
    from tqdm.auto import tqdm

    kwargs.setdefault("disable", not settings.progress)
    kwargs.setdefault("delay", 2.0)
    return tqdm(iterable, **kwargs)


def to_memory(x):
    """``x`` whole, in memory: numpy or scipy sparse (from dask, a backed sparse dataset or an HDF5 / zarr array)."""
    import scipy.sparse as sp

    if x is None or isinstance(x, np.ndarray) or sp.issparse(x):
        return x
    if hasattr(x, "compute"):
        return x.compute()
    if hasattr(x, "to_memory"):
        return x.to_memory()
    return np.asarray(x[...])


def get_modality(data: AnnData | MuData, mod: str | None = None) -> AnnData:
    """Return the AnnData to work on: ``data`` itself or ``data[mod]`` for a MuData."""
    from anndata import AnnData

    if isinstance(data, AnnData):
        if mod is not None:
            msg = f"mod={mod!r} was given but the data is an AnnData, not a MuData."
            raise ValueError(msg)
        return data
    try:
        from mudata import MuData
    except ImportError:  # pragma: no cover
        MuData = ()
    if isinstance(data, MuData):
        if mod is None:
            msg = f"A MuData needs mod=; its modalities are {list(data.mod)}."
            raise ValueError(msg)
        if mod not in data.mod:
            msg = f"Modality {mod!r} not found; the MuData has {list(data.mod)}."
            raise ValueError(msg)
        return data.mod[mod]
    msg = f"Expected an AnnData or MuData, got {type(data).__name__}."
    raise TypeError(msg)


def pheno_table(mdata: MuData, pheno_mod: str, obs_names) -> pd.DataFrame:
    """Phenotypes of a MuData aligned by name to the genotype modality's ``obs_names``.

    The table is the ``pheno_mod`` modality's ``X`` columns (named by its ``var_names``) and ``obs``
    columns, or ``mdata.obs`` when there is no such modality. Rows are matched by individual id, never
    by position; individuals of the genotype modality without a phenotype row get missing values, and
    rows of the phenotype modality for individuals without genotypes are an error (rows of ``mdata.obs``
    for other modalities' individuals are left out).
    """
    import pandas as pd
    import scipy.sparse as sp

    from_modality = pheno_mod in mdata.mod
    pm = mdata.mod[pheno_mod] if from_modality else None
    tab = pm.obs.copy() if from_modality else mdata.obs.copy()
    if from_modality and pm.n_vars:
        Xp = pm.X.toarray() if sp.issparse(pm.X) else np.asarray(pm.X)
        for j, v in enumerate(pm.var_names):
            tab[str(v)] = Xp[:, j]
    if not tab.index.is_unique:
        dup = tab.index[tab.index.duplicated()].unique()[:5].tolist()
        msg = f"The phenotype table has duplicated individual ids, e.g. {dup}."
        raise ValueError(msg)
    names = pd.Index(obs_names).astype(str)
    tab.index = tab.index.astype(str)
    extra = tab.index.difference(names)
    if len(extra) and from_modality:  # mdata.obs spans every modality's individuals: only its genotyped rows count
        msg = (
            f"{len(extra)} phenotype row(s) have no genotypes (ids not in the genotype modality's obs_names), "
            f"e.g. {extra[:5].tolist()}; the modalities are matched by individual id."
        )
        raise ValueError(msg)
    return tab.reindex(names)


def geno_modality(data, mod: tuple[str, str] = ("geno", "pheno")) -> AnnData:
    """Return the genotype modality ``mod[0]`` of a MuData (clear errors for anything else)."""
    try:
        from mudata import MuData
    except ImportError:  # pragma: no cover
        MuData = ()
    if not isinstance(data, MuData):
        msg = f"Expected an AnnData or MuData, got {type(data).__name__}."
        raise TypeError(msg)
    if mod[0] not in data.mod:
        msg = f"MuData has no genotype modality {mod[0]!r}; modalities: {list(data.mod)}. Pass mod=(geno, pheno)."
        raise ValueError(msg)
    return data.mod[mod[0]]


def geno_view(data, mod: tuple[str, str] = ("geno", "pheno")):
    """Return the genotype AnnData of ``data`` with the phenotypes in ``obs`` (a light view for reading).

    An AnnData is returned as it is; for a MuData, the ``mod[0]`` modality's ``X`` and ``var`` with
    :func:`pheno_table` of ``mod[1]`` as ``obs``.
    """
    from anndata import AnnData

    if isinstance(data, AnnData):
        return data
    geno = geno_modality(data, mod)
    obs = pheno_table(data, mod[1], geno.obs_names)
    obs.index = geno.obs_names
    return AnnData(geno.X, obs=obs, var=geno.var, obsm=dict(geno.obsm), obsp=dict(geno.obsp), uns=dict(geno.uns))


__all__ = [
    "child_seed",
    "geno_modality",
    "geno_view",
    "get_modality",
    "get_rng",
    "pheno_table",
    "progress",
    "to_memory",
]

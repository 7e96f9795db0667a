"""Small helpers shared by all tools: random generators, progress bars, AnnData/MuData access."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ._settings import settings

if TYPE_CHECKING:
    from collections.abc import Iterable

    from anndata import AnnData
    from mudata import MuData


def get_rng(rng: int | np.random.Generator | None) -> np.random.Generator:
    """Return a :class:`numpy.random.Generator` from a seed, a generator or ``None``."""
    return np.random.default_rng(rng)


def child_seed(rng: np.random.Generator) -> int:
    """Draw an integer seed (for torch, CatBoost, ...) from ``rng``."""
    return int(rng.integers(0, 2**31 - 1))


def progress(iterable: Iterable | None = None, **kwargs: Any):
    """Return a tqdm progress bar that respects ``sg.settings.verbosity``."""
    from tqdm.auto import tqdm

    kwargs.setdefault("disable", not settings.progress)
    return tqdm(iterable, **kwargs)


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


__all__ = ["child_seed", "get_modality", "get_rng", "progress"]

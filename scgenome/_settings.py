"""Global settings: verbosity, threads, compute device and the data directory."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ._logging import logger

_LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO, 3: logging.DEBUG}


class ScgenomeSettings:
    """Package-wide settings, reachable as ``sg.settings``.

    Attributes
    ----------
    verbosity
        0 errors only (no progress bars), 1 warnings and progress bars of work that runs for more than 2 s
        (default), 2 info, 3 debug.
    n_jobs
        Threads for CatBoost and parallel folds; ``-1`` means all cores.
    device
        ``"auto"`` (a CUDA GPU when present, else CPU), ``"cpu"`` or ``"cuda"``.
    data_dir
        Folder of real data sets: ``$SCGENOME_DATA`` or else ``../shared/data``.
    """

    def __init__(self) -> None:
        self._verbosity = 1
        self.n_jobs: int = -1
        self.device: str = "auto"
        self._data_dir: Path | None = None
        self.verbosity = 1

    @property
    def verbosity(self) -> int:
        """Verbosity level (0-3)."""
        return self._verbosity

    @verbosity.setter
    def verbosity(self, value: int) -> None:
        if value not in _LEVELS:
            msg = f"verbosity must be one of {sorted(_LEVELS)}, got {value!r}."
            raise ValueError(msg)
        self._verbosity = int(value)
        logger.setLevel(_LEVELS[self._verbosity])

    @property
    def progress(self) -> bool:
        """Whether progress bars are shown (``verbosity >= 1``; each appears once its work has run for 2 s)."""
        return self._verbosity >= 1

    @property
    def data_dir(self) -> Path:
        """Folder with the real data sets (``$SCGENOME_DATA`` or ``../shared/data``)."""
        if self._data_dir is not None:
            return self._data_dir
        env = os.environ.get("SCGENOME_DATA")
        if env:
            return Path(env)
        here = Path.cwd().parent / "shared" / "data"
        if here.exists():
            return here
        # an editable install: ../shared/data beside the source checkout
        return Path(__file__).resolve().parents[2] / "shared" / "data"

    @data_dir.setter
    def data_dir(self, value: str | os.PathLike | None) -> None:
        self._data_dir = None if value is None else Path(value)

    @property
    def n_threads(self) -> int:
        """Number of threads that ``n_jobs`` stands for."""
        return os.cpu_count() or 1 if self.n_jobs in (-1, None) else max(1, int(self.n_jobs))

    def torch_device(self, device: str | None = None):
        """Resolve ``device`` (or the setting) to a :class:`torch.device`."""
        import torch

        device = device or self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as err:
            msg = f"device must be 'auto', 'cpu' or 'cuda' (or 'cuda:N'), got {device!r}."
            raise ValueError(msg) from err
        if dev.type == "cuda" and not torch.cuda.is_available():
            msg = "device='cuda' was asked for but torch sees no CUDA GPU; use device='auto' or 'cpu'."
            raise ValueError(msg)
        if dev.type not in ("cpu", "cuda"):
            msg = f"device must be 'auto', 'cpu' or 'cuda' (or 'cuda:N'), got {device!r}."
            raise ValueError(msg)
        return dev


settings = ScgenomeSettings()

__all__ = ["ScgenomeSettings", "settings"]

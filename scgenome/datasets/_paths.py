"""Where the real public data sets live (``$SCGENOME_DATA`` or else ``../shared/data``)."""

from __future__ import annotations

from pathlib import Path

from .._settings import settings


def data_path(name: str | None = None) -> Path:
    """Path to a real data set folder.

    Parameters
    ----------
    name
        Folder name, e.g. ``"mouse-hs1940"``; ``None`` gives the data directory itself.

    Returns
    -------
    The path (which may not exist; check with :meth:`~pathlib.Path.exists`). The directory is
    ``sg.settings.data_dir`` when set, else ``$SCGENOME_DATA``, else ``../shared/data`` relative to the
    working directory when it exists, else ``shared/data`` beside the source checkout (an editable install).

    Examples
    --------
    >>> import scgenome as sg
    >>> sg.datasets.data_path("mouse-hs1940").name
    'mouse-hs1940'
    """
    root = Path(settings.data_dir)
    return root if name is None else root / name


__all__ = ["data_path"]

"""What every plot does last: show it, or hand back the Axes or the Figure (scanpy's convention)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def finish(fig: Figure, axes: Any, *, show: bool | None, return_fig: bool) -> Any:
    """Return ``fig`` (``return_fig=True``), else show and return ``None``, else return ``axes``.

    ``show=None`` shows the figure only in an interactive matplotlib session (IPython, ``plt.ion()``),
    so scripts and notebooks with a non-interactive backend get the Axes back to save or adjust.
    """
    import matplotlib.pyplot as plt

    if return_fig:
        return fig
    if show is None:
        show = plt.isinteractive()
    if show:
        plt.show()
        return None
    return axes


__all__ = ["finish"]

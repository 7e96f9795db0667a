"""Legibility checks for saved figures (issue 25 §4): text >= 8 pt at the saved size, dpi >= 150.

``check_figure(fig)`` looks at what a figure draws; ``record_savefig(monkeypatch)`` records every
``Figure.savefig`` call (the figure and the dpi it was saved at) so that a test can check the figures
that code such as the demo writes and then closes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import matplotlib as mpl
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

if TYPE_CHECKING:
    import pytest

MIN_FONT_PT = 8.0
MIN_DPI = 150.0


def drawn_texts(fig: Figure) -> list[Text]:
    """Every visible, non-empty text artist the figure draws (tick labels, labels, titles, legends, annotations)."""
    fig.draw_without_rendering()  # creates the tick labels and the offset texts that will be drawn
    hidden = set()  # tick labels of ticks outside the view limits exist but are not drawn
    for ax in fig.axes:
        for axis in ax._axis_map.values():
            lo, hi = sorted(axis.get_view_interval())
            tol = 1e-9 * max(abs(lo), abs(hi), 1.0)
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not lo - tol <= tick.get_loc() <= hi + tol:
                    hidden |= {id(tick.label1), id(tick.label2)}
    out = []
    for t in fig.findobj(Text):
        if id(t) in hidden:
            continue
        if not t.get_visible() or not t.get_text().strip():
            continue
        if t.axes is not None and not t.axes.get_visible():
            continue
        out.append(t)
    return out


def check_figure(
    fig: Figure, *, dpi: float | None = None, min_pt: float = MIN_FONT_PT, min_dpi: float = MIN_DPI
) -> None:
    """Raise AssertionError naming each text under ``min_pt`` and a ``dpi`` under ``min_dpi``.

    Font sizes are in points at the figure's size, which is its saved size (``bbox_inches="tight"``
    crops, it does not scale). Also checks that no two texts of the figure overlap (labels written over
    each other are as unreadable as small ones).
    """
    problems = []
    if dpi is not None and dpi < min_dpi:
        problems.append(f"saved at dpi {dpi:g} < {min_dpi:g}")
    texts = drawn_texts(fig)
    for t in texts:
        if t.get_fontsize() < min_pt:
            problems.append(f"text {t.get_text()!r} at {t.get_fontsize():g} pt < {min_pt:g} pt")
    renderer = RendererAgg(fig.bbox.width, fig.bbox.height, fig.dpi)  # also for a Figure() without pyplot
    boxes = [(t, Text.get_window_extent(t, renderer)) for t in texts]  # an annotation's text, not its arrow
    for i, (t1, b1) in enumerate(boxes):
        for t2, b2 in boxes[i + 1 :]:
            inter = min(b1.x1, b2.x1) - max(b1.x0, b2.x0), min(b1.y1, b2.y1) - max(b1.y0, b2.y0)
            if inter[0] > 1 and inter[1] > 1:
                problems.append(f"texts {t1.get_text()!r} and {t2.get_text()!r} overlap")
    if problems:
        raise AssertionError("illegible figure: " + "; ".join(problems))


@dataclass
class Saved:
    """Figures saved while recording: the path, the dpi, and what was wrong with the figure at save time."""

    calls: list[tuple[str, float, str | None]] = field(default_factory=list)

    def check(self) -> None:
        """Fail with every problem found, naming the file."""
        assert self.calls, "no figure was saved"
        bad = [f"{path}: {problem}" for path, _, problem in self.calls if problem]
        assert not bad, "\n".join(bad)


def record_savefig(monkeypatch: pytest.MonkeyPatch) -> Saved:
    """Check every ``Figure.savefig`` while it is called (the figure as saved, at its dpi); returns the record."""
    saved = Saved()
    original = Figure.savefig

    def savefig(self, fname, *args, **kwargs):
        dpi = kwargs.get("dpi", mpl.rcParams["savefig.dpi"])
        dpi = float(self.dpi if dpi == "figure" else dpi)
        try:
            check_figure(self, dpi=dpi)
            problem = None
        except AssertionError as e:
            problem = str(e)
        saved.calls.append((str(fname), dpi, problem))
        return original(self, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return saved

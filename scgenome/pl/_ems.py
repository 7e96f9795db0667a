"""Plots of sc-EMS results: PR / ROC curves, feature importance, calibration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from ._utils import finish

if TYPE_CHECKING:
    from collections.abc import Sequence

    from anndata import AnnData
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from mudata import MuData


def _scored(data: AnnData | MuData | pd.DataFrame, key: str, mod: str | None = None) -> pd.DataFrame:
    """``label``, ``score``, ``calibrated``, ``chrom`` of labelled, scored variants."""
    if isinstance(data, pd.DataFrame):
        df = data.copy()
    else:
        from ..get._ems import ems_df

        df = ems_df(data, key, mod=mod)
    need = [c for c in ("label", "score") if c not in df.columns]
    if need:
        msg = f"Columns {need} missing; pass sg.get.ems_df(vdata) or the scored AnnData."
        raise ValueError(msg)
    df = df[df["label"].notna() & df["score"].notna()]
    if df.empty:
        msg = "No labelled, scored variants to plot."
        raise ValueError(msg)
    return df


def ems_curves(
    data: AnnData | MuData | pd.DataFrame,
    *,
    key: str = "ems",
    mod: str | None = None,
    kind: Literal["both", "pr", "roc"] = "both",
    per_chromosome: bool = True,
    ax: Axes | Sequence[Axes] | None = None,
    show: bool | None = None,
    return_fig: bool = False,
) -> list[Axes] | Figure | None:
    """Precision-recall and ROC curves of sc-EMS scores, pooled and per chromosome.

    Parameters
    ----------
    data
        AnnData scored by :func:`~scgenome.tl.ems_score`, or ``sg.get.ems_df(vdata)``.
    key
        ``key_added`` of the scores.
    mod
        Modality of a MuData scored with ``sg.tl.ems_score(mdata, mod=...)``.
    kind
        ``"both"`` (two panels), ``"pr"`` or ``"roc"``.
    per_chromosome
        Also draw one thin line per chromosome with both classes.
    ax
        Axes to draw into (two for ``"both"``).
    show
        Show the figure; ``None`` shows it only in interactive mode (``plt.isinteractive()``).
    return_fig
        Return the Figure instead of the Axes.

    Returns
    -------
    The list of Axes (PR first), the Figure with ``return_fig=True``, or ``None`` when shown.
    The pooled curve is labelled with its AP / AUC; the chance level (base rate, diagonal) is dashed; the
    thin grey lines, one per chromosome (per fold when the scores come from cross-validation folds) with
    both classes, have one legend entry with their number.

    Examples
    --------
    >>> import scgenome as sg
    >>> vdata = sg.datasets.simulate_variants(1500, 30, n_chromosomes=4, rng=0)
    >>> sg.tl.ems_score(vdata, preset="fast", rng=0, n_boot=0)
    >>> axes = sg.pl.ems_curves(vdata, show=False)
    >>> len(axes)
    2
    """
    import matplotlib.pyplot as plt

    from ..tl._ems._metrics import average_precision, curves, roc_auc

    df = _scored(data, key, mod)
    kinds = ["pr", "roc"] if kind == "both" else [kind]
    if kind not in ("both", "pr", "roc"):
        msg = f"kind must be 'both', 'pr' or 'roc', got {kind!r}."
        raise ValueError(msg)
    if ax is None:
        fig, axs = plt.subplots(1, len(kinds), figsize=(4.5 * len(kinds), 4.2), squeeze=False)
        axes = list(axs[0])
    else:
        axes = list(ax) if isinstance(ax, list | tuple | np.ndarray) else [ax]
        if len(axes) != len(kinds):
            msg = f"kind={kind!r} needs {len(kinds)} Axes, got {len(axes)}."
            raise ValueError(msg)
        fig = axes[0].figure
    y = df["label"].to_numpy().astype(bool)
    s = df["score"].to_numpy(dtype=float)
    chrom_col = "fold" if "fold" in df.columns and (df["fold"] != "model").any() else "chrom"
    groups = df[chrom_col].astype(str).to_numpy() if chrom_col in df.columns else None
    pooled = curves(y, s)
    loco = chrom_col == "fold" and "chrom" in df.columns and (df["fold"].astype(str) == df["chrom"].astype(str)).all()
    group_name = "fold" if chrom_col == "fold" and not loco else "chromosome"  # a LOCO fold is a chromosome
    drawable = (
        [g for g in pd.unique(groups) if 0 < y[groups == g].sum() < (groups == g).sum()]
        if per_chromosome and groups is not None
        else []
    )
    for a, k in zip(axes, kinds, strict=True):
        for n, g in enumerate(drawable):
            m = groups == g
            c = curves(y[m], s[m])
            xs, ys = (c["recall"], c["precision"]) if k == "pr" else (c["fpr"], c["tpr"])
            a.plot(
                xs,
                ys,
                color="0.75",
                lw=0.6,
                drawstyle="steps-post" if k == "pr" else "default",
                label=f"per {group_name} ({len(drawable)})" if n == 0 else f"_{group_name} {g}",
                gid=f"per_{group_name}",
            )
        if k == "pr":
            ap = average_precision(y, s)
            a.plot(pooled["recall"], pooled["precision"], color="C0", lw=2, label=f"pooled AP {ap:.3f}")
            a.axhline(y.mean(), color="k", ls="--", lw=0.8, label=f"base rate {y.mean():.3f}")
            a.set_xlabel("Recall")
            a.set_ylabel("Precision")
            a.set_title("Precision-recall")
        else:
            auc = roc_auc(y, s)
            a.plot(pooled["fpr"], pooled["tpr"], color="C1", lw=2, label=f"pooled AUC {auc:.3f}")
            a.plot([0, 1], [0, 1], color="k", ls="--", lw=0.8, label="chance")
            a.set_xlabel("False positive rate")
            a.set_ylabel("True positive rate")
            a.set_title("ROC")
        a.set_xlim(0, 1)
        a.set_ylim(0, 1.02)
        handles, names = a.get_legend_handles_labels()
        order = np.argsort([n.startswith("per ") for n in names], kind="stable")  # pooled and chance first
        a.legend(
            [handles[i] for i in order],
            [names[i] for i in order],
            loc="upper right" if k == "pr" else "lower right",
            fontsize=8,
            frameon=False,
        )
    fig.tight_layout()
    return finish(fig, axes, show=show, return_fig=return_fig)


def ems_importance(
    data: AnnData | MuData | pd.DataFrame,
    *,
    key: str = "ems",
    mod: str | None = None,
    n_top: int = 20,
    ax: Axes | None = None,
    show: bool | None = None,
    return_fig: bool = False,
) -> Axes | Figure | None:
    """Horizontal bars of the top features by CatBoost importance (averaged over folds).

    Parameters
    ----------
    data
        AnnData scored by :func:`~scgenome.tl.ems_score`, an :class:`~scgenome.tl.EMSModel`, or
        ``sg.get.ems_df(vdata, kind="importance")``.
    key
        ``key_added`` of the scores.
    mod
        Modality of a MuData scored with ``sg.tl.ems_score(mdata, mod=...)``.
    n_top
        Number of features shown.
    ax, show, return_fig
        As in :func:`ems_curves`.

    Returns
    -------
    The Axes (or Figure, or ``None`` when shown): one bar per feature, up-weighted features
    (weight > 1) in orange, the others in blue.

    Examples
    --------
    >>> import scgenome as sg
    >>> vdata = sg.datasets.simulate_variants(1500, 30, n_chromosomes=4, rng=0)
    >>> sg.tl.ems_score(vdata, preset="fast", rng=0, n_boot=0)
    >>> ax = sg.pl.ems_importance(vdata, n_top=10, show=False)
    >>> len(ax.patches)
    10
    """
    import matplotlib.pyplot as plt

    if isinstance(data, pd.DataFrame):
        df = data
    elif hasattr(data, "booster") and hasattr(data, "features"):
        df = pd.DataFrame(
            {
                "feature": data.features,
                "importance": data.importance,
                "weight": [data.feature_weights[f] for f in data.features],
            }
        )
    else:
        from ..get._ems import ems_df

        df = ems_df(data, key, kind="importance", mod=mod)
    df = df.dropna(subset=["importance"]).sort_values("importance", ascending=False).head(n_top)[::-1]
    if ax is None:
        fig, ax_ = plt.subplots(figsize=(5.5, 0.25 * len(df) + 1.2))
    else:
        ax_, fig = ax, ax.figure
    colors = np.where(df["weight"].to_numpy(dtype=float) > 1, "C1", "C0")
    ax_.barh(df["feature"].astype(str), df["importance"], color=colors)
    ax_.set_xlabel("Importance (PredictionValuesChange)")
    ax_.set_title("sc-EMS feature importance")
    from matplotlib.patches import Patch

    ax_.legend(
        handles=[Patch(color="C1", label="up-weighted"), Patch(color="C0", label="default weight")],
        loc="lower right",
        fontsize=8,
        frameon=False,
    )
    fig.tight_layout()
    return finish(fig, ax_, show=show, return_fig=return_fig)


def ems_calibration(
    data: AnnData | MuData | pd.DataFrame,
    *,
    key: str = "ems",
    mod: str | None = None,
    n_bins: int = 10,
    ax: Axes | None = None,
    show: bool | None = None,
    return_fig: bool = False,
) -> Axes | Figure | None:
    """Reliability diagram: observed positive fraction against the predicted probability.

    Parameters
    ----------
    data
        AnnData scored by :func:`~scgenome.tl.ems_score`, or ``sg.get.ems_df(vdata)``.
    key
        ``key_added`` of the scores.
    mod
        Modality of a MuData scored with ``sg.tl.ems_score(mdata, mod=...)``.
    n_bins
        Number of quantile bins of the prediction.
    ax, show, return_fig
        As in :func:`ems_curves`.

    Returns
    -------
    The Axes (or Figure, or ``None`` when shown), with one line of ``n_bins`` points for the
    calibrated probability (when present), one for the raw score, and the dashed diagonal (perfect
    calibration), each in the legend.

    Examples
    --------
    >>> import scgenome as sg
    >>> vdata = sg.datasets.simulate_variants(1500, 30, n_chromosomes=4, rng=0)
    >>> sg.tl.ems_score(vdata, preset="fast", rng=0, n_boot=0)
    >>> ax = sg.pl.ems_calibration(vdata, n_bins=5, show=False)
    >>> len(ax.lines)
    3
    """
    import matplotlib.pyplot as plt

    df = _scored(data, key, mod)
    if ax is None:
        fig, ax_ = plt.subplots(figsize=(4.5, 4.2))
    else:
        ax_, fig = ax, ax.figure
    y = df["label"].to_numpy(dtype=float)
    series = [("score", "raw score (balanced prior)", "C0")]
    if "calibrated" in df.columns and df["calibrated"].notna().all():
        series.insert(0, ("calibrated", "calibrated", "C3"))
    for col, lab, color in series:
        p = df[col].to_numpy(dtype=float)
        edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)))
        b = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(edges.size - 2, 0))
        xs = np.array([p[b == i].mean() for i in np.unique(b)])
        ys = np.array([y[b == i].mean() for i in np.unique(b)])
        ax_.plot(xs, ys, "o-", color=color, ms=4, label=lab)
    ax_.plot([0, 1], [0, 1], color="k", ls="--", lw=0.8, label="perfectly calibrated")
    ax_.set_xlabel("Predicted probability")
    ax_.set_ylabel("Observed positive fraction")
    ax_.set_title("Calibration")
    ax_.legend(loc="upper left", fontsize=8, frameon=False)
    fig.tight_layout()
    return finish(fig, ax_, show=show, return_fig=return_fig)


__all__ = ["ems_calibration", "ems_curves", "ems_importance"]

"""``sg.pl.synthesis_report``: figures of a synthesis report (reads ``uns``, never fits)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._utils import finish

if TYPE_CHECKING:
    from anndata import AnnData
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from mudata import MuData

_PANELS = ("af", "ld_decay", "pca", "privacy")
_TITLE_PT = 10.0


def _af_panel(a: Axes, af, fid) -> None:
    """Allele frequency of each SNP, synthetic against real, on axes that span the frequencies drawn."""
    x = af["af_real"].to_numpy(dtype=float)
    y = af["af_synthetic"].to_numpy(dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    a.scatter(x[ok], y[ok], s=4, alpha=0.5, linewidths=0, rasterized=ok.sum() > 100_000, label="SNP")
    lo = float(min(x[ok].min(), y[ok].min())) if ok.any() else 0.0
    hi = float(max(x[ok].max(), y[ok].max())) if ok.any() else 1.0
    pad = 0.03 * max(hi - lo, 0.01)
    lim = (max(lo - pad, 0.0 if lo >= 0 else lo - pad), hi + pad)
    a.plot(lim, lim, color="k", lw=0.8, label="y = x")
    a.set_xlim(lim)
    a.set_ylim(lim)
    a.set_aspect("equal", adjustable="box")
    a.set_xlabel("allele frequency, real (training)")
    a.set_ylabel("allele frequency, synthetic")
    a.set_title(f"allele frequencies: r = {fid['af_corr']:.3f}", fontsize=_TITLE_PT)
    a.legend(frameon=False, fontsize=8, loc="upper left", markerscale=2)


def _pca_panel(a: Axes, pca, fid) -> None:
    """Both cohorts on the real PCs; the title gives the stronger classifier AUC and names it."""
    for src, col in (("real", "C0"), ("synthetic", "C1")):
        d = pca[pca["source"] == src]
        a.scatter(d["PC1"], d["PC2"], s=5, alpha=0.45, linewidths=0, color=col, label=src)
    a.set_xlabel("PC1 (real)")
    a.set_ylabel("PC2 (real)")
    aucs = {"logistic": fid.get("classifier_auc", np.nan), "k-NN": fid.get("classifier_auc_knn", np.nan)}
    known = {k: float(v) for k, v in aucs.items() if np.isfinite(v)}  # reports written before k-NN lack it
    if known:
        best = max(known, key=known.get)
        rest = "".join(f"; {k} {v:.2f}" for k, v in known.items() if k != best)
        title = f"real vs synthetic AUC {known[best]:.2f} ({best}{rest})"
    else:
        title = "real vs synthetic classifier AUC: n/a"
    a.set_title(title, fontsize=_TITLE_PT)
    a.legend(frameon=False, fontsize=8, markerscale=2)


def _privacy_panel(a: Axes, rep) -> None:
    """Distance to the closest record; the title gives the membership-inference AUCs or what they need."""
    dist = rep["distances"]
    priv = rep["privacy"]["value"]
    d = dist["distance"].to_numpy(dtype=float)
    bins = np.linspace(d.min() * 0.95, d.max() * 1.02, 40)
    for kind in dict.fromkeys(dist["kind"]):
        a.hist(
            dist.loc[dist["kind"] == kind, "distance"],
            bins=bins,
            histtype="step",
            density=True,
            label=kind,
        )
    a.axvline(priv["real_nn_dist_p05"], color="k", ls=":", label="real->real NN 5%")
    a.set_xlabel("distance to closest record")
    a.set_ylabel("density")
    nn, win = priv.get("mia_auc_nn", np.nan), priv.get("mia_auc_window", np.nan)
    if not np.isfinite(nn) and not np.isfinite(win):
        title = "membership inference needs holdout="
    else:
        parts = [f"NN {nn:.2f}" if np.isfinite(nn) else "", f"windows {win:.2f}" if np.isfinite(win) else ""]
        title = "membership-inference AUC: " + ", ".join(p for p in parts if p)
    a.set_title(title, fontsize=_TITLE_PT)
    a.legend(frameon=False, fontsize=8, loc="upper left", title="nearest record", title_fontsize=8)


def synthesis_report(
    synthetic: AnnData | MuData,
    *,
    key: str = "synthesis_report",
    mod: str = "geno",
    panels: tuple[str, ...] = _PANELS,
    ax: Axes | np.ndarray | None = None,
    show: bool | None = None,
    return_fig: bool = False,
) -> Figure | np.ndarray | None:
    """Plot a synthesis report: allele-frequency scatter, LD decay, PCA overlay, privacy distances.

    Parameters
    ----------
    synthetic
        AnnData holding ``uns[key]`` from :func:`scgenome.tl.synthesis_report`, or the synthetic MuData
        (the report is in its genotype modality's ``uns``).
    key
        Key of the report in ``uns``.
    mod
        Genotype modality of a MuData.
    panels
        Panels to draw, in order, from ``"af"``, ``"ld_decay"``, ``"pca"``, ``"privacy"``.
    ax
        Axes to draw into (one per panel: an Axes for one panel, a sequence for several); default a new
        figure with the panels in rows of two (4.6 x 3.9 inches each). The caller's figure layout is left alone.
    show
        Show the figure; ``None`` shows it only in interactive mode (``plt.isinteractive()``).
    return_fig
        Return the Figure instead of the Axes.

    Returns
    -------
    The array of Axes, one per panel in order (the Axes itself when one was passed), the Figure with
    ``return_fig=True``, or ``None`` when shown. The AF panel's axes span the allele frequencies drawn. The
    PCA panel's title gives the stronger of the two real-vs-synthetic classifier AUCs (``classifier_auc``,
    logistic; ``classifier_auc_knn``, k-NN) and names it, with the other beside it. The privacy panel's title
    gives the membership-inference AUCs, or says that they need ``holdout=`` when the report has none; its
    legend names the distances to the closest record: ``syn->train`` (each synthetic individual to its
    closest training individual), ``syn->holdout`` (to its closest holdout individual, with a holdout),
    ``real->real`` (each training individual to its closest other one) and the 5th percentile of the last.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import scgenome as sg
    >>> real = sg.datasets.simulate_cohort(n_individuals=200, n_snps=300, rng=0)
    >>> syn = sg.tl.synthesize(real[:150].copy(), phenotypes="pheno", n_states=8, n_iter=3, rng=0)
    >>> _ = sg.tl.synthesis_report(real, syn, phenotype="pheno", holdout=real.obs_names[150:], n_subsamples=2)
    >>> axes = sg.pl.synthesis_report(syn, show=False)
    >>> len(axes)
    4
    """
    import matplotlib.pyplot as plt
    from anndata import AnnData

    from .._utils import get_modality

    if not isinstance(synthetic, AnnData):
        synthetic = get_modality(synthetic, mod)
    if key not in synthetic.uns:
        msg = f"No synthesis report at uns[{key!r}]; run sg.tl.synthesis_report first."
        raise ValueError(msg)
    bad = [p for p in panels if p not in _PANELS]
    if bad:
        msg = f"Unknown panel(s) {bad}; choose from {list(_PANELS)}."
        raise ValueError(msg)
    rep = synthetic.uns[key]
    single = ax is not None and not isinstance(ax, list | tuple | np.ndarray)
    if ax is None:
        ncols = min(2, len(panels))
        nrows = -(-len(panels) // ncols)
        fig, grid = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.9 * nrows), squeeze=False)
        for extra in grid.ravel()[len(panels) :]:
            extra.remove()
        axes = grid.ravel()[: len(panels)]
    else:
        axes = np.atleast_1d(ax)
        if len(axes) != len(panels):
            msg = f"Got {len(axes)} axes for {len(panels)} panels."
            raise ValueError(msg)
        fig = axes[0].figure
    fid = rep["fidelity"]["value"]
    for a, panel in zip(axes, panels, strict=True):
        if panel == "af":
            _af_panel(a, rep["af"], fid)
        elif panel == "ld_decay":
            ld = rep["ld_decay"]
            a.plot(ld["distance"] / 1e3, ld["r2_real"], "o-", ms=4, label="real")
            a.plot(ld["distance"] / 1e3, ld["r2_synthetic"], "s--", ms=4, label="synthetic")
            a.set_xlabel("distance (kb)")
            a.set_ylabel("mean LD r$^2$")
            a.set_title(f"LD decay: r$^2$ corr = {fid['ld_r2_corr']:.3f}", fontsize=_TITLE_PT)
            a.legend(frameon=False, fontsize=8)
        elif panel == "pca":
            _pca_panel(a, rep["pca"], fid)
        elif panel == "privacy":
            _privacy_panel(a, rep)
    if ax is None:
        fig.tight_layout()
    return finish(fig, axes[0] if single else axes, show=show, return_fig=return_fig)


__all__ = ["synthesis_report"]

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
        figure with one row of panels. The caller's figure layout is left alone.
    show
        Show the figure; ``None`` shows it only in interactive mode (``plt.isinteractive()``).
    return_fig
        Return the Figure instead of the Axes.

    Returns
    -------
    The array of Axes (the Axes itself when one was passed), the Figure with ``return_fig=True``, or
    ``None`` when shown. The PCA panel's title gives the logistic and k-NN classifier AUCs.

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
        fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), squeeze=False)
        axes = axes[0]
    else:
        axes = np.atleast_1d(ax)
        if len(axes) != len(panels):
            msg = f"Got {len(axes)} axes for {len(panels)} panels."
            raise ValueError(msg)
        fig = axes[0].figure
    fid = rep["fidelity"]["value"]
    for a, panel in zip(axes, panels, strict=True):
        if panel == "af":
            af = rep["af"]
            a.scatter(af["af_real"], af["af_synthetic"], s=3, alpha=0.4, rasterized=len(af) > 100_000)
            a.plot([0, 1], [0, 1], color="k", lw=0.8)
            a.set_xlabel("allele frequency, real (training)")
            a.set_ylabel("allele frequency, synthetic")
            a.set_title(f"AF r = {fid['af_corr']:.3f}")
        elif panel == "ld_decay":
            ld = rep["ld_decay"]
            a.plot(ld["distance"] / 1e3, ld["r2_real"], "o-", label="real")
            a.plot(ld["distance"] / 1e3, ld["r2_synthetic"], "s--", label="synthetic")
            a.set_xlabel("distance (kb)")
            a.set_ylabel("mean LD r$^2$")
            a.set_title(f"LD r$^2$ corr = {fid['ld_r2_corr']:.3f}")
            a.legend(frameon=False)
        elif panel == "pca":
            pca = rep["pca"]
            for src, col in (("real", "C0"), ("synthetic", "C1")):
                d = pca[pca["source"] == src]
                a.scatter(d["PC1"], d["PC2"], s=4, alpha=0.4, color=col, label=src)
            a.set_xlabel("PC1 (real)")
            a.set_ylabel("PC2 (real)")
            knn = fid.get("classifier_auc_knn", np.nan)  # reports written before it was added lack it
            a.set_title(f"classifier AUC = {fid['classifier_auc']:.2f} (k-NN {knn:.2f})")
            a.legend(frameon=False, markerscale=3)
        elif panel == "privacy":
            dist = rep["distances"]
            priv = rep["privacy"]["value"]
            bins = np.linspace(dist["distance"].min() * 0.95, dist["distance"].max() * 1.02, 40)
            for kind in dict.fromkeys(dist["kind"]):
                a.hist(dist.loc[dist["kind"] == kind, "distance"], bins=bins, histtype="step", density=True, label=kind)
            a.axvline(priv["real_nn_dist_p05"], color="k", ls=":", label="real-real NN 5%")
            a.set_xlabel("distance to closest record")
            a.set_ylabel("density")
            a.set_title(f"MIA AUC (NN) = {priv['mia_auc_nn']:.2f}")
            a.legend(frameon=False, fontsize=7)
    if ax is None:
        fig.tight_layout()
    return finish(fig, axes[0] if single else axes, show=show, return_fig=return_fig)


__all__ = ["synthesis_report"]

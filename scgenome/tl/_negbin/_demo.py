"""``scgenome demo`` step for the count models: simulate, fit, predict, sample, plot, tabulate."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pathlib import Path


def step(outdir: Path, rng: np.random.Generator) -> list[str]:
    """Simulate NB counts with covariates, fit, predict, sample; write a figure and a table."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    import scgenome as sg

    formulas = {"mean": "~ x + batch", "dispersion": "~ 1"}
    adata = sg.datasets.simulate_counts(3_000, 60, formulas=formulas, log_mean=(1.0, 1.0), rng=rng)
    truth = adata.varm["true_mean"].assign(gamma=adata.varm["true_dispersion"]["Intercept"])
    sg.tl.negbin_fit(adata, formulas)
    beta = sg.get.negbin_params(adata)["beta"].T
    gamma = adata.varm["negbin_dispersion"]["Intercept"]
    pred = sg.tl.negbin_predict(adata, pd.DataFrame({"x": [0.0, 0.0], "batch": ["b1", "b2"]}, index=["b1", "b2"]))
    sim = sg.tl.negbin_sample(adata, rng=rng)
    y = adata.X.toarray()
    s = sim.X.toarray()
    table = sg.get.negbin_df(adata, "x")
    table["true"] = truth["x"]
    table.to_csv(outdir / "negbin_x_wald.csv")

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
    for col, marker in zip(["Intercept", "x", "batch[T.b2]"], "os^", strict=True):
        axes[0].scatter(truth[col], beta[col], s=12, marker=marker, label=col)
    lim = [min(truth.iloc[:, :3].min()), max(truth.iloc[:, :3].max())]
    axes[0].plot(lim, lim, color="grey", lw=1, label="y = x")
    axes[0].set(xlabel="true coefficient", ylabel="estimate", title="negbin_fit recovers beta")
    axes[0].legend(fontsize=8)
    axes[1].scatter(y.var(0), s.var(0), s=12, label="gene")
    axes[1].set(xscale="log", yscale="log", xlabel="observed variance", ylabel="sampled variance")
    axes[1].plot(axes[1].get_xlim(), axes[1].get_xlim(), color="grey", lw=1, label="y = x")
    axes[1].set_title("negbin_sample")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(outdir / "negbin.png", dpi=150)
    plt.close(fig)

    mae_b = float(np.abs(beta.to_numpy() - truth.iloc[:, :3].to_numpy()).mean())
    mae_g = float(np.abs(gamma.to_numpy() - truth["gamma"].to_numpy()).mean())
    cover = float((np.abs(table["estimate"] - table["true"]) <= 1.96 * table["se"]).mean())
    return [
        f"fit {adata.n_vars} genes x {adata.n_obs} cells (mean ~ x + batch): "
        f"{int(adata.var['negbin_converged'].sum())} converged",
        f"MAE beta {mae_b:.4f}, MAE gamma {mae_g:.4f}, 95% CI coverage of x {cover:.2f}",
        f"predicted mean of gene0 at x=0: b1 {pred['mean'].iloc[0, 0]:.2f}, b2 {pred['mean'].iloc[1, 0]:.2f}",
        f"sampled {sim.n_obs} x {sim.n_vars} counts; median |rel. error| of gene means "
        f"{np.median(np.abs(s.mean(0) - y.mean(0)) / y.mean(0)):.3f}",
        "wrote negbin.png, negbin_x_wald.csv",
    ]

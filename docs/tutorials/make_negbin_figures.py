"""Write the figures (and the numbers) of docs/tutorials/negbin.md into docs/tutorials/figures/."""

from __future__ import annotations

import json
from pathlib import Path

import anndata as ad
import matplotlib as mpl
import matplotlib.ticker
import numpy as np
import pandas as pd

mpl.use("Agg")
import matplotlib.pyplot as plt

import scgenome as sg

OUT = Path(__file__).resolve().parent / "figures"


def seed_experiment(n: int = 10_000, g: int = 20):
    np.random.seed(0)  # noqa: NPY002 - the seed notebook uses the legacy global seed
    x1 = np.random.normal(size=(n, 2))  # noqa: NPY002
    x2 = np.random.normal(size=(n, 2))  # noqa: NPY002
    b = np.random.normal(size=(2, g))  # noqa: NPY002
    d = np.random.normal(size=(2, g))  # noqa: NPY002
    mu, r = np.exp(x1 @ b), np.exp(x2 @ d)
    y = np.random.negative_binomial(r, r / (r + mu))  # noqa: NPY002
    obs = pd.DataFrame(
        {"mean_dim0": x1[:, 0], "mean_dim1": x1[:, 1], "dispersion_dim0": x2[:, 0], "dispersion_dim1": x2[:, 1]},
        index=[f"cell{i}" for i in range(n)],
    )
    return ad.AnnData(y.astype(np.float32), obs=obs), b, d


def main() -> None:
    OUT.mkdir(exist_ok=True)
    numbers = {}
    adata, b, d = seed_experiment()
    sg.tl.negbin_fit(
        adata, {"mean": "~ mean_dim0 + mean_dim1 - 1", "dispersion": "~ dispersion_dim0 + dispersion_dim1 - 1"}
    )
    p = sg.get.negbin_params(adata)
    numbers["seed_mae_beta"] = float(np.abs(p["beta"].to_numpy() - b).mean())
    numbers["seed_mae_gamma"] = float(np.abs(p["gamma"].to_numpy() - d).mean())
    numbers["seed_converged"] = int(adata.var["negbin_converged"].sum())
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.3))
    for ax, est, true, name in ((axes[0], p["beta"], b, "beta"), (axes[1], p["gamma"], d, "gamma")):
        ax.scatter(true.ravel(), est.to_numpy().ravel(), s=14, label="coefficient")
        lim = [true.min() - 0.2, true.max() + 0.2]
        ax.plot(lim, lim, color="grey", lw=1, label="y = x")
        ax.legend(fontsize=8, loc="upper left", frameon=False)
        ax.set(
            xlabel=f"true {name}", ylabel=f"estimated {name}", title=f"{name}: MAE {numbers[f'seed_mae_{name}']:.4f}"
        )
    fig.tight_layout()
    fig.savefig(OUT / "negbin_seed_recovery.png", dpi=150)
    plt.close(fig)

    pb = ad.read_h5ad(sg.datasets.data_path("pbmc3k") / "pbmc3k_top100.h5ad")
    sg.tl.negbin_fit(pb, {"mean": "~ log_total_counts", "dispersion": "~ 1"}, layer="counts")
    numbers["pbmc_converged"] = f"{int(pb.var['negbin_converged'].sum())}/{pb.n_vars}"
    pred = sg.tl.negbin_predict(pb)["mean"]
    sim = sg.tl.negbin_sample(pb, rng=0)
    y = pb.layers["counts"].toarray()
    s = sim.X.toarray()
    numbers["pbmc_median_rel_mean"] = float(np.median(np.abs(s.mean(0) - y.mean(0)) / y.mean(0)))
    numbers["pbmc_median_rel_var"] = float(np.median(np.abs(s.var(0) - y.var(0)) / y.var(0)))
    gene = "LYZ"
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
    axes[0].scatter(pb.obs["log_total_counts"], y[:, pb.var_names.get_loc(gene)], s=3, alpha=0.4, label="observed")
    order = np.argsort(pb.obs["log_total_counts"].to_numpy())
    axes[0].plot(pb.obs["log_total_counts"].to_numpy()[order], pred[gene].to_numpy()[order], color="C3", label="fit")
    axes[0].set(xlabel="log total counts", ylabel=f"{gene} UMIs", title=f"{gene}: predicted mean")
    axes[0].legend(fontsize=8)
    for ax, f, name in ((axes[1], np.mean, "mean"), (axes[2], np.var, "variance")):
        ax.scatter(f(y, axis=0), f(s, axis=0), s=10, label="gene")
        ax.set(xscale="log", yscale="log", xlabel=f"observed {name}", ylabel=f"sampled {name}")
        ax.plot(ax.get_xlim(), ax.get_xlim(), color="grey", lw=1, label="y = x")
        ax.legend(fontsize=8, loc="upper left", frameon=False)
        ax.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())
        ax.yaxis.set_minor_formatter(mpl.ticker.NullFormatter())
        ax.set_title(f"per-gene {name}")
    fig.tight_layout()
    fig.savefig(OUT / "negbin_pbmc3k.png", dpi=150)
    plt.close(fig)
    print(json.dumps(numbers, indent=1))


if __name__ == "__main__":
    main()

"""Benchmark: ``sg.tl.negbin_fit`` standard errors vs MASS::glm.nb on pbmc3k genes.

Run from the repository root (needs ``Rscript`` with MASS: Debian ``r-base-core r-cran-mass``)::

    python benchmarks/negbin_vs_mass.py                 # 300 genes (about 3 minutes of glm.nb)
    python benchmarks/negbin_vs_mass.py --genes 200 --seed 1

Model, the same on both sides: ``y ~ pct_counts_mt + offset(log(sizeFactor))``, one NB size per gene.
Genes: drawn at random (``--seed``) among the pbmc3k genes with counts in at least ``--min-cells`` cells
whose scgenome fit has ``status == "ok"`` (genes whose NB size is at its bound have no finite MLE of
theta: MASS stops at its iteration limit there). MASS runs with ``glm.control(epsilon = 1e-12, maxit = 200)``.
Prints the largest relative differences of the MLE, of the ``information="expected"`` and
``information="observed"`` mean standard errors against MASS's ``summary()`` ones, of SE(log theta)
against MASS's information at its final estimates and against its reported ``SE.theta``, and the
number of genes whose BH call at 0.05 for ``pct_counts_mt`` differs between the two informations.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from scipy import stats

import scgenome as sg

MASS_SCRIPT = Path(__file__).with_name("mass_glm_nb.R")
FORMULAS = {"mean": "~ pct_counts_mt", "dispersion": "~ 1"}


def _bh_calls(est: np.ndarray, se: np.ndarray) -> np.ndarray:
    p = 2 * stats.norm.sf(np.abs(est / se))
    return stats.false_discovery_control(p, method="bh") < 0.05


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genes", type=int, default=300)
    ap.add_argument("--min-cells", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rscript = shutil.which("Rscript")
    if rscript is None:
        msg = "Rscript not found: install r-base-core and r-cran-mass"
        raise SystemExit(msg)
    raw = ad.read_h5ad(sg.datasets.data_path("pbmc3k") / "pbmc3k_raw.h5ad")
    n_cells = np.asarray((raw.X > 0).sum(0)).ravel()
    pool = np.flatnonzero(n_cells >= args.min_cells)
    rng = np.random.default_rng(args.seed)
    pick = np.sort(rng.choice(pool, min(args.genes * 12 // 10, pool.size), replace=False))
    adata = raw[:, pick].copy()
    kw = {"size_factors": "sizeFactor"}
    sg.tl.negbin_fit(adata, FORMULAS, **kw)
    obs = sg.tl.negbin_fit(adata, FORMULAS, information="observed", copy=True, key_added="obs", **kw)
    ok = np.flatnonzero((adata.var["negbin_status"] == "ok").to_numpy())[: args.genes]
    print(f"{ok.size} genes (status ok) of {pick.size} drawn; {(adata.var['negbin_status'] != 'ok').sum()} flagged")
    y = adata.X[:, ok].toarray()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        frame = pd.DataFrame(
            {"cov": adata.obs["pct_counts_mt"].to_numpy(), "off": np.log(adata.obs["sizeFactor"].to_numpy())}
            | {f"gene_{j}": y[:, j] for j in range(ok.size)}
        )
        frame.to_csv(tmp / "in.csv", index=False, float_format="%.17g")
        subprocess.run([rscript, str(MASS_SCRIPT), str(tmp / "in.csv"), str(tmp / "out.csv")], check=True)
        mass = pd.read_csv(tmp / "out.csv")
    done = mass["b0"].notna().to_numpy()
    print(
        f"MASS::glm.nb failed on {(~done).sum()} gene(s) (its theta alternation breaks down); compared on {done.sum()}"
    )
    ok, mass = ok[done], mass[done].reset_index(drop=True)
    beta = adata.varm["negbin_mean"].to_numpy()[ok]
    se_exp = adata.varm["negbin_mean_se"].to_numpy()[ok]
    se_obs = obs.varm["obs_mean_se"].to_numpy()[ok]
    r = np.exp(adata.varm["negbin_dispersion"]["Intercept"].to_numpy()[ok])
    se_lr = adata.varm["negbin_dispersion_se"]["Intercept"].to_numpy()[ok]
    m_beta, m_se = mass[["b0", "b1"]].to_numpy(), mass[["se0", "se1"]].to_numpy()

    def rel(a, b):
        return float(np.max(np.abs(a / b - 1)))

    print(f"max |beta - MASS| (absolute)                        {np.abs(beta - m_beta).max():.3g}")
    print(f"max rel. diff. theta vs MASS                        {rel(r, mass['theta'].to_numpy()):.3g}")
    print(f"max rel. diff. mean SE, information='expected'      {rel(se_exp, m_se):.3g}")
    print(f"median rel. diff. mean SE, information='expected'   {float(np.median(np.abs(se_exp / m_se - 1))):.3g}")
    print(f"max rel. diff. mean SE, information='observed'      {rel(se_obs, m_se):.3g}")
    print(f"median rel. diff. mean SE, information='observed'   {float(np.median(np.abs(se_obs / m_se - 1))):.3g}")
    print(
        f"max rel. diff. SE(log theta) vs MASS final info     {rel(se_lr, mass['se_theta_final'].to_numpy() / r):.3g}"
    )
    print(f"max rel. diff. SE(log theta) vs MASS SE.theta       {rel(se_lr, mass['se_theta'].to_numpy() / r):.3g}")
    calls_e, calls_o = _bh_calls(beta[:, 1], se_exp[:, 1]), _bh_calls(beta[:, 1], se_obs[:, 1])
    calls_m = _bh_calls(m_beta[:, 1], m_se[:, 1])
    print(f"BH 0.05 calls for pct_counts_mt: expected {calls_e.sum()}, observed {calls_o.sum()}, MASS {calls_m.sum()}")
    print(
        f"genes called differently: expected vs MASS {(calls_e != calls_m).sum()}, observed vs MASS "
        f"{(calls_o != calls_m).sum()}"
    )


if __name__ == "__main__":
    main()

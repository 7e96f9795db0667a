"""``sg.datasets.simulate_counts``: cells x genes negative-binomial counts with known coefficients."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._utils import get_rng

if TYPE_CHECKING:
    from anndata import AnnData


def _simulated_obs(n_cells: int, n_batches: int, rng: np.random.Generator) -> pd.DataFrame:
    """Cell covariates: ``pseudotime`` in [0, 1], a standard normal ``x``, a categorical ``batch``."""
    batches = [f"b{i + 1}" for i in range(n_batches)]
    return pd.DataFrame(
        {
            "pseudotime": rng.uniform(0.0, 1.0, n_cells),
            "x": rng.normal(size=n_cells),
            "batch": pd.Categorical(rng.choice(batches, n_cells), categories=batches),
        },
        index=[f"cell{i}" for i in range(n_cells)],
    )


def _design(obs: pd.DataFrame, formula: str, what: str) -> pd.DataFrame:
    """Build the formulaic model matrix of ``formula`` over ``obs`` (the columns ``negbin_fit`` names)."""
    import formulaic

    if not isinstance(formula, str) or "~" not in formula:
        msg = f"The {what} formula must be a string such as '~ 1' or '~ x + batch', got {formula!r}."
        raise ValueError(msg)
    try:
        mm = formulaic.model_matrix(formula, obs)
    except Exception as err:  # formulaic raises several types for unknown columns and bad syntax
        msg = (
            f"Could not build the {what} formula {formula!r} over the cell covariates "
            f"(columns {list(obs.columns)}): {err}"
        )
        raise ValueError(msg) from err
    return pd.DataFrame(np.asarray(mm, dtype=np.float64), index=obs.index, columns=[str(c) for c in mm.columns])


def _coefficients(
    columns: list[str], n_genes: int, intercept: tuple[float, float], effect_sd: float, rng: np.random.Generator
) -> np.ndarray:
    """Genes x terms coefficients: the ``Intercept`` from ``N(*intercept)``, every other term from ``N(0, effect_sd)``."""
    coef = rng.normal(0.0, effect_sd, size=(n_genes, len(columns)))
    if "Intercept" in columns:
        coef[:, columns.index("Intercept")] = rng.normal(intercept[0], intercept[1], n_genes)
    return coef


def simulate_counts(
    n_cells: int = 2000,
    n_genes: int = 100,
    *,
    formulas: dict[str, str] | None = None,
    obs: pd.DataFrame | None = None,
    n_batches: int = 2,
    log_mean: tuple[float, float] = (0.5, 1.0),
    log_size: tuple[float, float] = (0.5, 0.5),
    effect_sd: float = 0.5,
    size_factors: bool = False,
    rng: int | np.random.Generator | None = None,
) -> AnnData:
    """Simulate cells x genes negative-binomial counts from known per-gene regressions.

    The model is the one :func:`scgenome.tl.negbin_fit` fits: for gene ``g`` and cell ``i``,
    ``mu_ig = s_i exp(x_i' beta_g)`` and NB size ``r_ig = exp(z_i' gamma_g)`` (``Var = mu + mu^2 / r``), with
    ``x_i`` and ``z_i`` the design rows of the mean and dispersion formulas. Fitting the same formulas to the
    output recovers ``beta`` and ``gamma`` (stored as the truth) up to sampling noise.

    Parameters
    ----------
    n_cells
        Number of cells (rows).
    n_genes
        Number of genes (columns).
    formulas
        ``{"mean": ..., "dispersion": ...}`` formulaic formulas over the cell covariates; the default
        ``{"mean": "~ pseudotime + batch", "dispersion": "~ 1"}``. A missing ``"dispersion"`` is ``"~ 1"``.
    obs
        Cell covariates to use instead of the simulated ones (one row per cell; its index names the cells).
        ``None`` simulates ``pseudotime`` (uniform on [0, 1]), ``x`` (standard normal) and ``batch``
        (``n_batches`` equally likely levels ``b1``, ``b2``, ...).
    n_batches
        Levels of the simulated ``batch`` column (at least 1).
    log_mean
        Mean and SD of the genes' mean-formula intercepts (log scale): ``(0.5, 1.0)`` gives typical means of
        about 0.2 to 12 counts per cell, a range like droplet UMI data after gene filtering.
    log_size
        Mean and SD of the genes' dispersion-formula intercepts (log NB size ``r``; smaller is more overdispersed).
    effect_sd
        SD of every other coefficient (covariate effects on the log mean or the log size).
    size_factors
        Draw per-cell size factors (log-normal, SD 0.3, normalised to mean 1) into ``obs["size_factor"]`` and
        multiply the means by them; fit with ``negbin_fit(..., size_factors="size_factor")``.
    rng
        Seed or generator; the same seed gives the same counts.

    Returns
    -------
    AnnData (cells x genes) with

    ``X``
        the counts, a CSR matrix of float32 whole numbers.
    ``obs``
        the cell covariates (and ``size_factor`` when drawn).
    ``varm["true_mean"]``, ``varm["true_dispersion"]``
        genes x terms DataFrames of the true ``beta`` and ``gamma``, with the columns ``negbin_fit`` writes for
        the same formulas (``varm["negbin_mean"]``, ``varm["negbin_dispersion"]``).
    ``uns["simulation"]``
        ``formulas`` and the settings (``log_mean``, ``log_size``, ``effect_sd``, ``size_factors``).

    Examples
    --------
    >>> import scgenome as sg
    >>> adata = sg.datasets.simulate_counts(500, 20, rng=0)
    >>> adata.shape
    (500, 20)
    >>> list(adata.varm["true_mean"].columns)
    ['Intercept', 'pseudotime', 'batch[T.b2]']
    """
    import anndata as ad
    import scipy.sparse as sp

    rng = get_rng(rng)
    for name, value in (("n_cells", n_cells), ("n_genes", n_genes), ("n_batches", n_batches)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            msg = f"{name} must be a positive integer, got {value!r}."
            raise ValueError(msg)
    if not (np.isfinite(effect_sd) and effect_sd >= 0):
        msg = f"effect_sd must be a non-negative number, got {effect_sd!r}."
        raise ValueError(msg)
    formulas = {"mean": "~ pseudotime + batch", "dispersion": "~ 1"} if formulas is None else dict(formulas)
    unknown = set(formulas) - {"mean", "dispersion"}
    if unknown or "mean" not in formulas:
        msg = f"formulas needs a 'mean' formula and may have a 'dispersion' one; got keys {sorted(formulas)}."
        raise ValueError(msg)
    formulas.setdefault("dispersion", "~ 1")
    if obs is None:
        obs = _simulated_obs(int(n_cells), int(n_batches), rng)
    elif len(obs) != n_cells:
        msg = f"obs has {len(obs)} rows but n_cells is {n_cells}; give one row per cell."
        raise ValueError(msg)
    else:
        obs = obs.copy()
    x_mean = _design(obs, formulas["mean"], "mean")
    x_disp = _design(obs, formulas["dispersion"], "dispersion")
    beta = _coefficients(list(x_mean.columns), int(n_genes), log_mean, effect_sd, rng)
    gamma = _coefficients(list(x_disp.columns), int(n_genes), log_size, effect_sd, rng)
    eta = x_mean.to_numpy() @ beta.T
    if size_factors:
        sf = np.exp(rng.normal(0.0, 0.3, int(n_cells)))
        obs["size_factor"] = sf / sf.mean()
        eta = eta + np.log(obs["size_factor"].to_numpy())[:, None]
    mu = np.exp(eta)
    r = np.exp(x_disp.to_numpy() @ gamma.T)
    counts = rng.negative_binomial(r, r / (r + mu))

    adata = ad.AnnData(sp.csr_matrix(counts.astype(np.float32)), obs=obs)
    adata.var_names = [f"gene{j}" for j in range(int(n_genes))]
    adata.varm["true_mean"] = pd.DataFrame(beta, index=adata.var_names, columns=x_mean.columns)
    adata.varm["true_dispersion"] = pd.DataFrame(gamma, index=adata.var_names, columns=x_disp.columns)
    adata.uns["simulation"] = {
        "formulas": formulas,
        "log_mean": list(log_mean),
        "log_size": list(log_size),
        "effect_sd": float(effect_sd),
        "size_factors": bool(size_factors),
    }
    return adata

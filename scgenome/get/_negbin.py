"""Tidy accessors for :func:`scgenome.tl.negbin_fit` results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from anndata import AnnData

_NAMES = {"mean": "beta", "dispersion": "gamma", "zero_inflation": "zeta"}


def _check(adata: AnnData, key: str) -> None:
    if key not in adata.uns or f"{key}_mean" not in adata.varm:
        msg = f"No count model under key {key!r}; run sg.tl.negbin_fit(adata, ..., key_added={key!r}) first."
        raise ValueError(msg)


def negbin_params(adata: AnnData, *, key: str = "negbin") -> dict[str, pd.DataFrame]:
    """Coefficients of a count model as terms x genes DataFrames (scDesigner's ``params`` layout).

    Parameters
    ----------
    adata
        AnnData fitted by :func:`scgenome.tl.negbin_fit`.
    key
        ``key_added`` of the fit.

    Returns
    -------
    dict with ``"beta"`` (mean, log scale), ``"gamma"`` (log NB size; NB families) and ``"zeta"``
    (zero-inflation logit; ``"zinb"``), each a terms x genes DataFrame.

    Examples
    --------
    >>> import numpy as np, anndata as ad, scgenome as sg
    >>> adata = ad.AnnData(np.random.default_rng(0).poisson(2.0, size=(200, 3)).astype(float))
    >>> sg.tl.negbin_fit(adata, "~ 1")
    >>> sg.get.negbin_params(adata)["beta"].shape
    (1, 3)
    """
    _check(adata, key)
    out = {}
    for name, short in _NAMES.items():
        if f"{key}_{name}" in adata.varm:
            out[short] = pd.DataFrame(adata.varm[f"{key}_{name}"]).T.copy()
    return out


def negbin_df(
    adata: AnnData,
    term: str,
    *,
    which: Literal["mean", "dispersion", "zero_inflation"] = "mean",
    key: str = "negbin",
) -> pd.DataFrame:
    """Wald tests of one coefficient across genes: estimate, se, z, p-value and BH-adjusted p-value.

    Parameters
    ----------
    adata
        AnnData fitted by :func:`scgenome.tl.negbin_fit`.
    term
        Column name of the design (e.g. ``"x"``, ``"group[T.b]"``).
    which
        Which linear predictor the term belongs to.
    key
        ``key_added`` of the fit.

    Returns
    -------
    DataFrame indexed by gene with columns ``estimate``, ``se``, ``z``, ``pval``, ``padj``
    (Benjamini-Hochberg over the genes with a finite p-value), ``converged`` and ``status`` (the fit's
    ``var[f"{key}_status"]``: the tests of ``"separated"`` genes are meaningless, and the dispersion
    tests of ``"dispersion_at_bound"`` genes too; fits made before it existed give ``"ok"`` or
    ``"not_converged"``). The standard errors are those of the fit's ``information``.

    Examples
    --------
    >>> import numpy as np, pandas as pd, anndata as ad, scgenome as sg
    >>> rng = np.random.default_rng(0)
    >>> obs = pd.DataFrame({"x": rng.normal(size=300)}, index=[f"c{i}" for i in range(300)])
    >>> adata = ad.AnnData(rng.poisson(2.0, size=(300, 3)).astype(float), obs=obs)
    >>> sg.tl.negbin_fit(adata, "~ x")
    >>> list(sg.get.negbin_df(adata, "x").columns)
    ['estimate', 'se', 'z', 'pval', 'padj', 'converged', 'status']
    """
    from scipy import stats

    _check(adata, key)
    name = f"{key}_{which}"
    if name not in adata.varm:
        msg = f"The model under {key!r} has no {which!r} predictor."
        raise ValueError(msg)
    coef = pd.DataFrame(adata.varm[name])
    if term not in coef.columns:
        msg = f"Term {term!r} not in the {which} design; terms: {list(coef.columns)}."
        raise ValueError(msg)
    est = coef[term].to_numpy(dtype=float)
    se = pd.DataFrame(adata.varm[f"{name}_se"])[term].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = est / se
    pval = 2 * stats.norm.sf(np.abs(z))
    padj = np.full_like(pval, np.nan)
    ok = np.isfinite(pval)
    if ok.any():
        padj[ok] = stats.false_discovery_control(pval[ok], method="bh")
    conv = adata.var[f"{key}_converged"].to_numpy(dtype=bool)
    if f"{key}_status" in adata.var.columns:
        status = adata.var[f"{key}_status"].to_numpy()
    else:
        status = np.where(conv, "ok", "not_converged")
    return pd.DataFrame(
        {"estimate": est, "se": se, "z": z, "pval": pval, "padj": padj, "converged": conv, "status": status},
        index=adata.var_names,
    )

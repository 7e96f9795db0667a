"""Tidy GWAS results table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from anndata import AnnData
    from mudata import MuData


def gwas_df(gdata: AnnData | MuData, key: str = "gwas", *, mod: str = "geno") -> pd.DataFrame:
    """GWAS results of :func:`scgenome.tl.gwas` as a tidy table with GEMMA's columns.

    Parameters
    ----------
    gdata
        AnnData on which :func:`scgenome.tl.gwas` ran, or the MuData (its genotype modality holds the results).
    key
        Its ``key_added``.
    mod
        Genotype modality of a MuData.

    Returns
    -------
    DataFrame of the tested SNPs in file order, one row each: ``uns[key]["n_snps_tested"]`` rows, the SNPs that
    passed the QC and are not collinear with the covariates (:func:`scgenome.tl.gwas` leaves every field of the
    others NaN, ``af`` included). A tested SNP keeps its row even if a p-value of it is NaN. Columns ``chr``, ``rs``, ``ps`` (nullable Int64, <NA> when the
    position is unknown), ``n_miss``, ``allele1``, ``allele0``, ``af``, ``beta``, ``se``, ``logl_H1``, ``l_remle``,
    ``l_mle``, ``p_wald``, ``p_lrt``, ``p_score`` (the GEMMA ``-lmm 4`` columns); for ``method="linear"``
    ``logl_H1``, ``l_remle`` and ``l_mle`` are absent and ``n_obs`` follows ``n_miss`` (GEMMA ``-lm 4``).

    Examples
    --------
    >>> import anndata as ad, numpy as np, pandas as pd
    >>> import scgenome as sg
    >>> rng = np.random.default_rng(0)
    >>> X = rng.binomial(2, 0.4, size=(100, 50)).astype(np.float32)
    >>> g = ad.AnnData(X, obs=pd.DataFrame({"y": rng.normal(size=100)}, index=[str(i) for i in range(100)]))
    >>> sg.tl.gwas(g, "y", method="linear")
    >>> sg.get.gwas_df(g).columns.tolist()[:4]
    ['chr', 'rs', 'ps', 'n_miss']
    """
    from anndata import AnnData

    from .._utils import get_modality

    if not isinstance(gdata, AnnData):
        gdata = get_modality(gdata, mod)
    if key not in gdata.uns or f"{key}_pval" not in gdata.var.columns or f"{key}_af" not in gdata.var.columns:
        msg = f"No GWAS results under key {key!r}; run sg.tl.gwas(gdata, ..., key_added={key!r}) first."
        raise ValueError(msg)
    var = gdata.var
    # tested SNPs: gwas sets af (and n_miss) for every tested SNP, whatever its p-values; NaN for the others
    tested = var[f"{key}_af"].notna().to_numpy()
    v = var.loc[tested]
    n = int(tested.sum())

    def col(name, default):
        return v[name].to_numpy() if name in v.columns else np.full(n, default)

    df = pd.DataFrame(
        {
            "chr": pd.array(v["chrom"], dtype="string") if "chrom" in v.columns else pd.array([pd.NA] * n, "string"),
            "rs": v.index.to_numpy(),
            "ps": pd.array(v["pos"], dtype="Int64") if "pos" in v.columns else pd.array([pd.NA] * n, "Int64"),
            "n_miss": v[f"{key}_n_miss"].astype(int).to_numpy(),
            **({"n_obs": v[f"{key}_n_obs"].astype(int).to_numpy()} if f"{key}_n_obs" in v.columns else {}),
            "allele1": col("allele1", ""),
            "allele0": col("allele0", ""),
            "af": v[f"{key}_af"].to_numpy(),
            "beta": v[f"{key}_beta"].to_numpy(),
            "se": v[f"{key}_se"].to_numpy(),
        }
    )
    if gdata.uns[key].get("params", {}).get("method", "lmm") == "lmm":
        for name in ("logl_H1", "l_remle", "l_mle"):
            df[name] = v[f"{key}_{name}"].to_numpy()
    df["p_wald"] = v[f"{key}_pval"].to_numpy()
    df["p_lrt"] = v[f"{key}_p_lrt"].to_numpy()
    df["p_score"] = v[f"{key}_p_score"].to_numpy()
    return df.reset_index(drop=True)


__all__ = ["gwas_df"]

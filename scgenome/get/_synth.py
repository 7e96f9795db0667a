"""``sg.get.synthesis_report_df``: tables of :func:`scgenome.tl.synthesis_report` out of ``.uns``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    from anndata import AnnData
    from mudata import MuData

_TABLES = ("gwas", "gwas_agreement", "fidelity", "ld_decay", "kinship", "af", "pca", "privacy", "distances")


def synthesis_report_df(
    synthetic: AnnData | MuData, table: str = "gwas", *, key: str = "synthesis_report", mod: str = "geno"
) -> pd.DataFrame:
    """Return one table of a synthesis report as a DataFrame (a copy).

    Parameters
    ----------
    synthetic
        The synthetic AnnData on which :func:`scgenome.tl.synthesis_report` wrote its report, or the
        synthetic MuData (the report is in its genotype modality's ``uns``).
    table
        One of ``"gwas"``, ``"gwas_agreement"``, ``"fidelity"``, ``"ld_decay"``, ``"kinship"``, ``"af"``,
        ``"pca"``, ``"privacy"``, ``"distances"``.
    key
        The report's key in ``uns``.
    mod
        Genotype modality of a MuData.

    Returns
    -------
    The table (see :func:`scgenome.tl.synthesis_report` for the columns).

    Examples
    --------
    >>> import scgenome as sg
    >>> real = sg.datasets.simulate_cohort(n_individuals=200, n_snps=300, rng=0)
    >>> syn = sg.tl.synthesize(real[:150].copy(), phenotypes="pheno", n_states=8, n_iter=3, rng=0)
    >>> _ = sg.tl.synthesis_report(real, syn, phenotype="pheno", holdout=real.obs_names[150:], n_subsamples=2)
    >>> bool(sg.get.synthesis_report_df(syn, "privacy").loc["mia_auc_nn", "value"] < 0.8)
    True
    """
    from anndata import AnnData

    from .._utils import get_modality

    if not isinstance(synthetic, AnnData):
        synthetic = get_modality(synthetic, mod)
    if key not in synthetic.uns:
        msg = f"No synthesis report at uns[{key!r}]; run sg.tl.synthesis_report(real, synthetic, ...) first."
        raise ValueError(msg)
    if table not in _TABLES:
        msg = f"Unknown table {table!r}; choose one of {list(_TABLES)}."
        raise ValueError(msg)
    return synthetic.uns[key][table].copy()


__all__ = ["synthesis_report_df"]

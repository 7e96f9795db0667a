"""``sg.get.ems_df``: tidy tables of sc-EMS results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import pandas as pd

from .._utils import get_modality

if TYPE_CHECKING:
    from anndata import AnnData
    from mudata import MuData


def ems_df(
    vdata: AnnData | MuData,
    key: str = "ems",
    *,
    kind: Literal["variants", "chromosomes", "importance", "folds"] = "variants",
    mod: str | None = None,
) -> pd.DataFrame:
    """Tidy DataFrame of :func:`~scgenome.tl.ems_score` results.

    Parameters
    ----------
    vdata
        AnnData (or MuData, with ``mod``) scored by :func:`~scgenome.tl.ems_score`.
    key
        ``key_added`` used there.
    kind
        ``"variants"``: one row per variant (``chrom``, ``pos``, ``gene``/``ref``/``alt`` when
        present, ``label``, ``score``, ``margin``, ``calibrated``, ``prior`` when computed,
        ``fold``), sorted by score; ``"chromosomes"``: the per-chromosome metrics; ``"importance"``:
        ``feature``, ``importance``, ``weight`` sorted by importance; ``"folds"``: the LOCO folds.
    mod
        Modality of a MuData (the ``mod`` given to :func:`~scgenome.tl.ems_score`).

    Returns
    -------
    The DataFrame.

    Examples
    --------
    >>> import scgenome as sg
    >>> vdata = sg.datasets.simulate_variants(1500, 30, n_chromosomes=4, rng=0)
    >>> sg.tl.ems_score(vdata, preset="fast", rng=0, n_boot=0)
    >>> sg.get.ems_df(vdata).columns[:4].tolist()
    ['chrom', 'pos', 'ref', 'alt']
    """
    vdata = get_modality(vdata, mod)
    if key not in vdata.uns or key not in vdata.obs.columns:
        msg = f"No sc-EMS results under key {key!r}; run sg.tl.ems_score(vdata, key_added={key!r}) first."
        raise ValueError(msg)
    if kind == "variants":
        obs = vdata.obs
        meta = [c for c in ("chrom", "pos", "ref", "alt", "gene") if c in obs.columns]
        cols = {
            "label": f"{key}_label_used",
            "score": key,
            "margin": f"{key}_margin",
            "calibrated": f"{key}_calibrated",
            "prior": f"{key}_prior",
            "fold": f"{key}_fold",
        }
        df = obs[meta].copy()
        if cols["label"] not in obs.columns:  # scored before the label used was renamed ``_label_used``
            cols["label"] = f"{key}_label"
        for name, col in cols.items():
            if col in obs.columns:
                df[name] = obs[col].to_numpy()
        df.index.name = "variant"
        return df.sort_values("score", ascending=False)
    if kind == "chromosomes":
        if "per_chromosome" not in vdata.uns[key]:
            msg = f"uns[{key!r}] has no per-chromosome table (the variants were scored without labels)."
            raise ValueError(msg)
        return pd.DataFrame(vdata.uns[key]["per_chromosome"]).copy()
    if kind == "importance":
        df = pd.DataFrame(
            {
                "feature": vdata.var_names.astype(str),
                "importance": vdata.var[f"{key}_importance"].to_numpy(),
                "weight": vdata.var[f"{key}_weight"].to_numpy(),
            }
        )
        return df.sort_values("importance", ascending=False, ignore_index=True)
    if kind == "folds":
        if "folds" not in vdata.uns[key]:
            msg = f"uns[{key!r}] has no folds (scored with a model, not LOCO)."
            raise ValueError(msg)
        return pd.DataFrame(vdata.uns[key]["folds"]).copy()
    msg = f"kind must be 'variants', 'chromosomes', 'importance' or 'folds', got {kind!r}."
    raise ValueError(msg)


__all__ = ["ems_df"]

"""Pulling arrays out of a variants x annotations AnnData, with the input checks of sc-EMS."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..._utils import get_modality
from ..._validation import check_binary_labels, check_nonempty

if TYPE_CHECKING:
    from anndata import AnnData
    from mudata import MuData

#: Label columns the bare ``ems_score(vdata)`` call looks for, in order.
LABEL_CANDIDATES = ("ems_label", "label")
POSITIVE, NEGATIVE = 0.1, 0.01
#: Fewest positives (and negatives) on each side of the inner split (fitting / validation chromosomes): fewer
#: make early stopping and the calibration degenerate (a validation part without positives gives prior 0).
MIN_SPLIT_POSITIVES = 2
#: Fewest training positives (and negatives) with early stopping or calibration (an inner split), and without.
MIN_TRAIN_POSITIVES_SPLIT, MIN_TRAIN_POSITIVES = 10, 2


def get_vdata(vdata: AnnData | MuData, mod: str | None, *, coords: bool = True) -> AnnData:
    """Return the AnnData to work on, checking ``chrom``/``pos`` and duplicated variants.

    ``coords=False`` (scoring with a trained model): ``chrom``/``pos`` are optional.
    """
    adata = get_modality(vdata, mod)
    missing = [c for c in ("chrom", "pos") if c not in adata.obs.columns]
    if missing and coords:
        msg = (
            f"Column(s) {missing} not found in .obs; sc-EMS needs each variant's chromosome ('chrom') and "
            f"position ('pos'). Available: {list(adata.obs.columns)[:20]}."
        )
        raise ValueError(msg)
    present = [c for c in ("chrom", "pos") if c in adata.obs.columns]
    if any(
        pd.to_numeric(adata.obs[c], errors="coerce").isna().any() if c == "pos" else adata.obs[c].isna().any()
        for c in present
    ):
        msg = "Columns 'chrom' and 'pos' must have no missing values; drop those variants first."
        raise ValueError(msg)
    if not adata.obs_names.is_unique:
        dup = adata.obs_names[adata.obs_names.duplicated()].unique()[:5].tolist()
        msg = f"Duplicated variant names in .obs_names, e.g. {dup}; drop duplicates (vdata[~vdata.obs_names.duplicated()])."
        raise ValueError(msg)
    key = [c for c in ("chrom", "pos", "ref", "alt", "gene") if c in adata.obs.columns]
    dup = adata.obs.duplicated(key) if {"chrom", "pos"} <= set(key) else np.zeros(adata.n_obs, bool)
    if dup.any():
        ex = adata.obs.loc[dup, key].head(3).astype(str).agg(":".join, axis=1).tolist()
        msg = (
            f"{int(dup.sum())} duplicated variants (same {'/'.join(key)}), e.g. {ex}; keep one row per "
            f"variant: vdata = vdata[~vdata.obs.duplicated({key})].copy()."
        )
        raise ValueError(msg)
    return adata


def get_features(adata: AnnData, layer: str | None = None) -> tuple[np.ndarray, list[str]]:
    """Dense float32 feature matrix and feature names."""
    check_nonempty(adata, "variant AnnData")
    if not adata.var_names.is_unique:
        dup = adata.var_names[adata.var_names.duplicated()].unique()[:5].tolist()
        msg = f"Duplicated feature names in .var_names, e.g. {dup}; make them unique (vdata.var_names_make_unique())."
        raise ValueError(msg)
    if layer is not None and layer not in adata.layers:
        msg = f"Layer {layer!r} not found; the AnnData has layers {list(adata.layers)}."
        raise ValueError(msg)
    X = adata.layers[layer] if layer is not None else adata.X
    if X is None:
        msg = "The AnnData has no .X; put the annotation matrix (variants x features) in .X or pass layer=."
        raise ValueError(msg)
    X = X.toarray() if sp.issparse(X) else np.asarray(X)
    if not np.issubdtype(X.dtype, np.number):
        msg = f"Features must be numeric, got dtype {X.dtype}."
        raise ValueError(msg)
    return X.astype(np.float32, copy=False), [str(v) for v in adata.var_names]


def get_labels(
    adata: AnnData, label: str | None, pip: str | None = "pip", *, required: bool = True
) -> tuple[np.ndarray | None, str | None]:
    """0/1 labels as floats (NaN = not labelled) and where they came from.

    ``label`` given: that column (0/1, no NaN). ``None``: the first of ``ems_label``/``label``
    found, else model-5 thresholds on ``pip`` (1 above 0.1, 0 below 0.01, in between NaN).
    ``required=False`` (labels for metrics only, when scoring with a trained model): no labels give
    ``(None, None)``, and a label column may hold NaN (not labelled) or a single class.
    """
    obs = adata.obs
    if label is not None and label not in obs.columns and not (label == "ems_label" and pip in obs.columns):
        msg = f"Label column {label!r} not found in .obs; available: {list(obs.columns)[:20]}."
        raise ValueError(msg)
    if label is None:
        label = next((c for c in LABEL_CANDIDATES if c in obs.columns), None)
    if label is not None and label in obs.columns:
        if not required:
            y = pd.to_numeric(obs[label], errors="coerce").to_numpy(dtype=float)
            bad = ~np.isnan(y) & ~np.isin(y, (0.0, 1.0)) | (np.isnan(y) & obs[label].notna().to_numpy())
            if bad.any():
                msg = (
                    f"The label column {label!r} must be 0/1 (NaN: not labelled), got e.g. {obs[label][bad].iloc[0]!r}."
                )
                raise ValueError(msg)
            return y, label
        y = check_binary_labels(obs[label].to_numpy(), what=f"label column {label!r}")
        return y.astype(float), label
    if pip is not None and pip in obs.columns:
        p = pd.to_numeric(obs[pip], errors="coerce").to_numpy(dtype=float)
        if np.isnan(p).any():
            msg = f"PIP column {pip!r} has {int(np.isnan(p).sum())} missing values; drop those variants."
            raise ValueError(msg)
        y = np.where(p > POSITIVE, 1.0, np.where(p < NEGATIVE, 0.0, np.nan))
        lab = y[~np.isnan(y)]
        if required and (lab.size == 0 or lab.min() == lab.max()):
            msg = (
                f"PIP thresholds (> {POSITIVE} positive, < {NEGATIVE} negative) give a single class "
                f"({int(np.nansum(y))} positives, {int((y == 0).sum())} negatives); both are needed."
            )
            raise ValueError(msg)
        return y, f"{pip} (>{POSITIVE} / <{NEGATIVE})"
    if required:
        msg = (
            "No labels: pass label= (a 0/1 column of .obs), add 'ems_label' (sg.pp.ems_labels) or a "
            f"PIP column ({pip!r})."
        )
        raise ValueError(msg)
    return None, None


def _per_chrom(y: np.ndarray, chrom: np.ndarray, limit: int = 25) -> str:
    counts = pd.Series(np.asarray(y) == 1).groupby(np.asarray(chrom).astype(str)).sum()
    shown = ", ".join(f"{c}: {int(v)}" for c, v in counts.iloc[:limit].items())
    return shown + (f", ... ({len(counts)} chromosomes)" if len(counts) > limit else "")


def check_training_positives(y: np.ndarray, chrom: np.ndarray, *, split: bool, where: str) -> None:
    """Raise unless the 0/1 training labels ``y`` hold enough positives and negatives to train (and calibrate) on.

    ``split``: early stopping or calibration, which fit on part of the chromosomes and check on the others
    (:data:`MIN_TRAIN_POSITIVES_SPLIT` of each class needed), else :data:`MIN_TRAIN_POSITIVES`. The message gives
    the positives per chromosome.
    """
    y = np.asarray(y)
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    need = MIN_TRAIN_POSITIVES_SPLIT if split else MIN_TRAIN_POSITIVES
    if min(n_pos, n_neg) >= need:
        return
    why = (
        "early stopping and calibration fit on part of the training chromosomes and check on the others (at least "
        f"{MIN_SPLIT_POSITIVES} of each class on each side)"
        if split
        else "a classifier needs examples of both classes"
    )
    fix = (
        "add labelled variants (e.g. a lower `positive=` threshold in sg.pp.ems_labels), or pass "
        f"early_stopping=False and calibration=None (then {MIN_TRAIN_POSITIVES} of each class suffice)"
        if split
        else "add labelled variants"
    )
    msg = (
        f"{where} hold {n_pos} positive(s) and {n_neg} negative(s) (positives per chromosome: "
        f"{_per_chrom(y, chrom)}); at least {need} of each are needed because {why}. To train, {fix}."
    )
    raise ValueError(msg)


def check_split_positives(y: np.ndarray, val: np.ndarray, chrom: np.ndarray) -> None:
    """Raise unless both sides of the inner split (``val`` = validation rows) hold enough of each class."""
    y = np.asarray(y)
    for side, mask in (("validation", val), ("fitting", ~val)):
        ys = y[mask]
        n_pos, n_neg = int((ys == 1).sum()), int((ys == 0).sum())
        if min(n_pos, n_neg) < MIN_SPLIT_POSITIVES:
            chroms = sorted(set(np.asarray(chrom)[mask].astype(str).tolist()))[:25]
            msg = (
                f"The inner {side} part of the training rows (chromosomes {chroms}) "
                f"holds {n_pos} positive(s) and {n_neg} negative(s); early stopping and calibration need at least "
                f"{MIN_SPLIT_POSITIVES} of each (training positives per chromosome: {_per_chrom(y, chrom)}). Add "
                "labelled variants, or pass early_stopping=False and calibration=None."
            )
            raise ValueError(msg)


def snv_mask(adata: AnnData) -> np.ndarray | None:
    """Which variants are SNVs (from ``ref``/``alt`` or an ``is_SNV`` feature), else ``None``."""
    obs = adata.obs
    if "ref" in obs.columns and "alt" in obs.columns:
        return (obs["ref"].astype(str).str.len() == 1).to_numpy() & (obs["alt"].astype(str).str.len() == 1).to_numpy()
    if "is_SNV" in adata.var_names:
        col = adata[:, "is_SNV"].X
        col = col.toarray() if sp.issparse(col) else np.asarray(col)
        return col.ravel() > 0.5
    return None


__all__ = [
    "check_split_positives",
    "check_training_positives",
    "get_features",
    "get_labels",
    "get_vdata",
    "snv_mask",
]

"""``sg.tl.ems_train``: fit one sc-EMS model on labelled variants."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..._logging import logger
from ..._settings import settings
from ..._utils import child_seed, get_rng
from ._data import check_training_positives, get_features, get_labels, get_vdata, snv_mask
from ._metrics import summarize
from ._model import DEFAULT_ABS_FEATURES, DEFAULT_FEATURE_WEIGHTS, PRESETS, EMSModel, fit_model

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from anndata import AnnData
    from mudata import MuData


def resolve_params(
    preset: Literal["reference", "fast"], params: Mapping[str, Any] | None, early_stopping: bool | None
) -> tuple[dict[str, Any], bool]:
    """CatBoost parameters of a preset updated by ``params``, and whether to stop early."""
    if preset not in PRESETS:
        msg = f"preset must be one of {list(PRESETS)}, got {preset!r}."
        raise ValueError(msg)
    out = {**PRESETS[preset], **(params or {})}
    return out, True if early_stopping is None else bool(early_stopping)


def ems_train(
    vdata: AnnData | MuData,
    *,
    label: str | None = None,
    feature_weights: Mapping[str, float] | None = DEFAULT_FEATURE_WEIGHTS,
    default_weight: float = 1.0,
    abs_features: Iterable[str] | None = DEFAULT_ABS_FEATURES,
    params: Mapping[str, Any] | None = None,
    preset: Literal["reference", "fast"] = "reference",
    class_weights: Literal["balanced", "pip"] | None = "balanced",
    early_stopping: bool = True,
    refit: bool | None = None,
    calibration: Literal["platt", "isotonic"] | None = "platt",
    test: Iterable[str] | None = None,
    pip: str = "pip",
    layer: str | None = None,
    mod: str | None = None,
    rng: int | np.random.Generator | None = None,
) -> EMSModel:
    """Train an sc-EMS model (feature-weighted CatBoost) on labelled variants.

    Parameters
    ----------
    vdata
        Variants x annotations; ``obs`` has ``chrom``, ``pos`` and ``label`` (0/1) or ``pip``.
    label
        0/1 column of ``obs``. ``None`` (as in :func:`~scgenome.tl.ems_score`): ``ems_label`` or
        ``label`` when present, else model-5 thresholds on ``obs[pip]`` (1 if PIP > 0.1, 0 if
        PIP < 0.01, the rest left out).
    feature_weights
        ``{pattern: weight}`` passed to CatBoost's ``feature_weights``. A pattern with ``*`` is a
        glob over the whole name (``"diff_*"`` is a prefix: ``length_diff`` is not caught); a
        pattern without a wildcard matches names containing it. Which features each pattern
        reached is kept in :attr:`EMSModel.weight_report`.
    default_weight
        Weight of the other features.
    abs_features
        Patterns of features made absolute (signed allelic-effect columns: diff / tf / chrombpnet).
    params
        CatBoost parameters overriding the preset (e.g. ``{"iterations": 300}``).
    preset
        ``"reference"``: model 5 (``depth=6, l2_leaf_reg=3, learning_rate=0.03, iterations=1000``), refitted on
        all training chromosomes after early stopping: the published setting, for the scores you report.
        ``"fast"``: 64 borders, ``learning_rate=0.06``, at most 600 iterations, no refit: for exploring features
        and options. LOCO on 5,000 variants x 100 features (22 folds, 2 threads) took 18 s with ``"fast"``
        and 143 s with ``"reference"``, at the same AUC within 0.02 (``benchmarks/ems_presets.py``).
    class_weights
        ``"balanced"`` (``n / (2 n_class)``), ``"pip"`` (balanced, positives also scaled by PIP as in
        scEEMS) or ``None``.
    early_stopping
        Stop on the logloss of an inner validation split of the training chromosomes (the
        iteration count is an upper bound). ``False``: the reference's fixed iteration count.
    refit
        After early stopping, refit the chosen number of trees on all training chromosomes
        (``None``: yes for the ``reference`` preset, no for ``fast``).
    calibration
        ``"platt"`` or ``"isotonic"`` calibration fitted on the inner validation chromosomes, or ``None``.
    test
        Chromosomes held out from training and evaluated (the reference's chromosome split).
    pip
        PIP column (labels when ``label`` is absent; ``class_weights="pip"``).
    layer
        Layer holding the features instead of ``X``.
    mod
        Modality of a MuData.
    rng
        Seed or generator; CatBoost's ``random_seed`` and the inner split are drawn from it.

    Raises
    ------
    ValueError
        When the training chromosomes hold fewer than 10 positives or negatives with early stopping or
        calibration (both fit on part of them and check on the others, which must each hold at least 2 of each
        class), or fewer than 2 without; the message gives the positives per chromosome.

    Returns
    -------
    The trained :class:`~scgenome.tl.EMSModel`. Its ``metrics`` hold the label counts, the number
    of trees, the inner validation chromosomes and, with ``test``, ``test`` (AP, AUC, Brier, ...
    on the held-out chromosomes). ``vdata`` is not modified.

    Notes
    -----
    The xQTL-protocol sc-EMS "model 5" (CatBoost, Prokhorenkova et al. 2018) with its pattern
    bug fixed: weights and absolute values are applied to the columns the patterns match.

    Examples
    --------
    >>> import scgenome as sg
    >>> vdata = sg.datasets.simulate_variants(1500, 30, rng=0)
    >>> model = sg.tl.ems_train(vdata, preset="fast", rng=0)
    >>> model.weight_report["diff_*"][:2]
    ['diff_32_0', 'diff_32_1']
    """
    adata = get_vdata(vdata, mod)
    X, names = get_features(adata, layer)
    y, source = get_labels(adata, label, pip)
    chrom = adata.obs["chrom"].astype(str).to_numpy()
    pipv = adata.obs[pip].to_numpy(dtype=float) if pip in adata.obs.columns else None
    labelled = ~np.isnan(y)
    test_mask = np.zeros(adata.n_obs, dtype=bool)
    if test is not None:
        test = [str(c) for c in test]
        unknown = sorted(set(test) - set(chrom))
        if unknown:
            msg = f"Test chromosome(s) {unknown} not in obs['chrom'] (values: {sorted(set(chrom))[:25]})."
            raise ValueError(msg)
        test_mask = np.isin(chrom, test)
    train = labelled & ~test_mask
    yt = y[train]
    cb_params, es = resolve_params(preset, params, early_stopping)
    where = "The training chromosomes" + (f" (all but the test chromosomes {test})" if test is not None else "")
    check_training_positives(yt, chrom[train], split=es or calibration is not None, where=where)
    rf = (preset == "reference") if refit is None else bool(refit)
    seed = child_seed(get_rng(rng))
    logger.info("ems_train: %d variants (%d positive), %d features", train.sum(), int(yt.sum()), len(names))
    model = fit_model(
        X[train],
        yt.astype(np.int64),
        names,
        chrom=chrom[train],
        pip=None if pipv is None else pipv[train],
        feature_weights=feature_weights,
        default_weight=default_weight,
        abs_features=abs_features,
        params=cb_params,
        class_weights=class_weights,
        early_stopping=es,
        refit=rf,
        calibration=calibration,
        seed=seed,
        thread_count=settings.n_threads,
    )
    model.metrics["label"] = source
    model.metrics["preset"] = preset
    if test is not None:
        te = labelled & test_mask
        if te.any():
            margin = model.predict_margin(X[te], names)
            snv = snv_mask(adata)
            pooled, _ = summarize(
                y[te].astype(int),
                margin,
                prob=model.calibrate(margin) if model.calibrator else None,
                snv=None if snv is None else snv[te],
            )
            model.metrics["test"] = pooled
            model.metrics["test_chromosomes"] = test
    return model


__all__ = ["ems_train", "resolve_params"]

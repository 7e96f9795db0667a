"""``sg.tl.ems_score``: leave-one-chromosome-out scores, or scores of new variants from a model."""

from __future__ import annotations

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ..._logging import logger
from ..._settings import settings
from ..._utils import child_seed, get_rng, progress
from ._calibrate import expit
from ._data import check_training_positives, get_features, get_labels, get_vdata, snv_mask
from ._metrics import chrom_sort_key, summarize
from ._model import DEFAULT_ABS_FEATURES, DEFAULT_FEATURE_WEIGHTS, EMSModel, fit_model, fit_rounds
from ._train import resolve_params

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from anndata import AnnData
    from mudata import MuData


def ems_score(
    vdata: AnnData | MuData,
    *,
    model: EMSModel | str | None = None,
    label: str | None = None,
    cv: Literal["loco"] = "loco",
    key_added: str = "ems",
    pip: str = "pip",
    feature_weights: Mapping[str, float] | None = DEFAULT_FEATURE_WEIGHTS,
    default_weight: float = 1.0,
    abs_features: Iterable[str] | None = DEFAULT_ABS_FEATURES,
    params: Mapping[str, Any] | None = None,
    preset: Literal["reference", "fast"] = "reference",
    class_weights: Literal["balanced", "pip"] | None = "balanced",
    early_stopping: bool = True,
    refit: bool | None = None,
    calibration: Literal["platt", "isotonic"] | None = "platt",
    prior: float | None = None,
    shap: bool = True,
    n_boot: int = 200,
    n_folds: int | None = None,
    layer: str | None = None,
    mod: str | None = None,
    rng: int | np.random.Generator | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Score variants with sc-EMS: leave-one-chromosome-out (no model) or with a trained model.

    With ``model=None`` one model is trained per chromosome on the labelled variants of all other
    chromosomes (see :func:`~scgenome.tl.ems_train` for the training options) and scores every
    variant of the held-out chromosome, so no variant is scored by a model that saw its
    chromosome. With a model, the variants are scored by it; labels, when present, give metrics
    (then ``chrom``/``pos`` are optional, and a label column may hold NaN or a single class: those
    variants are scored all the same, without metrics where AP / AUC are undefined).

    Parameters
    ----------
    vdata
        Variants x annotations; ``obs`` has ``chrom``, ``pos`` and, for LOCO, a 0/1 label or ``pip``.
    model
        A trained :class:`~scgenome.tl.EMSModel` (or the path it was saved to); ``None`` for LOCO.
    label
        0/1 column of ``obs``. ``None``: ``ems_label`` or ``label`` when present, else model-5
        thresholds on ``obs[pip]`` (variants with PIP between 0.01 and 0.1 are scored but neither
        trained on nor evaluated).
    cv
        Cross-validation scheme: ``"loco"`` (leave one chromosome out).
    key_added
        Prefix of the fields written.
    pip, feature_weights, default_weight, abs_features, params, preset, class_weights, early_stopping, refit, calibration
        Training options of each fold, as in :func:`~scgenome.tl.ems_train`.
    prior
        Genome-wide prior probability of a functional variant; when given, ``obs[f"{key_added}_prior"]``
        holds the calibrated probability moved to this prior (SuSiE prior weights; normalize per locus).
    shap
        Also write per-variant SHAP contributions.
    n_boot
        Bootstrap resamples for confidence intervals of the pooled AP and AUC (0: none).
    n_folds
        Run only the first ``n_folds`` chromosomes (for timing); the others are left unscored (NaN).
    layer
        Layer holding the features instead of ``X``.
    mod
        Modality of a MuData.
    rng
        Seed or generator (fold seeds, inner splits, bootstrap).
    copy
        Return a modified copy instead of writing in place.

    Returns
    -------
    ``None``, or the modified copy with ``copy=True``. Written:

    ``obs[key_added]``
        Score in [0, 1] (on the balanced training prior; the ranking score).
    ``obs[f"{key_added}_margin"]``
        Raw CatBoost margin (log-odds).
    ``obs[f"{key_added}_calibrated"]``
        Calibrated probability at the training base rate (NaN with ``calibration=None``).
    ``obs[f"{key_added}_prior"]``
        Probability at ``prior`` (only when ``prior`` is given).
    ``obs[f"{key_added}_fold"]``
        Chromosome held out by the model that scored the variant (LOCO; missing for chromosomes left
        unscored by ``n_folds``), or ``"model"``.
    ``obs[f"{key_added}_label_used"]``
        The 0/1 label used for training and metrics (NaN where unlabelled: PIP between the
        thresholds, or a missing label when scoring with a model; all NaN without usable labels).
        Its name differs from the input ``ems_label`` of :func:`~scgenome.pp.ems_labels`, which it
        never overwrites.
    ``obsm[f"{key_added}_shap"]``, ``obs[f"{key_added}_shap_base"]``
        SHAP values (variants x features) and the expected value; each row plus the base sums
        to the margin (only with ``shap=True``).
    ``var[f"{key_added}_importance"]``
        CatBoost feature importance (``PredictionValuesChange``), averaged over folds.
    ``var[f"{key_added}_weight"]``
        Feature weight used.
    ``uns[key_added]``
        ``params``, ``weights`` (pattern -> features reached), ``metrics`` (pooled ``ap``, ``auc``,
        ``brier``, ``base_rate``, ``n``, ``n_positive``, SNV-only ``n_snv``/``ap_snv``/``auc_snv``
        when variant types are known, bootstrap ``ap_ci``/``auc_ci``, and ``label``: where the
        labels came from; empty without usable labels), ``per_chromosome`` (n, positives,
        base_rate, ap, auc; NaN for a chromosome without positives), ``prior`` (when given) and,
        for LOCO, ``folds`` (held-out chromosome, training chromosomes, rows, trees).

    Notes
    -----
    sc-EMS (xQTL protocol, model 5; scEEMS for leave-one-chromosome-out training and prior
    weights); CatBoost by Prokhorenkova et al. 2018; SHAP values by Lundberg & Lee 2017; Platt
    scaling (Platt 1999); prior shift as in Saerens et al. 2002.

    Examples
    --------
    >>> import scgenome as sg
    >>> vdata = sg.datasets.simulate_variants(1500, 30, n_chromosomes=4, rng=0)
    >>> sg.tl.ems_score(vdata, preset="fast", rng=0)
    >>> round(vdata.uns["ems"]["metrics"]["auc"], 2) > 0.7
    True
    """
    if cv != "loco":
        msg = f"cv must be 'loco', got {cv!r}."
        raise ValueError(msg)
    if prior is not None and not 0 < prior < 1:
        msg = f"prior must lie strictly between 0 and 1, got {prior!r}."
        raise ValueError(msg)
    if isinstance(model, str) or hasattr(model, "__fspath__"):
        model = EMSModel.load(model)
    adata = get_vdata(vdata, mod, coords=model is None)
    X, names = get_features(adata, layer)
    chrom = adata.obs["chrom"].astype(str).to_numpy() if "chrom" in adata.obs.columns else None
    rng = get_rng(rng)
    y, source = get_labels(adata, label, pip, required=model is None)
    n = adata.n_obs
    margin = np.full(n, np.nan)
    calibrated = np.full(n, np.nan)
    priorw = np.full(n, np.nan)
    fold = np.full(n, None, dtype=object)
    shap_vals = np.full((n, len(names)), np.nan, dtype=np.float32) if shap else None
    shap_base = np.full(n, np.nan) if shap else None
    importance = np.full(len(names), np.nan)
    weights_used = np.full(len(names), np.nan)
    folds_rows: list[dict[str, Any]] = []

    if model is not None:
        if not isinstance(model, EMSModel):
            msg = f"model must be an EMSModel or a saved model path, got {type(model).__name__}."
            raise ValueError(msg)
        ignored = [
            name
            for name, value, default in (
                ("feature_weights", feature_weights, DEFAULT_FEATURE_WEIGHTS),
                ("default_weight", default_weight, 1.0),
                ("abs_features", abs_features, DEFAULT_ABS_FEATURES),
                ("params", params, None),
                ("preset", preset, "reference"),
                ("class_weights", class_weights, "balanced"),
                ("early_stopping", early_stopping, True),
                ("refit", refit, None),
                ("calibration", calibration, "platt"),
                ("n_folds", n_folds, None),
            )
            if not _same(value, default)
        ]
        if ignored:
            warnings.warn(
                f"Training option(s) {ignored} have no effect when scoring with a trained model; the model's own "
                "settings (and calibration) are used.",
                UserWarning,
                stacklevel=2,
            )
        Xa = model.align(X, names)  # raises on missing features, warns on extra ones
        col = {f: i for i, f in enumerate(names)}
        idx = [col[f] for f in model.features]
        margin[:] = model.predict_margin(Xa)
        fold[:] = "model"
        if model.calibrator is not None:
            calibrated[:] = model.calibrate(margin)
        if prior is not None:
            priorw[:] = model.prior_weights(margin, prior)
        if shap:
            sv = model.shap(Xa)
            shap_vals[:, idx] = sv[:, :-1]
            shap_base[:] = sv[:, -1]
        importance[idx] = model.importance
        weights_used[idx] = [model.feature_weights[f] for f in model.features]
        params_out, weights_out = model.params, model.weight_report
    else:
        cb_params, es = resolve_params(preset, params, early_stopping)
        rf = (preset == "reference") if refit is None else bool(refit)
        labelled = ~np.isnan(y)
        pipv = adata.obs[pip].to_numpy(dtype=float) if pip in adata.obs.columns else None
        chroms = sorted(pd.unique(chrom), key=chrom_sort_key)
        if len(chroms) < 2:
            msg = f"Leave-one-chromosome-out needs variants on at least 2 chromosomes; found {chroms}."
            raise ValueError(msg)
        _check_folds(y, chrom, chroms, split=es or calibration is not None)
        seeds = {c: child_seed(rng) for c in chroms}
        if n_folds is not None:
            chroms = chroms[: int(n_folds)]
        fit_kw = {
            "feature_weights": feature_weights,
            "default_weight": default_weight,
            "abs_features": abs_features,
            "params": cb_params,
            "class_weights": class_weights,
            "early_stopping": es,
            "refit": rf,
            "calibration": calibration,
        }
        models = _fit_folds(X, y, names, chrom, pipv, chroms, seeds, fit_kw)
        imps = []
        for c in chroms:  # fixed order: results do not depend on completion order
            m = models[c]
            te = chrom == c
            mg = m.predict_margin(X[te])
            margin[te] = mg
            fold[te] = c
            if m.calibrator is not None:
                calibrated[te] = m.calibrate(mg)
            if prior is not None:
                priorw[te] = m.prior_weights(mg, prior)
            if shap:
                sv = m.shap(X[te])
                shap_vals[te] = sv[:, :-1]
                shap_base[te] = sv[:, -1]
            imps.append(m.importance)
            train_chroms = sorted(set(chrom[labelled & (chrom != c)]), key=chrom_sort_key)
            folds_rows.append(
                {
                    "chrom": c,
                    "train_chromosomes": ",".join(train_chroms),
                    "n_train": int(m.metrics["n_train"]),
                    "n_scored": int(te.sum()),
                    "n_trees": int(m.metrics["n_trees"]),
                }
            )
        importance[:] = np.mean(imps, axis=0)
        weights_used[:] = [models[chroms[0]].feature_weights[f] for f in names]
        params_out = {**models[chroms[0]].params, "preset": preset, "cv": cv, "n_folds": len(chroms)}
        params_out.pop("random_seed", None)
        weights_out = models[chroms[0]].weight_report

    # ---- metrics on labelled, scored variants
    metrics: dict[str, Any] = {}
    per_chrom = None
    if y is not None:
        ok = ~np.isnan(y) & ~np.isnan(margin)
        if model is not None and len(np.unique(y[ok])) < 2:
            warnings.warn(
                f"The labels ({source}) of the scored variants hold {'no labelled variant' if not ok.any() else 'a single class'}; "
                "the variants are scored without AP / AUC.",
                UserWarning,
                stacklevel=2,
            )
            y = None
    if y is not None:
        snv = snv_mask(adata)
        metrics, per_chrom = summarize(
            y[ok].astype(int),
            margin[ok],
            prob=calibrated[ok] if not np.isnan(calibrated[ok]).any() else None,
            chrom=None if chrom is None else chrom[ok],
            snv=None if snv is None else snv[ok],
            n_boot=n_boot,
            rng=rng,
        )
        metrics = {k: (list(v) if isinstance(v, tuple) else v) for k, v in metrics.items()}
        metrics["label"] = source
        logger.info("ems_score: AP %.3f, AUC %.3f over %d variants", metrics["ap"], metrics["auc"], metrics["n"])

    # ---- write (nothing was written before this point)
    target = vdata.copy() if copy else vdata
    out = target if mod is None else target.mod[mod]
    out.obs[key_added] = expit(margin)
    out.obs[f"{key_added}_margin"] = margin
    out.obs[f"{key_added}_calibrated"] = calibrated
    if prior is not None:
        out.obs[f"{key_added}_prior"] = priorw
    out.obs[f"{key_added}_fold"] = pd.Categorical(fold)
    out.obs[f"{key_added}_label_used"] = np.full(n, np.nan) if y is None else y
    if shap:
        out.obsm[f"{key_added}_shap"] = shap_vals
        out.obs[f"{key_added}_shap_base"] = shap_base
    out.var[f"{key_added}_importance"] = importance
    out.var[f"{key_added}_weight"] = weights_used
    uns: dict[str, Any] = {
        "params": {k: ("None" if v is None else v) for k, v in params_out.items() if not isinstance(v, dict | list)},
        "weights": {k: list(v) for k, v in weights_out.items()},
        "metrics": metrics,
    }
    if per_chrom is not None:
        uns["per_chromosome"] = per_chrom
    if folds_rows:
        uns["folds"] = pd.DataFrame(folds_rows).set_index("chrom")
    if prior is not None:
        uns["prior"] = prior
    out.uns[key_added] = uns
    return target if copy else None


def _check_folds(y: np.ndarray, chrom: np.ndarray, chroms: list[str], *, split: bool) -> None:
    """Raise unless every LOCO fold's training labels can train a model (checked before any fold trains)."""
    labelled = ~np.isnan(y)
    for c in chroms:
        tr = labelled & (chrom != c)
        if not tr.any() or y[tr].min() == y[tr].max():
            msg = f"Without chromosome {c!r} the training labels hold a single class; LOCO cannot train that fold."
            raise ValueError(msg)
        check_training_positives(y[tr], chrom[tr], split=split, where=f"The LOCO fold without {c!r}'s training labels")


def _fit_folds(
    X: np.ndarray,
    y: np.ndarray,
    names: list[str],
    chrom: np.ndarray,
    pipv: np.ndarray | None,
    chroms: list[str],
    seeds: dict[str, int],
    fit_kw: dict[str, Any],
) -> dict[str, EMSModel]:
    """Train one model per held-out chromosome of ``chroms`` (folds in parallel threads), with one progress bar."""
    labelled = ~np.isnan(y)
    n_threads = settings.n_threads
    n_parallel = max(1, min(len(chroms), n_threads))
    per_fold = max(1, n_threads // n_parallel)
    logger.info("ems_score LOCO: %d folds, %d in parallel x %d threads", len(chroms), n_parallel, per_fold)
    # one bar over the boosting rounds of all folds: a fold that stops early jumps to the end of its share
    budget = fit_rounds(
        fit_kw["params"],
        early_stopping=fit_kw["early_stopping"],
        refit=fit_kw["refit"],
        calibration=fit_kw["calibration"],
    )
    bar = progress(total=budget * len(chroms), desc=f"ems_score LOCO ({len(chroms)} folds)", unit="round")
    bar_lock = threading.Lock()

    def tick(n: int = 1) -> None:
        with bar_lock:
            bar.update(n)

    def run_fold(c: str) -> tuple[str, EMSModel]:
        rounds = [0]

        def on_round() -> None:
            rounds[0] += 1
            tick()

        tr = labelled & (chrom != c)
        m = fit_model(
            X[tr],
            y[tr].astype(np.int64),
            names,
            chrom=chrom[tr],
            pip=None if pipv is None else pipv[tr],
            seed=seeds[c],
            thread_count=per_fold,
            on_round=on_round,
            **fit_kw,
        )
        tick(max(0, budget - rounds[0]))
        logger.info("ems_score: fold %s done (%d trees)", c, m.metrics["n_trees"])
        return c, m

    models: dict[str, EMSModel] = {}
    try:
        with ThreadPoolExecutor(max_workers=n_parallel) as pool:
            for fut in as_completed([pool.submit(run_fold, c) for c in chroms]):
                c, m = fut.result()
                models[c] = m
    finally:
        bar.close()
    return models


def _same(value: Any, default: Any) -> bool:
    """Whether an option equals its default (mappings by items, other sequences by elements, arrays too)."""
    if value is default:
        return True
    if value is None or default is None:
        return False
    if isinstance(default, dict):
        return isinstance(value, dict) and dict(value) == default
    if isinstance(default, tuple | list):
        try:
            return [str(v) for v in value] == [str(v) for v in default]
        except TypeError:
            return False
    try:
        return bool(value == default)
    except (TypeError, ValueError):
        return False


__all__ = ["ems_score"]

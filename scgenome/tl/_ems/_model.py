"""The sc-EMS model: feature-weighted CatBoost, its feature handling, calibration and storage."""

from __future__ import annotations

import fnmatch
import json
import os
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..._logging import logger
from ..._validation import reading
from ._calibrate import Calibrator, expit, logit, prior_shift
from ._data import check_split_positives

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from catboost import CatBoostClassifier

#: CatBoost parameters of the reference ("model 5" of the xQTL protocol).
REFERENCE_PARAMS: dict[str, Any] = {"depth": 6, "l2_leaf_reg": 3.0, "learning_rate": 0.03, "iterations": 1000}
#: The ``fast`` preset: fewer borders (histogram bins), a higher rate, fewer iterations (with early stopping).
FAST_PARAMS: dict[str, Any] = {
    "depth": 6,
    "l2_leaf_reg": 3.0,
    "learning_rate": 0.06,
    "iterations": 600,
    "border_count": 64,
}
PRESETS = {"reference": REFERENCE_PARAMS, "fast": FAST_PARAMS}
DEFAULT_FEATURE_WEIGHTS: dict[str, float] = {"chrombpnet_positive": 10.0, "tf_positive": 10.0, "diff_*": 10.0}
DEFAULT_ABS_FEATURES: tuple[str, ...] = ("diff_*", "tf_*", "chrombpnet_*")
EARLY_STOPPING_ROUNDS = 50
FORMAT_VERSION = 1
#: Keys an EMS model's JSON file must hold (:meth:`EMSModel.load`).
META_KEYS = ("format", "features", "feature_weights", "weight_report", "abs_features", "params")
# (unmatched patterns, features) already warned about: one warning however many folds are fitted
_WARNED_PATTERNS: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
_WARNED_LOCK = threading.Lock()


def match_pattern(name: str, pattern: str) -> bool:
    """Whether feature ``name`` matches ``pattern``.

    A pattern with a wildcard (``*``, ``?``, ``[``) is a shell glob over the whole name
    (``"diff_*"`` is a prefix pattern: it catches ``diff_32_ENCFF1`` but not ``length_diff``);
    a pattern without one matches names that contain it (``"tf_positive"`` catches
    ``tf_positive_CTCF``).
    """
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern in name


def resolve_weights(
    features: Sequence[str], weights: Mapping[str, float] | None, default: float = 1.0
) -> tuple[np.ndarray, dict[str, list[str]]]:
    """Per-feature weights from patterns, and which features each pattern reached.

    A feature matched by several patterns takes the largest weight. Patterns that match no feature are logged in
    one warning, once per process for the same patterns and features (not once per cross-validation fold).
    """
    w = np.full(len(features), float(default))
    assigned = np.zeros(len(features), dtype=bool)
    report: dict[str, list[str]] = {}
    for pattern, value in (weights or {}).items():
        hit = [i for i, f in enumerate(features) if match_pattern(f, pattern)]
        report[pattern] = [features[i] for i in hit]
        for i in hit:
            w[i] = max(w[i], float(value)) if assigned[i] else float(value)
            assigned[i] = True
    unmatched = tuple(p for p, hit in report.items() if not hit)
    if unmatched:
        key = (unmatched, tuple(features))
        with _WARNED_LOCK:
            new = key not in _WARNED_PATTERNS
            _WARNED_PATTERNS.add(key)
        if new:
            logger.warning(
                "feature weight pattern(s) %s matched none of the %d features; they have no effect "
                "(pass feature_weights=None or patterns of your feature names to silence this)",
                list(unmatched),
                len(features),
            )
    return w, report


def resolve_abs(features: Sequence[str], patterns: Iterable[str] | None) -> list[str]:
    """Features whose values are turned into absolute values."""
    patterns = list(patterns or ())
    return [f for f in features if any(match_pattern(f, p) for p in patterns)]


def prepare_matrix(X: np.ndarray, features: Sequence[str], abs_features: Iterable[str]) -> np.ndarray:
    """Float copy of ``X`` with ``abs_features`` made absolute and +-inf turned into NaN (missing)."""
    X = np.array(X, dtype=np.float32, copy=True)
    X[~np.isfinite(X)] = np.nan
    idx = {f: i for i, f in enumerate(features)}
    cols = [idx[f] for f in abs_features if f in idx]
    if cols:
        X[:, cols] = np.abs(X[:, cols])
    return X


def class_weight_vector(
    y: np.ndarray, kind: Literal["balanced", "pip"] | None, pip: np.ndarray | None = None
) -> np.ndarray | None:
    """Sample weights: ``balanced`` gives ``n / (2 n_class)``; ``pip`` also scales positives by PIP / mean PIP."""
    if kind is None:
        return None
    n = y.size
    n_pos = max(int(y.sum()), 1)
    n_neg = max(n - int(y.sum()), 1)
    w = np.where(y == 1, n / (2 * n_pos), n / (2 * n_neg)).astype(float)
    if kind == "pip":
        if pip is None:
            msg = "class_weights='pip' needs a PIP column in .obs (pip=...)."
            raise ValueError(msg)
        pos = y == 1
        p = np.asarray(pip, dtype=float)[pos]
        w[pos] *= p / p.mean()
    elif kind != "balanced":
        msg = f"class_weights must be 'balanced', 'pip' or None, got {kind!r}."
        raise ValueError(msg)
    return w


def inner_split(chrom: np.ndarray, y: np.ndarray, *, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of inner-validation rows: whole chromosomes (about ``fraction`` of rows, both classes).

    With a single training chromosome, a stratified random ``fraction`` of rows is used instead.
    """
    chroms = np.unique(chrom)
    if chroms.size >= 2:
        order = rng.permutation(chroms)
        mask = np.zeros(y.size, dtype=bool)
        for c in order[:-1]:  # keep at least one chromosome for training
            mask |= chrom == c
            yv = y[mask]
            if mask.mean() >= fraction and 0 < yv.sum() < yv.size:
                break
        ytr = y[~mask]
        if 0 < y[mask].sum() < mask.sum() and 0 < ytr.sum() < ytr.size:
            return mask
    mask = np.zeros(y.size, dtype=bool)
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        k = max(1, round(fraction * idx.size)) if idx.size > 1 else 0
        mask[rng.choice(idx, k, replace=False)] = True
    return mask


class EMSModel:
    """A trained sc-EMS variant scorer.

    Holds a CatBoost classifier, the feature list (order fixed at training), the feature weights
    and which features each weight pattern reached, the columns made absolute, the CatBoost
    parameters, a probability calibrator fitted on held-out training chromosomes and the
    training metrics. Made by :func:`scgenome.tl.ems_train`; saved with :meth:`save` (CatBoost's
    native ``.cbm`` file plus a JSON file, no pickles) and read back with :meth:`load`.

    Attributes
    ----------
    booster
        The :class:`catboost.CatBoostClassifier`.
    features
        Feature names, in training order.
    feature_weights
        Weight of each feature (``{name: weight}``).
    weight_report
        ``{pattern: [features it reached]}``.
    abs_features
        Features turned into absolute values before fitting and scoring.
    params
        CatBoost parameters used.
    calibrator
        :class:`~scgenome.tl._ems._calibrate.Calibrator` or ``None``.
    train_prior
        Positive fraction of the rows the calibrator was fitted on (the prior of the calibrated
        probability).
    metrics
        Training summary (label counts, iterations, held-out metrics when a test split was used).
    """

    def __init__(
        self,
        booster: CatBoostClassifier,
        *,
        features: Sequence[str],
        feature_weights: Mapping[str, float],
        weight_report: Mapping[str, list[str]],
        abs_features: Sequence[str],
        params: Mapping[str, Any],
        calibrator: Calibrator | None = None,
        train_prior: float | None = None,
        metrics: Mapping[str, Any] | None = None,
    ) -> None:
        self.booster = booster
        self.features = list(features)
        self.feature_weights = dict(feature_weights)
        self.weight_report = {k: list(v) for k, v in weight_report.items()}
        self.abs_features = list(abs_features)
        self.params = dict(params)
        self.calibrator = calibrator
        self.train_prior = train_prior
        self.metrics = dict(metrics or {})

    def __repr__(self) -> str:
        n_w = sum(1 for v in self.feature_weights.values() if v != 1.0)
        return (
            f"EMSModel({len(self.features)} features, {n_w} up-weighted, "
            f"{self.booster.tree_count_} trees, calibration={self.calibrator.method if self.calibrator else None})"
        )

    # ---------------------------------------------------------------- features
    def align(self, X: np.ndarray, names: Sequence[str]) -> np.ndarray:
        """Columns of ``X`` (named ``names``) in training order; raise on missing, warn on extra.

        Parameters
        ----------
        X
            Variants x features (dense).
        names
            Feature names of the columns of ``X`` (any order).

        Returns
        -------
        ``X``'s columns of the model's features, in :attr:`features` order.
        """
        names = [str(n) for n in names]
        pos = {n: i for i, n in enumerate(names)}
        missing = [f for f in self.features if f not in pos]
        if missing:
            shown = missing[:20]
            more = f" (and {len(missing) - 20} more)" if len(missing) > 20 else ""
            msg = (
                f"{len(missing)} feature(s) the model was trained on are missing from the data: {shown}{more}. "
                "Build them (e.g. sg.pp.variant_features) or train a model on the features you have."
            )
            raise ValueError(msg)
        extra = [n for n in names if n not in set(self.features)]
        if extra:
            warnings.warn(
                f"{len(extra)} feature(s) not used by the model are ignored: {extra[:10]}",
                UserWarning,
                stacklevel=3,
            )
        cols = [pos[f] for f in self.features]
        return np.asarray(X)[:, cols]

    def _prepared(self, X: np.ndarray, names: Sequence[str] | None) -> np.ndarray:
        if names is not None:
            X = self.align(X, names)
        elif X.shape[1] != len(self.features):
            msg = f"X has {X.shape[1]} columns but the model has {len(self.features)} features; pass names=."
            raise ValueError(msg)
        return prepare_matrix(X, self.features, self.abs_features)

    # ---------------------------------------------------------------- prediction
    def predict_margin(self, X: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        """Raw margin (log-odds on the balanced training prior) of each row.

        Parameters
        ----------
        X
            Variants x features (dense).
        names
            Feature names of the columns of ``X``; ``None`` when they are already in :attr:`features` order.

        Returns
        -------
        One margin per row.
        """
        return np.asarray(self.booster.predict(self._prepared(X, names), prediction_type="RawFormulaVal"), float)

    def predict(self, X: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        """Score in [0, 1] (``expit`` of the margin; CatBoost's ``predict_proba``).

        Parameters
        ----------
        X
            Variants x features (dense).
        names
            Feature names of the columns of ``X``; ``None`` when they are already in :attr:`features` order.

        Returns
        -------
        One score per row.
        """
        return expit(self.predict_margin(X, names))

    def calibrate(self, margin: np.ndarray) -> np.ndarray:
        """Calibrated probability (at :attr:`train_prior`) of raw margins; NaN without a calibrator.

        Parameters
        ----------
        margin
            Raw margins from :meth:`predict_margin`.

        Returns
        -------
        One probability per margin.
        """
        if self.calibrator is None:
            return np.full(np.shape(margin), np.nan)
        return self.calibrator.transform(margin)

    def prior_weights(self, margin: np.ndarray, prior: float) -> np.ndarray:
        """Probability at a genome-wide ``prior``, by a logit shift of the calibrated probability.

        Parameters
        ----------
        margin
            Raw margins from :meth:`predict_margin`.
        prior
            Genome-wide prior probability of a functional variant, in (0, 1).

        Returns
        -------
        One probability per margin (SuSiE prior weights once normalised per locus).
        """
        if self.calibrator is None or self.train_prior is None:
            msg = "prior weights need a calibrated model (train with calibration='platt' or 'isotonic')."
            raise ValueError(msg)
        return prior_shift(self.calibrate(margin), self.train_prior, prior)

    def shap(self, X: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        """SHAP values (CatBoost ``ShapValues``): ``n x (n_features + 1)``, last column the expected value.

        Each row sums to the raw margin.

        Parameters
        ----------
        X
            Variants x features (dense).
        names
            Feature names of the columns of ``X``; ``None`` when they are already in :attr:`features` order.

        Returns
        -------
        The ``n x (n_features + 1)`` array (features in :attr:`features` order).
        """
        from catboost import Pool

        pool = Pool(self._prepared(X, names), feature_names=self.features)
        return np.asarray(self.booster.get_feature_importance(pool, type="ShapValues"), dtype=float)

    @property
    def importance(self) -> np.ndarray:
        """CatBoost ``PredictionValuesChange`` importance of each feature (sums to 100)."""
        return np.asarray(self.booster.get_feature_importance(), dtype=float)

    # ---------------------------------------------------------------- storage
    def _meta(self) -> dict[str, Any]:
        from ..._version import __version__

        return {
            "format": "scgenome-ems",
            "format_version": FORMAT_VERSION,
            "scgenome_version": __version__,
            "features": self.features,
            "feature_weights": self.feature_weights,
            "weight_report": self.weight_report,
            "abs_features": self.abs_features,
            "params": _jsonable(self.params),
            "calibrator": self.calibrator.to_dict() if self.calibrator else None,
            "train_prior": self.train_prior,
            "metrics": _jsonable(self.metrics),
        }

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write ``<path>.cbm`` (CatBoost's native model) and ``<path>.json`` (metadata).

        Parameters
        ----------
        path
            File stem; a ``.cbm`` or ``.json`` suffix is replaced, any other is kept
            (``"gtex.v1"`` writes ``gtex.v1.cbm`` and ``gtex.v1.json``).

        Returns
        -------
        The two paths written.

        Raises
        ------
        ValueError
            When ``path`` cannot be written (a file where a folder is needed, a read-only folder, a folder where
            a model file goes); checked before either file is written.
        """
        from catboost import CatBoostError

        stem = Path(path)
        if stem.suffix in (".cbm", ".json"):
            stem = stem.with_suffix("")
        cbm, meta = stem.with_name(stem.name + ".cbm"), stem.with_name(stem.name + ".json")
        text = json.dumps(self._meta(), indent=1)
        _check_writable(stem, (cbm, meta))
        try:
            stem.parent.mkdir(parents=True, exist_ok=True)
            self.booster.save_model(str(cbm), format="cbm")
            meta.write_text(text)
        except (OSError, CatBoostError) as err:
            msg = f"Cannot write the EMS model to {cbm} and {meta}: {err}. Pass a path in a writable folder."
            raise ValueError(msg) from err
        return cbm, meta

    @classmethod
    def load(cls, path: str | Path) -> EMSModel:
        """Read a model written by :meth:`save`.

        Parameters
        ----------
        path
            The stem given to :meth:`save`, or its ``.cbm`` or ``.json`` file.

        Returns
        -------
        The model, scoring bit-identically to the one saved.

        Raises
        ------
        ValueError
            When a file is missing, truncated or corrupt, the JSON lacks a key, or the two files do not belong
            together; the message names the file.
        """
        from catboost import CatBoostClassifier, CatBoostError

        stem = Path(path)
        if stem.suffix in (".cbm", ".json"):
            stem = stem.with_suffix("")
        cbm, meta_path = stem.with_name(stem.name + ".cbm"), stem.with_name(stem.name + ".json")
        for p in (cbm, meta_path):
            if not p.exists():
                msg = f"Model file {p} not found; EMSModel.save writes both {cbm.name} and {meta_path.name}."
                raise ValueError(msg)
        with reading(meta_path, "EMS model JSON file"):
            meta = json.loads(meta_path.read_bytes().decode("utf-8"))
        if not isinstance(meta, dict) or meta.get("format") != "scgenome-ems":
            msg = f"{meta_path} is not an scgenome EMS model file (no 'format': 'scgenome-ems' entry)."
            raise ValueError(msg)
        missing = [k for k in META_KEYS if k not in meta]
        if missing:
            msg = (
                f"EMS model JSON file {meta_path} lacks the key(s) {missing} (an edited or truncated file?); "
                f"EMSModel.save writes {list(META_KEYS)}. Re-save the model."
            )
            raise ValueError(msg)
        version = meta.get("format_version", FORMAT_VERSION)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            msg = (
                f"EMS model JSON file {meta_path} has format_version {version!r}; this scgenome reads up to "
                f"{FORMAT_VERSION}. Upgrade scgenome."
            )
            raise ValueError(msg)
        cal = meta.get("calibrator")
        try:
            calibrator = Calibrator.from_dict(cal) if cal else None
        except (KeyError, TypeError, ValueError) as err:
            msg = f"EMS model JSON file {meta_path}: its 'calibrator' entry {cal!r} is not valid ({err}). Re-save it."
            raise ValueError(msg) from err
        booster = CatBoostClassifier()
        with reading(cbm, "CatBoost model file (.cbm)", errors=(CatBoostError,)):
            booster.load_model(str(cbm), format="cbm")
        n_model = len(booster.feature_names_ or ())
        if n_model != len(meta["features"]):
            msg = (
                f"{cbm} has {n_model} features but {meta_path} lists {len(meta['features'])}: the two files are "
                "not from the same EMSModel.save. Keep the pair together."
            )
            raise ValueError(msg)
        return cls(
            booster,
            features=meta["features"],
            feature_weights=meta["feature_weights"],
            weight_report=meta["weight_report"],
            abs_features=meta["abs_features"],
            params=meta["params"],
            calibrator=calibrator,
            train_prior=meta.get("train_prior"),
            metrics=meta.get("metrics"),
        )


def _check_writable(stem: Path, targets: Sequence[Path]) -> None:
    """Raise a ValueError, before anything is written, when the model files under ``stem`` cannot be written."""
    parent = stem.parent
    existing = next((a for a in (parent, *parent.parents) if a.exists()), None)
    why = None
    if existing is not None and not existing.is_dir():
        why = f"{existing} is a file, not a folder"
    elif existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        why = f"the folder {existing} is not writable"
    else:
        folder = next((t for t in targets if t.is_dir()), None)
        if folder is not None:
            why = f"{folder} is a folder"
        else:
            locked = next((t for t in targets if t.exists() and not os.access(t, os.W_OK)), None)
            if locked is not None:
                why = f"{locked} exists and is read-only"
    if why:
        msg = f"Cannot save the EMS model to {stem} ({targets[0].name}, {targets[1].name}): {why}. Pass another path."
        raise ValueError(msg)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


class _RoundCallback:
    """CatBoost ``callbacks=`` object that calls ``fn()`` after every boosting round and never stops training."""

    def __init__(self, fn: Callable[[], None]) -> None:
        self.fn = fn

    def after_iteration(self, info: Any) -> bool:
        self.fn()
        return True


def fit_rounds(params: Mapping[str, Any], *, early_stopping: bool, refit: bool, calibration: str | None) -> int:
    """Most boosting rounds :func:`fit_model` runs with these options (its ``on_round`` calls, at most)."""
    iterations = int({**REFERENCE_PARAMS, **params}["iterations"])
    if early_stopping:
        return iterations * (2 if refit else 1)
    return iterations * (2 if calibration is not None else 1)


def fit_model(
    X: np.ndarray,
    y: np.ndarray,
    features: Sequence[str],
    *,
    chrom: np.ndarray,
    pip: np.ndarray | None = None,
    feature_weights: Mapping[str, float] | None = None,
    default_weight: float = 1.0,
    abs_features: Iterable[str] | None = DEFAULT_ABS_FEATURES,
    params: Mapping[str, Any] | None = None,
    class_weights: Literal["balanced", "pip"] | None = "balanced",
    early_stopping: bool = True,
    calibration: Literal["platt", "isotonic"] | None = "platt",
    validation_fraction: float = 0.2,
    refit: bool = False,
    seed: int = 0,
    thread_count: int = 1,
    on_round: Callable[[], None] | None = None,
) -> EMSModel:
    """Fit one EMS model on arrays (no AnnData). See :func:`scgenome.tl.ems_train`.

    ``on_round`` is called after every boosting round of every CatBoost fit (for progress bars).
    """
    from catboost import CatBoostClassifier, Pool

    callbacks = None if on_round is None else [_RoundCallback(on_round)]

    features = [str(f) for f in features]
    weights, report = resolve_weights(features, feature_weights, default_weight)
    abs_cols = resolve_abs(features, abs_features)
    Xp = prepare_matrix(X, features, abs_cols)
    y = np.asarray(y, dtype=np.int64)
    chrom = np.asarray(chrom).astype(str)
    rng = np.random.default_rng(seed)
    cb_params: dict[str, Any] = {**REFERENCE_PARAMS, **(params or {})}
    cb_params.update(
        loss_function="Logloss",
        random_seed=int(seed),
        thread_count=int(thread_count),
        verbose=False,
        allow_writing_files=False,
        feature_weights=weights.tolist(),
    )
    need_split = early_stopping or calibration is not None
    val = inner_split(chrom, y, fraction=validation_fraction, rng=rng) if need_split else np.zeros(y.size, bool)
    if need_split:
        check_split_positives(y, val, chrom)  # a part without positives: degenerate calibration (prior 0)
    sw = class_weight_vector(y, class_weights, pip)

    def pool(mask: np.ndarray) -> Pool:
        return Pool(Xp[mask], y[mask], feature_names=features, weight=None if sw is None else sw[mask])

    metrics: dict[str, Any] = {"n_train": int(y.size), "n_positive": int(y.sum()), "n_negative": int((y == 0).sum())}
    if early_stopping:
        booster = CatBoostClassifier(
            **cb_params, od_type="Iter", od_wait=EARLY_STOPPING_ROUNDS, eval_metric="Logloss", use_best_model=True
        )
        booster.fit(pool(~val), eval_set=pool(val), callbacks=callbacks)
        val_margin = np.asarray(booster.predict(Xp[val], prediction_type="RawFormulaVal"), float)
        metrics["best_iteration"] = int(booster.get_best_iteration())
        if refit:
            # the chosen number of trees, refitted on all training chromosomes
            inner = booster
            booster = CatBoostClassifier(**{**cb_params, "iterations": max(1, int(inner.tree_count_))})
            booster.fit(pool(np.ones(y.size, bool)), callbacks=callbacks)
            # calibrate the refitted model through the inner model's held-out margins (same trees count)
    else:
        booster = CatBoostClassifier(**cb_params)
        booster.fit(pool(np.ones(y.size, bool)), callbacks=callbacks)
        val_margin = None
        if calibration is not None:
            # margins of held-out rows from a twin model that never saw them
            twin = CatBoostClassifier(**cb_params)
            twin.fit(pool(~val), callbacks=callbacks)
            val_margin = np.asarray(twin.predict(Xp[val], prediction_type="RawFormulaVal"), float)
    metrics["n_trees"] = int(booster.tree_count_)
    metrics["validation_chromosomes"] = sorted(set(chrom[val].tolist()))
    calibrator, prior = None, None
    if calibration is not None:
        calibrator = Calibrator(calibration).fit(val_margin, y[val])
        prior = float(y[val].mean())
    params_out = {k: v for k, v in cb_params.items() if k not in ("feature_weights", "thread_count", "verbose")}
    params_out.update(
        early_stopping=early_stopping,
        refit=bool(refit and early_stopping),
        class_weights=class_weights,
        calibration=calibration,
    )
    return EMSModel(
        booster,
        features=features,
        feature_weights=dict(zip(features, weights.tolist(), strict=True)),
        weight_report=report,
        abs_features=abs_cols,
        params=params_out,
        calibrator=calibrator,
        train_prior=prior,
        metrics=metrics,
    )


__all__ = [
    "DEFAULT_ABS_FEATURES",
    "DEFAULT_FEATURE_WEIGHTS",
    "FAST_PARAMS",
    "PRESETS",
    "REFERENCE_PARAMS",
    "EMSModel",
    "expit",
    "fit_model",
    "fit_rounds",
    "logit",
    "match_pattern",
    "resolve_abs",
    "resolve_weights",
]

"""Design matrices from formulaic formulas over ``adata.obs``, with a stored, h5ad-safe spec.

The spec (:class:`dict` of strings and lists only) is enough to rebuild the same design matrix for
new cells after :func:`anndata.write_h5ad` / :func:`anndata.read_h5ad`: the formula as given, the
``obs`` columns it used (all columns at fit time for ``~ .``), the kind of each column, the
levels of each categorical column and, as a JSON string, formulaic's state of the fit: the
categories of each categorical term (``C(batch)`` on an integer column included) and the state of
stateful transforms (``center``, ``scale``, ``bs``, ``poly``: means, scales, knots), so new cells
are centred, scaled and given spline bases by the fitted cells' values, not their own.
"""

from __future__ import annotations

import json
import re
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..._validation import check_no_nan

if TYPE_CHECKING:
    from collections.abc import Mapping

_DOT = re.compile(r"(^|[~+\-*:(\s])\.(?=\s*($|[+\-*:)]))")


def _uses_dot(formula: str) -> bool:
    """Whether ``formula`` uses ``.`` (all columns)."""
    rhs = formula.split("~", 1)[-1]
    return bool(_DOT.search(" " + rhs))


def _normalise_column(values: pd.Series, levels: list[str] | None = None) -> pd.Series:
    """Strings, objects and categoricals become categoricals with string levels."""
    if levels is not None:
        as_str = values.astype(str)
        return pd.Series(pd.Categorical(as_str, categories=levels), index=values.index, name=values.name)
    if isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == object or pd.api.types.is_string_dtype(values):
        as_str = values.astype(str)
        if isinstance(values.dtype, pd.CategoricalDtype):
            used = set(as_str)
            cats = [str(c) for c in values.cat.categories if str(c) in used]
        else:
            cats = sorted(set(as_str))
        return pd.Series(pd.Categorical(as_str, categories=cats), index=values.index, name=values.name)
    return values


def _is_categorical(values: pd.Series) -> bool:
    return (
        isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == object or pd.api.types.is_string_dtype(values)
    )


def _model_matrix(formula: str, frame: pd.DataFrame, state: str | None = None):
    """Build the model matrix of ``formula`` over ``frame``, with the fitted spec's ``state`` when given.

    With ``state`` (see :func:`_dump_state`) stateful transforms and categorical terms keep the fit's values.
    """
    import formulaic
    from formulaic.errors import DataMismatchWarning

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DataMismatchWarning)
            if state is None:
                return formulaic.model_matrix(formula, frame, na_action="raise")
            return _load_state(formula, state, list(frame.columns)).get_model_matrix(frame)
    except DataMismatchWarning as err:
        seen = str(err).split(" They are being", 1)[0]
        msg = f"The cells have values the fit did not see (formula {formula!r}); the model cannot predict for them. {seen}"
        raise ValueError(msg) from err
    except Exception as err:  # formulaic raises several of its own error types
        msg = (
            f"Could not build a design matrix from formula {formula!r}: {err} "
            f"Columns available in .obs: {list(frame.columns)}."
        )
        raise ValueError(msg) from err


def _encode(x: Any) -> Any:
    """JSON-safe form of formulaic's state (dict keys and numpy scalars keep their types)."""
    if isinstance(x, dict):
        return {"__dict__": [[_encode(k), _encode(v)] for k, v in x.items()]}
    if isinstance(x, tuple):
        return {"__tuple__": [_encode(v) for v in x]}
    if isinstance(x, list):
        return [_encode(v) for v in x]
    if isinstance(x, np.ndarray):
        return {"__array__": _encode(x.tolist())}
    if isinstance(x, pd.Timestamp | np.datetime64):
        return {"__timestamp__": pd.Timestamp(x).isoformat()}
    if isinstance(x, pd.Timedelta | np.timedelta64):
        return {"__timedelta__": pd.Timedelta(x).isoformat()}
    if isinstance(x, np.generic):
        return x.item()
    if x is None or isinstance(x, bool | int | float | str):
        return x
    msg = (
        f"The formula's state holds a value of type {type(x).__name__} that cannot be stored with the fit; code that "
        "covariate as numbers or strings in obs first."
    )
    raise ValueError(msg)


def _decode(x: Any) -> Any:
    if isinstance(x, dict):
        if "__dict__" in x:
            return {_decode(k): _decode(v) for k, v in x["__dict__"]}
        if "__tuple__" in x:
            return tuple(_decode(v) for v in x["__tuple__"])
        if "__array__" in x:
            return np.asarray(_decode(x["__array__"]))
        if "__timestamp__" in x:
            return pd.Timestamp(x["__timestamp__"])
        if "__timedelta__" in x:
            return pd.Timedelta(x["__timedelta__"])
    if isinstance(x, list):
        return [_decode(v) for v in x]
    return x


def _dump_state(model_spec) -> str:
    """Serialise the transform state and the categorical terms' categories of a formulaic spec to JSON."""
    categories = {
        str(term): list(state.get("categories", []))
        for term, (kind, state) in model_spec.encoder_state.items()
        if getattr(kind, "value", kind) == "categorical"
    }
    return json.dumps({"transform_state": _encode(dict(model_spec.transform_state)), "categories": _encode(categories)})


def _load_state(formula: str, state: str, variables: list[str]):
    from formulaic import Formula, ModelSpec
    from formulaic.parser.types import Factor

    raw = json.loads(state)
    encoder_state = {
        term: (Factor.Kind.CATEGORICAL, {"categories": cats}) for term, cats in _decode(raw["categories"]).items()
    }
    return ModelSpec(
        # the columns ``.`` stands for (those of the fit, the only ones the rebuilt frame holds)
        formula=Formula(formula, _context={"__formulaic_variables_available__": variables}),
        transform_state=_decode(raw["transform_state"]),
        encoder_state=encoder_state,
        na_action="raise",
    )


def collinear_columns(matrix: np.ndarray, names: list[str], *, rtol: float = 1e-9) -> list[str]:
    """Names of the columns involved in a linear dependency (empty when full column rank)."""
    if matrix.shape[1] == 0:
        return []
    scale = np.sqrt((matrix**2).mean(axis=0))
    zero = [names[j] for j in np.flatnonzero(scale == 0)]
    scaled = matrix / np.where(scale == 0, 1.0, scale)
    _, s, vt = np.linalg.svd(scaled, full_matrices=False)
    tol = rtol * max(scaled.shape) * (s[0] if s.size else 1.0)
    null = vt[s <= tol]
    rank_gap = matrix.shape[1] - int((s > tol).sum())
    if rank_gap == 0:
        return []
    involved = np.flatnonzero((np.abs(null) > 1e-6).any(axis=0)) if null.size else np.array([], dtype=int)
    out = [names[j] for j in involved]
    return out or zero


def build_design(
    obs: pd.DataFrame, formula: str, *, what: str = "mean", dot_exclude: tuple[str, ...] = ()
) -> tuple[np.ndarray, dict[str, Any]]:
    """Build the design matrix of ``formula`` over ``obs`` and its h5ad-safe spec.

    ``dot_exclude``: columns that ``.`` does not stand for (the size factors, an offset). Raises a
    ``ValueError`` for missing values in the used columns, unknown terms, an empty design or a
    rank-deficient design (naming the collinear columns).
    """
    if not isinstance(formula, str) or "~" not in formula:
        msg = f"The {what} formula must be a string such as '~ 1' or '~ x + C(batch)', got {formula!r}."
        raise ValueError(msg)
    if _uses_dot(formula):
        used = [c for c in obs.columns if c not in dot_exclude]
        check_no_nan(obs, used, what=f"{what} covariate")
        frame = pd.DataFrame({c: _normalise_column(obs[c]) for c in used}, index=obs.index)
        mm = _model_matrix(formula, frame)
    else:
        frame = pd.DataFrame({c: _normalise_column(obs[c]) for c in obs.columns}, index=obs.index)
        import formulaic

        try:
            required = {str(v) for v in formulaic.Formula(formula).required_variables}
        except Exception as err:  # a syntax error in the formula
            msg = f"Could not parse the {what} formula {formula!r}: {err}"
            raise ValueError(msg) from err
        check_no_nan(obs, [c for c in obs.columns if c in required], what=f"{what} covariate")
        mm = _model_matrix(formula, frame)
        keys = set(mm.model_spec.encoder_state) | required | {str(v) for v in mm.model_spec.required_variables}
        used = [c for c in obs.columns if c in keys]
        frame = frame[used]
    names = [str(c) for c in mm.columns]
    matrix = np.asarray(mm, dtype=np.float64)
    if matrix.shape[1] == 0:
        msg = f"The {what} formula {formula!r} gives an empty design (no columns); use at least '~ 1'."
        raise ValueError(msg)
    if matrix.shape[0] != len(obs):
        msg = f"The {what} design has {matrix.shape[0]} rows for {len(obs)} cells; check for missing values."
        raise ValueError(msg)
    bad = collinear_columns(matrix, names)
    if bad:
        msg = (
            f"The {what} design of formula {formula!r} is rank deficient "
            f"(rank {np.linalg.matrix_rank(matrix)} < {matrix.shape[1]} columns); collinear columns: {bad}. "
            "Remove one of the collinear covariates from the formula."
        )
        raise ValueError(msg)
    spec = {
        "formula": formula,
        "dot": bool(_uses_dot(formula)),
        "variables": list(used),
        "categorical": [c for c in used if _is_categorical(frame[c])],
        "levels": {c: [str(x) for x in frame[c].cat.categories] for c in used if _is_categorical(frame[c])},
        "columns": names,
        "state": _dump_state(mm.model_spec),
    }
    return matrix, spec


def rebuild_design(obs: pd.DataFrame, spec: Mapping[str, Any], *, what: str = "mean") -> np.ndarray:
    """Rebuild the design matrix of a stored ``spec`` for (new) cells ``obs``."""
    variables = [str(v) for v in np.atleast_1d(spec.get("variables", [])) if str(v) != ""]
    missing = [v for v in variables if v not in obs.columns]
    if missing:
        msg = f"Column(s) {missing} needed by the {what} formula {spec['formula']!r} are missing from obs."
        raise ValueError(msg)
    check_no_nan(obs, variables, what=f"{what} covariate")
    categorical = {str(c) for c in np.atleast_1d(spec.get("categorical", []))}
    levels = spec.get("levels", {}) or {}
    cols = {}
    for v in variables:
        if v in categorical:
            lv = [str(x) for x in np.atleast_1d(levels[v])]
            values = obs[v].astype(str)
            new = sorted(set(values) - set(lv))
            if new:
                msg = (
                    f"Column {v!r} has level(s) {new[:10]} not seen when fitting (known levels: {lv}); "
                    "the model cannot predict for them."
                )
                raise ValueError(msg)
            cols[v] = _normalise_column(values, lv)
        else:
            if _is_categorical(obs[v]):
                msg = f"Column {v!r} was numeric when fitting but is {obs[v].dtype} now."
                raise ValueError(msg)
            cols[v] = obs[v]
    frame = pd.DataFrame(cols, index=obs.index)
    state = spec.get("state")  # absent in fits saved before it was stored
    mm = _model_matrix(str(spec["formula"]), frame, None if state is None else str(state))
    names = [str(c) for c in mm.columns]
    expected = [str(c) for c in np.atleast_1d(spec["columns"])]
    if names != expected:
        msg = f"Rebuilt {what} design has columns {names}, expected {expected}."
        raise ValueError(msg)
    return np.asarray(mm, dtype=np.float64)

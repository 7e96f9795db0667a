"""AnnData-facing count models: :func:`negbin_fit`, :func:`negbin_predict`, :func:`negbin_sample`."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import expit

from ..._logging import logger
from ..._settings import settings
from ..._utils import get_rng, progress, to_memory
from ..._validation import check_copy_backed, check_counts, check_nonempty
from ...pp._genotypes import is_backed_csr
from ._design import build_design, rebuild_design

if TYPE_CHECKING:
    from collections.abc import Mapping

    from anndata import AnnData

_PREDICTORS = ("mean", "dispersion", "zero_inflation")
_N_PRED = {"poisson": 1, "nb": 2, "zinb": 3}
#: ``var[f"{key}_status"]`` categories, in the order a gene is assigned the first that applies (last to first).
_STATUSES = ("ok", "dispersion_at_bound", "separated", "not_converged", "no_counts")
#: Largest linear predictor whose exponential is a finite float64 (about 709.78); smallest with a positive one.
_LOG_MAX = float(np.log(np.finfo(np.float64).max))
_LOG_TINY = float(np.log(np.finfo(np.float64).tiny))


def _parse_formulas(formulas: str | Mapping[str, str], family: str) -> dict[str, str]:
    if isinstance(formulas, str):
        formulas = {"mean": formulas}
    if not isinstance(formulas, dict | pd.Series) and not hasattr(formulas, "keys"):
        msg = f"formulas must be a string or a dict with keys {list(_PREDICTORS)}, got {type(formulas).__name__}."
        raise ValueError(msg)
    unknown = [k for k in formulas if k not in _PREDICTORS]
    if unknown:
        msg = f"Unknown formula key(s) {unknown}; use {list(_PREDICTORS)}."
        raise ValueError(msg)
    if "mean" not in formulas:
        msg = "formulas needs a 'mean' formula, e.g. {'mean': '~ x', 'dispersion': '~ 1'}."
        raise ValueError(msg)
    out = {"mean": formulas["mean"]}
    if family in ("nb", "zinb"):
        out["dispersion"] = formulas.get("dispersion", "~ 1")
    elif "dispersion" in formulas:
        msg = "family='poisson' has no dispersion; drop formulas['dispersion'] or use family='nb'."
        raise ValueError(msg)
    if family == "zinb":
        out["zero_inflation"] = formulas.get("zero_inflation", "~ 1")
    elif "zero_inflation" in formulas:
        msg = f"family={family!r} has no zero inflation; use family='zinb' for formulas['zero_inflation']."
        raise ValueError(msg)
    return out


def _size_factors(adata: AnnData, size_factors, *, array_column: str) -> tuple[np.ndarray | None, str]:
    """Size factors and their obs column (``array_column`` for an array: written to obs with the results)."""
    if size_factors is None:
        return None, ""
    if isinstance(size_factors, str):
        if size_factors not in adata.obs.columns:
            msg = f"size_factors column {size_factors!r} not found in .obs; available: {list(adata.obs.columns)}."
            raise ValueError(msg)
        values, name = adata.obs[size_factors].to_numpy(dtype=np.float64), size_factors
    else:
        values, name = np.asarray(size_factors, dtype=np.float64).ravel(), array_column
        if values.shape[0] != adata.n_obs:
            msg = f"size_factors has {values.shape[0]} values for {adata.n_obs} cells."
            raise ValueError(msg)
    if not np.isfinite(values).all() or (values <= 0).any():
        msg = "size_factors must be finite and positive for every cell."
        raise ValueError(msg)
    return values, name


def _matrix(adata: AnnData, layer: str | None):
    if layer is None:
        return adata.X
    if layer not in adata.layers:
        msg = f"Layer {layer!r} not found; available layers: {list(adata.layers)}."
        raise ValueError(msg)
    return adata.layers[layer]


def _is_dask(x) -> bool:
    return hasattr(x, "dask") and hasattr(x, "compute")


def _in_memory(x) -> bool:
    return isinstance(x, np.ndarray) or sp.issparse(x)


def _is_sparse(x) -> bool:
    """Whether ``x`` is sparse: a scipy matrix, a backed sparse dataset, or a dask array of sparse chunks."""
    from anndata.abc import CSCDataset, CSRDataset

    if sp.issparse(x) or isinstance(x, (CSRDataset, CSCDataset)):
        return True
    return bool(_is_dask(x) and sp.issparse(getattr(x, "_meta", None)))


def _read_columns(x, lo: int, hi: int, *, rows_per_read: int):
    """Columns ``lo:hi`` of an out-of-core matrix, in memory (numpy or CSC), without reading the others.

    A backed CSR dataset is read ``rows_per_read`` rows at a time (its column slice would load it whole).
    """
    if is_backed_csr(x):
        n = x.shape[0]
        parts = [x[r : min(n, r + rows_per_read)][:, lo:hi] for r in range(0, n, rows_per_read)]
        return sp.vstack(parts, format="csc")
    part = x[:, lo:hi]
    part = part.compute() if _is_dask(part) else part
    return part.tocsc() if sp.issparse(part) else np.asarray(part)


def _gene_blocks(x_mat, chunk: int, *, what: str):
    """Yield ``(gene indices, dense cells x genes block)`` over the genes with counts, in gene order.

    Blocks hold at most ``chunk`` expressed genes. A matrix that is not in memory (dask, backed) is never read
    whole: about ``chunk`` genes are read at a time (a dask array's reads follow its column chunks when they are
    narrower, so each chunk is read once; a matrix stored by cells is read again for each block, which bounds
    the memory at the cost of time), each read checked as counts before its genes are fitted.
    """
    if _in_memory(x_mat):
        yield from _expressed_blocks(x_mat.tocsc() if sp.issparse(x_mat) else np.asarray(x_mat), chunk)
        return
    n_genes = x_mat.shape[1]
    edges = np.cumsum((0, *x_mat.chunks[1])) if _is_dask(x_mat) else np.array([0, n_genes])
    # split column chunks wider than `chunk`; then merge narrow neighbours up to about `chunk` genes
    cuts = np.unique(np.concatenate([edges, *(np.arange(a, b, chunk) for a, b in itertools.pairwise(edges))]))
    rows_per_read = max(1, int(4e6 // max(1, chunk)))
    reads, lo, prev = [], 0, 0
    for c in cuts[1:]:  # greedy: consecutive cuts are at most `chunk` apart
        if c - lo > chunk:
            reads.append((lo, prev))
            lo = prev
        prev = int(c)
    reads.append((lo, n_genes))
    for lo, hi in reads:
        part = _read_columns(x_mat, lo, hi, rows_per_read=rows_per_read)
        check_counts(part, what=what)
        yield from _expressed_blocks(part, chunk, offset=lo)


def _expressed_blocks(mat, chunk: int, *, offset: int = 0):
    """``(offset + gene indices, dense block)`` of at most ``chunk`` genes with counts of ``mat`` (dense or CSC)."""
    expressed = np.flatnonzero(np.asarray(mat.sum(axis=0)).ravel() > 0)
    for start in range(0, expressed.size, chunk):
        idx = expressed[start : start + chunk]
        block = mat[:, idx]
        yield offset + idx, block.toarray() if sp.issparse(block) else np.asarray(block)


def _default_chunk(n_cells: int, n_params: int) -> int:
    return int(max(16, min(4096, 4e6 / max(n_cells, 1) / max(1.0, n_params / 4))))


def negbin_fit(
    adata: AnnData,
    formulas: str | Mapping[str, str],
    *,
    layer: str | None = None,
    size_factors: str | np.ndarray | None = None,
    family: Literal["nb", "poisson", "zinb"] = "nb",
    information: Literal["expected", "observed"] | None = None,
    key_added: str = "negbin",
    max_iter: int = 100,
    tol: float = 1e-6,
    device: str = "auto",
    chunk_size: int | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Fit a negative-binomial (or Poisson / zero-inflated NB) regression to every gene.

    For gene ``g`` and cell ``i``: ``mu_ig = s_i exp(x_i' beta_g)``, NB size
    ``r_ig = exp(z_i' gamma_g)`` (``Var = mu + mu^2 / r``) and, for ``family="zinb"``, a
    zero-inflation probability ``pi_ig = logistic(w_i' zeta_g)``. The maximum-likelihood estimate is
    computed by batched Newton iterations in torch float64, genes processed in chunks.

    Parameters
    ----------
    adata
        Cells x genes AnnData with raw integer counts in ``X`` or ``layer``: dense, sparse, or out of core (a
        ``backed="r"`` AnnData, or a dask array from ``anndata.experimental.read_elem_lazy``), which is read
        about ``chunk_size`` genes at a time and never whole (a matrix stored by cells is read again for each
        block), each read checked as counts before its genes are fitted (``copula=True`` sampling reads it whole).
    formulas
        ``{"mean": ..., "dispersion": ..., "zero_inflation": ...}`` formulaic formulas over
        ``adata.obs`` (``~ .`` for all columns, categoricals, ``C(batch)`` on integer codes,
        interactions, ``- 1``, and stateful transforms such as ``bs(pseudotime, df=5)``,
        ``center(x)``, ``scale(x)``, ``poly(x, degree=2)``, whose knots, means and scales stay
        those of the fitted cells when predicting for new ones), or a string for the mean alone. ``dispersion`` and ``zero_inflation`` default to ``"~ 1"``.
    layer
        Layer holding the counts; ``None`` uses ``X``.
    size_factors
        An ``obs`` column or an array of positive per-cell factors, entered as ``log`` offset. An
        array is written to ``obs[f"{key_added}_size_factors"]`` (a copy), so that predicting or
        sampling the fitted cells, or a subset of them (``obs=None``), uses it again.
    family
        ``"nb"`` (negative binomial), ``"poisson"`` or ``"zinb"`` (zero-inflated NB).
    information
        Which information matrix the standard errors invert. ``"expected"`` (the default for ``"nb"`` and
        ``"poisson"``): for the mean coefficients the expected (Fisher) information at the fitted
        dispersion, ``X' W X`` with ``W = mu / (1 + mu / r)``, which MASS::glm.nb, DESeq2 and glmGamPoi
        report, so Wald tests agree with theirs; for the dispersion coefficients the observed information
        of their own block (see Notes). ``"observed"``: the inverse of the joint observed information
        (the exact Hessian), which also carries the dispersion's uncertainty into the mean coefficients;
        the only choice for ``"zinb"`` (its default). For Poisson both are the same.
    key_added
        Prefix of the results.
    max_iter
        Maximum Newton iterations per gene.
    tol
        Convergence when the largest absolute score (gradient) of a gene is below ``tol``.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda"`` (see ``sg.settings.torch_device``).
    chunk_size
        Genes per chunk (per read of a dask matrix); ``None`` picks it from the number of cells (about 4 million
        counts).
    copy
        Return a modified copy instead of writing into ``adata``.

    Returns
    -------
    ``None``, or the modified copy when ``copy=True``. Writes

    ``adata.varm[f"{key_added}_mean"]``
        genes x mean terms DataFrame of ``beta`` (NaN for genes with no counts).
    ``adata.varm[f"{key_added}_dispersion"]``
        genes x dispersion terms DataFrame of ``gamma`` (log NB size; not for ``"poisson"``).
    ``adata.varm[f"{key_added}_zero_inflation"]``
        genes x zero-inflation terms DataFrame (logit scale; ``"zinb"`` only).
    ``adata.varm[f"{key_added}_mean_se"]``, ``..._dispersion_se``, ``..._zero_inflation_se``
        standard errors from the inverse ``information`` (NaN where it is singular).
    ``adata.var[f"{key_added}_converged"]``
        whether the optimiser converged, i.e. reached a point where the score is below ``tol`` (False for
        all-zero genes and non-converged fits). It does not say that the parameters are identified: see
        ``..._boundary`` and ``..._status``.
    ``adata.var[f"{key_added}_boundary"]``
        whether the maximum of the likelihood lies on the boundary of the parameter space (at infinity),
        so that some coefficients are not identified: the NB size is at its bound or the mean is
        separated (see ``..._status``). Like glmGamPoi's overdispersion of 0 or DESeq2's flags, the
        estimates are kept (finite, usable for prediction and sampling) and flagged.
    ``adata.var[f"{key_added}_status"]``
        categorical, the first that applies: ``"no_counts"`` (all-zero gene, NaN parameters),
        ``"not_converged"``, ``"separated"`` (some cells with no counts can have their means pushed to 0
        while the others stay, e.g. no counts in one level of a categorical covariate: a mean coefficient
        is at plus or minus infinity, its estimate and standard error are arbitrary, its Wald test
        meaningless), ``"dispersion_at_bound"`` (the NB size ``r`` of some cell is at least ``1e4``, the
        start's bound, kept or passed when the counts show no overdispersion, e.g. genes with counts in a
        few cells, or a single cell: the likelihood rises toward the Poisson limit ``r = inf``, so the
        dispersion coefficients and their standard errors are not identified, while the mean coefficients
        are those of the Poisson limit and stay usable), ``"ok"``. A separated gene can also have its
        dispersion at the bound.
    ``adata.var[f"{key_added}_loglik"]``
        maximised log-likelihood per gene.
    ``adata.var[f"{key_added}_n_iter"]``
        Newton iterations per gene.
    ``adata.uns[key_added]``
        ``family``, ``formulas``, ``terms`` and ``design`` (formula, variables, categorical levels,
        formulaic's state of stateful transforms such as ``bs(pseudotime, df=5)``: what
        :func:`negbin_predict` needs to rebuild design matrices), ``params`` (settings;
        ``size_factors`` names the ``obs`` column used, ``information`` the information used for the
        standard errors), ``status`` (number of genes of each ``..._status``).
    ``adata.obs[f"{key_added}_size_factors"]``
        the size factors, when they were given as an array (``~ .`` never takes the size-factor
        column as a covariate).

    Notes
    -----
    The flagged genes are counted in one warning of the package logger. The expected cross information
    of the NB's log mean and log size is zero (``E[r mu (y - mu) / (r + mu)^2] = 0``; Lawless 1987), so
    the joint expected information is block-diagonal: the mean standard errors of
    ``information="expected"`` are those of the mean block alone, exactly as at a known dispersion
    (MASS::glm.nb's ``summary``). The expected dispersion block is an infinite series in trigamma
    values; the observed information of the dispersion block (the mean fixed), which estimates it
    consistently, is used instead: for ``"dispersion": "~ 1"`` this is MASS's ``SE.theta`` (on the log
    scale, ``SE.theta / theta``).

    Start: Poisson IRLS for ``beta`` and the method-of-moments NB size for ``gamma``; then joint
    Newton on all coefficients with the exact Hessian (digamma/trigamma terms), Levenberg damping
    where it is not negative definite and a per-gene step-halving line search
    (McCullagh & Nelder 1989; the same model as glmGamPoi, Ahlmann-Eltze & Huber 2020, and
    scDesigner's ``NegBinRegressionSimulator``, which fits it by stochastic gradient descent).

    Examples
    --------
    >>> import numpy as np, pandas as pd, anndata as ad
    >>> import scgenome as sg
    >>> rng = np.random.default_rng(0)
    >>> obs = pd.DataFrame({"x": rng.normal(size=500)}, index=[f"c{i}" for i in range(500)])
    >>> mu = np.exp(1.0 + 0.5 * obs["x"].to_numpy())[:, None]
    >>> adata = ad.AnnData(rng.negative_binomial(2.0, 2.0 / (2.0 + mu), size=(500, 5)).astype(float), obs=obs)
    >>> sg.tl.negbin_fit(adata, {"mean": "~ x", "dispersion": "~ 1"})
    >>> bool(adata.var["negbin_converged"].all())
    True
    """
    import torch

    if family not in _N_PRED:
        msg = f"family must be one of {list(_N_PRED)}, got {family!r}."
        raise ValueError(msg)
    if information not in (None, "expected", "observed"):
        msg = f"information must be 'expected', 'observed' or None, got {information!r}."
        raise ValueError(msg)
    if information is None:
        information = "observed" if family == "zinb" else "expected"
    if family == "zinb" and information == "expected":
        msg = (
            "information='expected' is not available for family='zinb' (its expected information has no closed "
            "form); use information='observed'."
        )
        raise ValueError(msg)
    check_nonempty(adata)
    check_copy_backed(adata, copy, "sg.tl.negbin_fit")
    formulas = _parse_formulas(formulas, family)
    x_mat = _matrix(adata, layer)
    what = f"counts in {'X' if layer is None else f'layer {layer!r}'}"
    if _in_memory(x_mat):  # others are checked block by block as they are read (once), before anything is written
        check_counts(x_mat, what=what)
    sf, sf_name = _size_factors(adata, size_factors, array_column=f"{key_added}_size_factors")
    designs, specs = [], {}
    for name in _PREDICTORS[: _N_PRED[family]]:
        # "~ ." stands for the covariates, never for the size factors (an offset, not a covariate)
        d, spec = build_design(adata.obs, formulas[name], what=name, dot_exclude=(sf_name, f"{key_added}_size_factors"))
        designs.append(d)
        specs[name] = spec
    if max_iter < 1 or tol <= 0:
        msg = f"max_iter must be >= 1 and tol > 0, got max_iter={max_iter}, tol={tol}."
        raise ValueError(msg)

    dev = settings.torch_device(device)
    n_cells, n_genes = adata.shape
    k = sum(d.shape[1] for d in designs)
    chunk = int(chunk_size) if chunk_size is not None else _default_chunk(n_cells, k)
    if chunk < 1:
        msg = f"chunk_size must be positive, got {chunk_size}."
        raise ValueError(msg)
    tdesigns = [torch.as_tensor(d, dtype=torch.float64, device=dev) for d in designs]
    offset = None if sf is None else torch.as_tensor(np.log(sf), dtype=torch.float64, device=dev)
    params = np.full((n_genes, k), np.nan)
    ses = np.full((n_genes, k), np.nan)
    loglik = np.zeros(n_genes)
    converged = np.zeros(n_genes, dtype=bool)
    n_iter = np.zeros(n_genes, dtype=np.int64)
    at_bound = np.zeros(n_genes, dtype=bool)
    separated = np.zeros(n_genes, dtype=bool)
    expressed = np.zeros(n_genes, dtype=bool)
    bar = progress(desc="negbin_fit", total=n_genes, unit="gene")
    try:
        for idx, block in _gene_blocks(x_mat, chunk, what=what):
            expressed[idx] = True
            bar.update(idx[-1] + 1 - bar.n)  # blocks come in gene order
            y = torch.as_tensor(block.T, dtype=torch.float64, device=dev).contiguous()
            res = _fit_chunk(y, tdesigns, offset, family, max_iter=max_iter, tol=tol, information=information)
            params[idx] = res.params.cpu().numpy()
            ses[idx] = res.se.cpu().numpy()
            loglik[idx] = res.loglik.cpu().numpy()
            converged[idx] = res.converged.cpu().numpy()
            n_iter[idx] = res.n_iter.cpu().numpy()
            at_bound[idx] = res.dispersion_at_bound.cpu().numpy()
            separated[idx] = res.separated.cpu().numpy()
        bar.update(n_genes - bar.n)
    finally:
        bar.close()
    status = _status(expressed, converged, separated, at_bound)
    status_counts = {name: int((status == name).sum()) for name in _STATUSES}
    _log_status(status_counts, n_genes, key_added)

    adata = adata.copy() if copy else adata
    var_names = adata.var_names
    start = 0
    terms = {}
    for name, d in zip(_PREDICTORS, designs, strict=False):
        cols = specs[name]["columns"]
        sl = slice(start, start + d.shape[1])
        start += d.shape[1]
        adata.varm[f"{key_added}_{name}"] = pd.DataFrame(params[:, sl], index=var_names, columns=cols)
        adata.varm[f"{key_added}_{name}_se"] = pd.DataFrame(ses[:, sl], index=var_names, columns=cols)
        terms[name] = list(cols)
    adata.var[f"{key_added}_converged"] = converged
    adata.var[f"{key_added}_boundary"] = expressed & (separated | at_bound)
    adata.var[f"{key_added}_status"] = pd.Categorical(status, categories=list(_STATUSES))
    adata.var[f"{key_added}_loglik"] = loglik
    adata.var[f"{key_added}_n_iter"] = n_iter
    adata.uns[key_added] = {
        "family": family,
        "formulas": dict(formulas),
        "terms": terms,
        "design": specs,
        "params": {
            "layer": layer or "",
            "size_factors": sf_name,
            "max_iter": int(max_iter),
            "tol": float(tol),
            "sparse": _is_sparse(x_mat),
            "information": information,
        },
        "status": status_counts,
    }
    if sf is not None and sf_name == f"{key_added}_size_factors":
        adata.obs[sf_name] = np.array(sf, dtype=np.float64)  # a copy: later changes to the caller's array stay theirs
    return adata if copy else None


def _fit_chunk(y, designs, offset, family, *, max_iter, tol, information):
    from ._fit import fit_chunk

    return fit_chunk(y, designs, offset, family, max_iter=max_iter, tol=tol, information=information)


def _status(expressed, converged, separated, at_bound) -> np.ndarray:
    """Per-gene status (see ``_STATUSES``): the most severe that applies."""
    status = np.full(expressed.shape[0], "ok", dtype=object)
    status[at_bound] = "dispersion_at_bound"
    status[separated] = "separated"
    status[~converged] = "not_converged"
    status[~expressed] = "no_counts"
    return status


_STATUS_TEXT = {
    "no_counts": "%d have no counts (NaN parameters)",
    "not_converged": "%d did not converge",
    "separated": "%d are separated (a mean coefficient at infinity: its estimate, SE and test are arbitrary)",
    "dispersion_at_bound": (
        "%d have the NB size at its bound 1e4 (no overdispersion detected: dispersion coefficients not identified)"
    ),
}


def _log_status(counts: dict[str, int], n_genes: int, key: str) -> None:
    """One warning counting the genes flagged in ``var[f"{key}_status"]``, if any."""
    parts = [text % counts[name] for name, text in _STATUS_TEXT.items() if counts[name]]
    if parts:
        logger.warning("negbin_fit: of %d genes, %s; see var['%s_status'].", n_genes, ", ".join(parts), key)


def _stored(adata: AnnData, key: str) -> dict[str, Any]:
    if key not in adata.uns or f"{key}_mean" not in adata.varm:
        msg = f"No count model under key {key!r}; run sg.tl.negbin_fit(adata, ..., key_added={key!r}) first."
        raise ValueError(msg)
    return adata.uns[key]


def _linear_predictors(adata: AnnData, obs: pd.DataFrame | None, key: str, size_factors) -> dict[str, np.ndarray]:
    """Cells x genes linear predictors of each part of the model (checked: their means and sizes are finite)."""
    designs, coefs, log_sf = _predictor_parts(adata, obs, key, size_factors)
    out = {name: designs[name] @ coefs[name].T for name in designs}
    if log_sf is not None:
        out["mean"] = out["mean"] + log_sf[:, None]
    _check_range(out, adata, adata.obs if obs is None else obs, key, genes=slice(None), log_sf=log_sf)
    return out


def _check_range(eta: dict[str, np.ndarray], adata: AnnData, obs: pd.DataFrame, key: str, *, genes, log_sf) -> None:
    """Refuse linear predictors whose mean or NB size is not a positive finite float64 (before ``exp``).

    ``eta`` holds cells x genes linear predictors of the genes ``adata.var_names[genes]``; NaN (genes
    without fitted parameters) passes.
    """
    limits = {
        "mean": ("predicted mean", _LOG_MAX, None, f"above {_LOG_MAX:.2f}"),
        "dispersion": ("predicted NB size", _LOG_MAX, _LOG_TINY, f"above {_LOG_MAX:.2f} or below {_LOG_TINY:.2f}"),
    }
    for name, (label, hi, lo, where) in limits.items():
        if name not in eta:
            continue
        e = eta[name]
        bad = e > hi
        if lo is not None:
            bad |= e < lo
        if not bad.any():
            continue
        cells, cols = np.flatnonzero(bad.any(axis=1)), np.flatnonzero(bad.any(axis=0))
        spec = adata.uns[key]["design"][name]
        variables = [str(v) for v in spec.get("variables", [])]
        ranges = []
        for v in variables:
            if v in obs.columns and pd.api.types.is_numeric_dtype(obs[v]):
                vals = obs[v].to_numpy(dtype=float)[cells]
                text = f"{v!r} in [{vals.min():.4g}, {vals.max():.4g}] for them"
                if v in adata.obs.columns and pd.api.types.is_numeric_dtype(adata.obs[v]) and len(adata.obs):
                    fit = adata.obs[v].to_numpy(dtype=float)
                    text += f" (the fitted cells: [{np.nanmin(fit):.4g}, {np.nanmax(fit):.4g}])"
                ranges.append(text)
        sf = " or the size factors" if name == "mean" and log_sf is not None else ""
        msg = (
            f"The {label} of {cells.size} cell(s) x {cols.size} gene(s) is out of the float64 range "
            f"(the exponential of a linear predictor {where}), e.g. cell "
            f"{str(obs.index[cells[0]])!r}, gene {str(adata.var_names[genes][cols[0]])!r}: the covariates{sf} of "
            f"these cells are far outside the fitted ones. The {name} formula {spec.get('formula', '')!r} uses "
            f"obs column(s) {variables}" + (": " + "; ".join(ranges) if ranges else "") + ". Predict within (or "
            "near) the covariates' fitted range, clip them, or check their units."
        )
        raise ValueError(msg)


def _predictor_parts(adata: AnnData, obs: pd.DataFrame | None, key: str, size_factors):
    """(design per part, genes x terms coefficients per part, log size factors or ``None``)."""
    info = _stored(adata, key)
    family = str(info["family"])
    obs = adata.obs if obs is None else obs
    if not isinstance(obs, pd.DataFrame):
        msg = f"obs must be a pandas DataFrame of covariates, got {type(obs).__name__}."
        raise ValueError(msg)
    if len(obs) == 0:
        msg = "obs has no rows (cells) to predict for."
        raise ValueError(msg)
    designs, coefs = {}, {}
    for name in _PREDICTORS[: _N_PRED[family]]:
        designs[name] = rebuild_design(obs, info["design"][name], what=name)
        coefs[name] = np.asarray(adata.varm[f"{key}_{name}"], dtype=np.float64)
    log_sf = None
    if size_factors is None:
        sf_name = str(info["params"].get("size_factors", ""))
        if sf_name and sf_name in obs.columns:
            size_factors = sf_name
        elif sf_name:
            logger.warning(
                "The fit used size factors (obs[%r]) that these cells do not have: predicting for size factor 1 "
                "(pass size_factors= to scale the means).",
                sf_name,
            )
    if size_factors is not None:
        if isinstance(size_factors, str) and size_factors not in obs.columns:
            msg = f"size_factors column {size_factors!r} not found in obs; available: {list(obs.columns)[:20]}."
            raise ValueError(msg)
        sf = obs[size_factors].to_numpy(float) if isinstance(size_factors, str) else np.asarray(size_factors, float)
        if sf.shape[0] != len(obs) or not np.isfinite(sf).all() or (sf <= 0).any():
            msg = "size_factors must be finite, positive and one per row of obs."
            raise ValueError(msg)
        log_sf = np.log(sf)
    return designs, coefs, log_sf


def negbin_predict(
    adata: AnnData,
    obs: pd.DataFrame | None = None,
    *,
    key: str = "negbin",
    size_factors: str | np.ndarray | None = None,
) -> dict[str, pd.DataFrame]:
    """Predict means and NB sizes of every gene for (new) cells from a fitted count model.

    Parameters
    ----------
    adata
        AnnData fitted by :func:`negbin_fit` (possibly saved and reloaded).
    obs
        Covariates of the cells to predict for (the columns the formulas use, categoricals with
        levels seen in the fit); ``None`` uses ``adata.obs``.
    key
        ``key_added`` of the fit.
    size_factors
        Per-cell size factors (``obs`` column or array) multiplying the mean. ``None`` uses the
        fit's size factors: its ``obs`` column when ``obs`` has it, its array for the fitted cells
        (``obs=None``), else 1 (with a warning when the fit had size factors).

    Returns
    -------
    dict with ``"mean"`` and (NB families) ``"dispersion"`` (the NB size ``r``), and for ``"zinb"``
    ``"zero_inflation"`` (probability), each a cells x genes DataFrame.

    Raises
    ------
    ValueError
        When a predicted mean or NB size is not a positive finite float64 (the exponential of a linear
        predictor above about 709, or a size below about ``exp(-708)``): covariates (or size factors) far
        outside the fitted ones. The message counts the cells and genes and gives the range of the
        formula's covariates for those cells and for the fitted cells. :func:`negbin_sample` refuses the
        same cells.

    Examples
    --------
    >>> import numpy as np, pandas as pd, anndata as ad
    >>> import scgenome as sg
    >>> rng = np.random.default_rng(0)
    >>> obs = pd.DataFrame({"g": pd.Categorical(rng.choice(["a", "b"], 300))}, index=[f"c{i}" for i in range(300)])
    >>> adata = ad.AnnData(rng.poisson(3.0, size=(300, 4)).astype(float), obs=obs)
    >>> sg.tl.negbin_fit(adata, "~ g")
    >>> pred = sg.tl.negbin_predict(adata, pd.DataFrame({"g": ["a", "b"]}))
    >>> pred["mean"].shape
    (2, 4)
    """
    eta = _linear_predictors(adata, obs, key, size_factors)
    index = (adata.obs if obs is None else obs).index.astype(str)
    out = {"mean": pd.DataFrame(np.exp(eta["mean"]), index=index, columns=adata.var_names)}
    if "dispersion" in eta:
        out["dispersion"] = pd.DataFrame(np.exp(eta["dispersion"]), index=index, columns=adata.var_names)
    if "zero_inflation" in eta:
        out["zero_inflation"] = pd.DataFrame(expit(eta["zero_inflation"]), index=index, columns=adata.var_names)
    return out


def negbin_sample(
    adata: AnnData,
    obs: pd.DataFrame | None = None,
    *,
    rng: int | np.random.Generator | None = None,
    copula: bool = False,
    key: str = "negbin",
    size_factors: str | np.ndarray | None = None,
) -> AnnData:
    """Draw counts from a fitted count model, optionally with gene-gene correlation (Gaussian copula).

    Parameters
    ----------
    adata
        AnnData fitted by :func:`negbin_fit`.
    obs
        Covariates of the cells to simulate; ``None`` simulates the cells of ``adata``.
    rng
        Seed or generator; the same ``rng`` gives the same counts.
    copula
        Add gene-gene correlation with a Gaussian copula estimated from the randomised
        probability-integral transform of the observed counts under the fitted model.
    key
        ``key_added`` of the fit.
    size_factors
        As in :func:`negbin_predict`.

    Returns
    -------
    A new AnnData (``obs`` the simulated cells, ``var`` a copy of ``adata.var``) with integer counts in ``X``
    (CSR when the fitted counts were sparse). Genes without fitted parameters (no counts) get
    zeros. With ``copula=True``, ``uns["negbin_copula"]`` holds the shrinkage intensity.

    Notes
    -----
    The copula follows scDesign3 (Song et al. 2024): correlations of the normal scores of the
    randomised PIT residuals, shrunk toward the identity with the Ledoit & Wolf (2004) intensity
    (needed when cells < genes). It is sampled through its factor form without a genes x genes matrix.

    Examples
    --------
    >>> import numpy as np, pandas as pd, anndata as ad
    >>> import scgenome as sg
    >>> rng = np.random.default_rng(0)
    >>> adata = ad.AnnData(rng.negative_binomial(3, 0.5, size=(400, 6)).astype(float))
    >>> sg.tl.negbin_fit(adata, "~ 1")
    >>> sim = sg.tl.negbin_sample(adata, rng=0)
    >>> sim.shape
    (400, 6)
    """
    from anndata import AnnData

    info = _stored(adata, key)
    family = str(info["family"])
    designs, coefs, log_sf = _predictor_parts(adata, obs, key, size_factors)
    gen = get_rng(rng)
    new_obs = (adata.obs if obs is None else obs).copy()
    new_obs.index = new_obs.index.astype(str)
    n_new, n_genes = len(new_obs), adata.n_vars
    uns = {}
    u = None
    if copula:
        u, shrink = _copula_uniforms(adata, key, family, gen, n_new=n_new)
        uns["negbin_copula"] = {"shrinkage": float(shrink)}
    sparse = bool(info["params"].get("sparse", False))
    dense_out = None if sparse else np.zeros((n_new, n_genes), dtype=np.int64)
    parts = []
    missing = np.zeros(n_genes, dtype=bool)
    step = max(1, int(1e6 // n_new))  # genes per block: the cells x genes intermediates stay small
    for lo in range(0, n_genes, step):
        sl = slice(lo, min(n_genes, lo + step))
        eta = {name: designs[name] @ coefs[name][sl].T for name in designs}
        if log_sf is not None:
            eta["mean"] = eta["mean"] + log_sf[:, None]
        _check_range(eta, adata, new_obs, key, genes=sl, log_sf=log_sf)
        mu = np.exp(eta["mean"])
        r = np.exp(eta["dispersion"]) if "dispersion" in eta else None
        pi = expit(eta["zero_inflation"]) if "zero_inflation" in eta else None
        gone = ~np.isfinite(mu).all(axis=0)
        missing[sl] = gone
        counts = _quantile(u[:, sl], mu, r, pi, family) if copula else _draw(gen, mu, r, pi, family)
        counts[:, gone] = 0
        if sparse:
            parts.append(sp.csc_matrix(counts))
        else:
            dense_out[:, sl] = counts
    if missing.any():
        logger.warning("negbin_sample: %d gene(s) without fitted parameters are simulated as zeros.", missing.sum())
    conv = adata.var.get(f"{key}_converged")
    if conv is not None:
        unconverged = ~conv.to_numpy(dtype=bool) & ~missing
        if unconverged.any():
            logger.warning(
                "negbin_sample: %d gene(s) whose fit did not converge (var['%s_converged']) are simulated from their "
                "last estimates; check them or drop them first.",
                int(unconverged.sum()),
                key,
            )
    x = sp.hstack(parts, format="csr") if sparse else dense_out
    return AnnData(X=x, obs=new_obs, var=adata.var.copy(), uns=uns)


def _clean(a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else np.where(np.isfinite(a), a, 1.0)


def _draw(gen: np.random.Generator, mu, r, pi, family: str) -> np.ndarray:
    mu = _clean(mu)
    if family == "poisson":
        return gen.poisson(mu).astype(np.int64)
    r = _clean(r)
    lam = gen.gamma(r, mu / r)
    counts = gen.poisson(lam).astype(np.int64)
    if family == "zinb":
        counts[gen.random(counts.shape) < _clean(pi)] = 0
    return counts


def _cdf(y, mu, r, pi, family: str) -> np.ndarray:
    from scipy import stats

    if family == "poisson":
        return stats.poisson.cdf(y, mu)
    f = stats.nbinom.cdf(y, r, r / (r + mu))
    if family == "zinb":
        f = np.where(y >= 0, pi + (1 - pi) * f, 0.0)
    return f


def _quantile(u, mu, r, pi, family: str) -> np.ndarray:
    from scipy import stats

    mu = _clean(mu)
    u = np.clip(u, 1e-15, 1 - 1e-15)
    if family == "poisson":
        return stats.poisson.ppf(u, mu).astype(np.int64)
    r = _clean(r)
    if family == "zinb":
        pi = _clean(pi)
        inflated = u < pi
        u = np.clip((u - pi) / (1 - pi), 1e-15, 1 - 1e-15)
        out = stats.nbinom.ppf(u, r, r / (r + mu)).astype(np.int64)
        out[inflated] = 0
        return out
    return stats.nbinom.ppf(u, r, r / (r + mu)).astype(np.int64)


def ledoit_wolf_shrinkage(z: np.ndarray) -> float:
    """Ledoit-Wolf intensity toward the identity for the correlation of standardised columns of ``z``."""
    n, g = z.shape
    gram = z @ z.T  # n x n; the genes x genes matrix is never formed
    s_frob2 = float((gram**2).sum()) / n**2
    d2 = s_frob2 - 2 * float(np.trace(gram)) / n + g
    quad = (gram**2).sum(axis=1) / n  # x_i' S x_i
    b2bar = float((np.diag(gram) ** 2 - 2 * quad + s_frob2).sum()) / n**2
    if d2 <= 0:
        return 1.0
    return float(min(1.0, min(b2bar, d2) / d2))


def _copula_uniforms(adata: AnnData, key: str, family: str, gen: np.random.Generator, *, n_new: int):
    from scipy import stats

    info = adata.uns[key]
    layer = str(info["params"].get("layer", "")) or None
    x_mat = _matrix(adata, layer)
    fitted = _linear_predictors(adata, None, key, None)
    mu = _clean(np.exp(fitted["mean"]))
    r = _clean(np.exp(fitted["dispersion"])) if "dispersion" in fitted else None
    pi = _clean(expit(fitted["zero_inflation"])) if "zero_inflation" in fitted else None
    x_mat = to_memory(x_mat)  # the copula's normal scores are cells x genes: it reads the counts whole
    y = x_mat.toarray() if sp.issparse(x_mat) else np.asarray(x_mat, dtype=np.float64)
    hi = _cdf(y, mu, r, pi, family)
    lo = _cdf(y - 1, mu, r, pi, family)
    u = lo + gen.random(y.shape) * (hi - lo)
    z = stats.norm.ppf(np.clip(u, 1e-12, 1 - 1e-12))
    z = z - z.mean(axis=0)
    sd = z.std(axis=0)
    z = np.where(sd > 0, z / np.where(sd > 0, sd, 1.0), 0.0)
    n = z.shape[0]
    shrink = ledoit_wolf_shrinkage(z)
    e = gen.standard_normal((n_new, n))
    f = gen.standard_normal((n_new, z.shape[1]))
    x = np.sqrt(1 - shrink) * (e @ z) / np.sqrt(n) + np.sqrt(shrink) * f
    # genes with constant scores have unit variance only from the identity part: rescale
    scale = np.sqrt((1 - shrink) * (sd > 0) + shrink)
    x = x / np.where(scale > 0, scale, 1.0)
    return stats.norm.cdf(x), shrink

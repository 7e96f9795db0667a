"""Label building and feature building for sc-EMS variant scores."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._logging import logger
from .._utils import get_rng

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

    from anndata import AnnData


def _variant_type(obs: pd.DataFrame) -> np.ndarray:
    """``SNV``, ``insertion``, ``deletion`` or ``other`` from ``ref``/``alt`` (all ``SNV`` when absent)."""
    if "ref" not in obs.columns or "alt" not in obs.columns:
        return np.full(len(obs), "SNV", dtype=object)
    lr = obs["ref"].astype(str).str.len().to_numpy()
    la = obs["alt"].astype(str).str.len().to_numpy()
    return np.select([(lr == 1) & (la == 1), la > lr, la < lr], ["SNV", "insertion", "deletion"], "other").astype(
        object
    )


def ems_labels(
    vdata: AnnData,
    *,
    pip: str = "pip",
    positive: float = 0.1,
    negative: float = 0.01,
    npr: float | None = None,
    gene: str = "gene",
    rng: int | np.random.Generator | None = None,
    key_added: str = "ems_label",
    copy: bool = False,
) -> AnnData | None:
    """Label variants from fine-mapping PIPs, as sc-EMS model 5 does.

    Variants with PIP above ``positive`` are labelled 1, below ``negative`` 0, and the rest are
    dropped. With ``npr``, negatives are subsampled to at most ``npr`` per positive, drawn from the
    same gene and the same variant type (SNV / insertion / deletion, from ``ref``/``alt``);
    negatives of genes (or types) without positives are dropped.

    Parameters
    ----------
    vdata
        Variants (rows) with ``obs[pip]`` (and ``obs[gene]``, ``ref``/``alt`` for ``npr``).
    pip
        PIP column.
    positive, negative
        Thresholds: ``PIP > positive`` is positive, ``PIP < negative`` negative.
    npr
        Negatives per positive (the reference uses 10); ``None`` keeps every negative.
    gene
        Gene column used to match negatives to positives.
    rng
        Seed or generator for the subsampling.
    key_added
        Label column written.
    copy
        Return a subset copy instead of subsetting ``vdata`` in place.

    Returns
    -------
    ``None`` (``vdata`` is subset in place) or the labelled copy, with ``obs[key_added]`` (0/1)
    and ``uns["ems_labels"]`` (``params``, ``n_positive``, ``n_negative``, ``n_dropped``).

    Examples
    --------
    >>> import scgenome as sg
    >>> vdata = sg.datasets.simulate_variants(2000, 20, rng=0)
    >>> lab = sg.pp.ems_labels(vdata, npr=5, rng=0, copy=True)
    >>> int(lab.obs["ems_label"].sum()) * 5 >= int((lab.obs["ems_label"] == 0).sum())
    True
    """
    if pip not in vdata.obs.columns:
        msg = f"PIP column {pip!r} not found in .obs; available: {list(vdata.obs.columns)[:20]}."
        raise ValueError(msg)
    if not 0 <= negative <= positive <= 1:
        msg = f"Need 0 <= negative <= positive <= 1, got negative={negative}, positive={positive}."
        raise ValueError(msg)
    p = pd.to_numeric(vdata.obs[pip], errors="coerce").to_numpy(dtype=float)
    if np.isnan(p).any():
        msg = f"PIP column {pip!r} has {int(np.isnan(p).sum())} missing values; drop those variants first."
        raise ValueError(msg)
    y = np.where(p > positive, 1, np.where(p < negative, 0, -1))
    keep = y >= 0
    if npr is not None:
        if npr <= 0:
            msg = f"npr must be positive, got {npr}."
            raise ValueError(msg)
        rng = get_rng(rng)
        vtype = _variant_type(vdata.obs)
        g = vdata.obs[gene].astype(str).to_numpy() if gene in vdata.obs.columns else np.full(len(p), "")
        if gene not in vdata.obs.columns:
            logger.warning("ems_labels: no %r column; negatives are matched by variant type only", gene)
        groups = pd.DataFrame({"g": g, "t": vtype, "y": y}).groupby(["g", "t"], sort=True).indices
        keep_neg = np.zeros(len(p), dtype=bool)
        for idx in groups.values():
            n_pos = int((y[idx] == 1).sum())
            neg = idx[y[idx] == 0]
            k = min(neg.size, int(np.floor(npr * n_pos)))
            if k > 0:
                keep_neg[rng.choice(neg, k, replace=False)] = True
        keep = (y == 1) | keep_neg
    n_pos, n_neg = int((y[keep] == 1).sum()), int((y[keep] == 0).sum())
    if n_pos == 0 or n_neg == 0:
        msg = f"Labelling gives {n_pos} positives and {n_neg} negatives; both classes are needed (check thresholds)."
        raise ValueError(msg)
    target = vdata.copy() if copy else vdata
    target.obs[key_added] = y
    if copy:
        target = target[keep].copy()
    else:
        target._inplace_subset_obs(keep)
    target.uns["ems_labels"] = {
        "params": {"pip": pip, "positive": positive, "negative": negative, "npr": "None" if npr is None else npr},
        "n_positive": n_pos,
        "n_negative": n_neg,
        "n_dropped": int((~keep).sum()),
    }
    return target if copy else None


def _read_table(table: pd.DataFrame | str | os.PathLike, what: str) -> pd.DataFrame:
    import csv

    from .._validation import reading

    if isinstance(table, pd.DataFrame):
        return table.copy()
    path = Path(table)
    if not path.exists():
        msg = f"{what} file {path} not found."
        raise ValueError(msg)
    with reading(path, f"{what} file", errors=(OSError, ValueError, csv.Error)):
        return pd.read_csv(path, sep=None, engine="python")


def _rows(index: pd.Index, bad: np.ndarray) -> str:
    idx = np.flatnonzero(bad)
    shown = ", ".join(repr(str(index[i])) for i in idx[:5])
    return f"{idx.size} row(s), e.g. {shown}"


def _positions(values: pd.Series, index: pd.Index, *, where: str, fix: str) -> np.ndarray:
    """``values`` as int64 base-pair positions; raise naming ``where`` and the rows when any is not one."""
    num = pd.to_numeric(values, errors="coerce")
    text = num.isna().to_numpy() & values.notna().to_numpy()
    if text.any():
        first = values[text].iloc[0]
        msg = f"{where} holds non-numeric values ({_rows(index, text)}; first {first!r}); {fix}"
        raise ValueError(msg)
    num = num.to_numpy(dtype=float)
    missing = np.isnan(num)
    if missing.any():
        msg = f"{where} has missing values (NaN) in {_rows(index, missing)}; {fix}"
        raise ValueError(msg)
    bad = ~np.isfinite(num) | (num < 0) | (num != np.round(num))
    if bad.any():
        msg = (
            f"{where} must hold non-negative whole base-pair positions, but {_rows(index, bad)} do not "
            f"(first {float(num[bad][0]):g}); {fix}"
        )
        raise ValueError(msg)
    return num.astype(np.int64)


def _norm_chrom(s: pd.Series | np.ndarray) -> np.ndarray:
    return pd.Series(np.asarray(s)).astype(str).str.removeprefix("chr").to_numpy()


def variant_features(
    vdata: AnnData,
    *,
    tss: pd.DataFrame | str | os.PathLike,
    gene_table: pd.DataFrame | str | os.PathLike | None = None,
    gene: str = "gene",
    windows: Sequence[int] = (10_000, 100_000, 1_000_000),
    log2_columns: Sequence[str] = ("post_mean",),
) -> AnnData:
    """Build distance-to-TSS, gene-density, variant-type and gene-level features.

    Parameters
    ----------
    vdata
        Variants (or variant-gene pairs) with ``obs`` ``chrom`` and ``pos`` (and ``gene``, ``ref``,
        ``alt`` when available); existing features in ``X`` are kept.
    tss
        TSS table (DataFrame or a tab/comma-separated file) with columns ``gene``, ``chr`` (or
        ``chrom``) and ``tss``. Chromosome names match with or without ``chr``.
    gene_table
        Gene-level table (DataFrame indexed by gene or with a ``gene`` column, or a file), e.g.
        GeneBayes constraint (``post_mean``); its numeric columns are joined by ``obs[gene]``.
    gene
        Gene column of ``obs``.
    windows
        Window half-widths (bp) for the gene-density counts.
    log2_columns
        Gene-table columns also added as ``<column>_log2``.

    Raises
    ------
    ValueError
        When ``obs["pos"]`` (or the TSS table's ``tss``) holds missing, non-numeric, negative or fractional
        values, or ``obs["chrom"]`` missing ones (the message names the column and the first rows), or a table
        file cannot be read.

    Returns
    -------
    A new AnnData (same ``obs``, ``uns``) whose features are the old ones followed by:
    ``distance_TSS`` (pos - TSS of ``obs[gene]``), ``abs_distance_TSS``, ``abs_distance_TSS_log``
    (natural log, at least 0), ``TSS_rank`` (rank of the gene's TSS among all TSSs of the chromosome
    by distance, 1 = nearest), ``abs_distance_nearest_TSS_log`` (any gene), ``TSS_distance_log_excess``
    (the difference of the two logs), ``TSS_density_<w>`` (TSSs within +-w bp of the variant),
    ``gene_TSS_density_<w>`` (TSSs within +-w bp of the gene's TSS); with ``ref``/``alt``:
    ``is_SNV``, ``is_insertion``, ``is_deletion``, ``length_diff`` (len(alt) - len(ref)); and the
    gene-table columns. Gene features are NaN for genes missing from the tables.

    Examples
    --------
    >>> import pandas as pd
    >>> import scgenome as sg
    >>> from anndata import AnnData
    >>> obs = pd.DataFrame({"chrom": ["1", "1"], "pos": [1000, 5000], "gene": ["A", "B"]}, index=["v1", "v2"])
    >>> tss = pd.DataFrame({"gene": ["A", "B"], "chr": ["1", "1"], "tss": [1500, 2000]})
    >>> out = sg.pp.variant_features(AnnData(obs=obs), tss=tss)
    >>> out[:, "TSS_rank"].X.ravel().tolist()
    [1.0, 1.0]
    """
    from anndata import AnnData

    for c in ("chrom", "pos"):
        if c not in vdata.obs.columns:
            msg = f"Column {c!r} not found in .obs; variant_features needs 'chrom' and 'pos'."
            raise ValueError(msg)
    chrom_missing = vdata.obs["chrom"].isna().to_numpy()
    if chrom_missing.any():
        msg = (
            f"Column 'chrom' of .obs has missing values in {_rows(vdata.obs_names, chrom_missing)}; drop those "
            "variants first."
        )
        raise ValueError(msg)
    pos = _positions(
        vdata.obs["pos"],
        vdata.obs_names,
        where="Column 'pos' of .obs",
        fix="give each variant its base-pair position (integers) or drop those variants first.",
    )
    t = _read_table(tss, "TSS")
    if "chrom" in t.columns and "chr" not in t.columns:
        t = t.rename(columns={"chrom": "chr"})
    missing = [c for c in ("gene", "chr", "tss") if c not in t.columns]
    if missing:
        msg = f"TSS table lacks column(s) {missing}; it needs 'gene', 'chr' and 'tss'. Has {list(t.columns)}."
        raise ValueError(msg)
    t = t.dropna(subset=["tss"])
    where = "Column 'tss' of the TSS table" + ("" if isinstance(tss, pd.DataFrame) else f" {tss}")
    t["tss"] = _positions(t["tss"], t["gene"].astype(str), where=where, fix="fix or drop those genes.")
    t["chr"] = _norm_chrom(t["chr"])
    chrom = _norm_chrom(vdata.obs["chrom"])
    n = vdata.n_obs
    feats: dict[str, np.ndarray] = {}

    # TSS of each variant's own gene
    d = np.full(n, np.nan)
    if gene in vdata.obs.columns:
        first = t.drop_duplicates("gene").set_index("gene")
        g = vdata.obs[gene].astype(str).to_numpy()
        tg = first["tss"].reindex(g).to_numpy(dtype=float)
        cg = first["chr"].reindex(g).to_numpy(dtype=object)
        ok = ~np.isnan(tg) & (cg == chrom)
        if (~ok).any():
            logger.warning("variant_features: %d variants whose gene has no TSS on their chromosome", int((~ok).sum()))
        d[ok] = pos[ok] - tg[ok]
    absd = np.abs(d)
    rank = np.full(n, np.nan)
    nearest = np.full(n, np.nan)
    density = {w: np.zeros(n) for w in windows}
    by_chr = {c: np.sort(grp["tss"].to_numpy()) for c, grp in t.groupby("chr")}
    for c in np.unique(chrom):
        m = np.flatnonzero(chrom == c)
        s = by_chr.get(c)
        if s is None or s.size == 0:
            continue
        p = pos[m]
        i = np.searchsorted(s, p)
        left = np.abs(p - s[np.clip(i - 1, 0, s.size - 1)])
        right = np.abs(s[np.clip(i, 0, s.size - 1)] - p)
        nearest[m] = np.minimum(left, right)
        for w in windows:
            density[w][m] = np.searchsorted(s, p + w, side="right") - np.searchsorted(s, p - w, side="left")
        a = absd[m]
        okm = ~np.isnan(a)
        aa = np.where(okm, a, 0).astype(np.int64)
        closer = np.searchsorted(s, p + aa, side="left") - np.searchsorted(s, p - aa, side="right")
        rank[m] = np.where(okm, closer + 1, np.nan)
    # gene-centred density: TSSs within each window of the variant's own gene TSS
    gdens = {w: np.full(n, np.nan) for w in windows}
    for c in np.unique(chrom):
        m = np.flatnonzero((chrom == c) & ~np.isnan(d))
        s = by_chr.get(c)
        if s is None or m.size == 0:
            continue
        gt_pos = (pos[m] - d[m]).astype(np.int64)
        for w in windows:
            gdens[w][m] = np.searchsorted(s, gt_pos + w, side="right") - np.searchsorted(s, gt_pos - w, side="left")
    feats["distance_TSS"] = d
    feats["abs_distance_TSS"] = absd
    feats["abs_distance_TSS_log"] = np.log(np.maximum(absd, 1.0))
    feats["TSS_rank"] = rank
    feats["abs_distance_nearest_TSS_log"] = np.log(np.maximum(nearest, 1.0))
    feats["TSS_distance_log_excess"] = feats["abs_distance_TSS_log"] - feats["abs_distance_nearest_TSS_log"]
    for w in windows:
        label = f"{w // 1_000_000}Mb" if w % 1_000_000 == 0 else f"{w // 1000}kb" if w % 1000 == 0 else f"{w}bp"
        feats[f"TSS_density_{label}"] = density[w].astype(float)
        feats[f"gene_TSS_density_{label}"] = gdens[w]

    if "ref" in vdata.obs.columns and "alt" in vdata.obs.columns:
        vt = _variant_type(vdata.obs)
        feats["is_SNV"] = (vt == "SNV").astype(float)
        feats["is_insertion"] = (vt == "insertion").astype(float)
        feats["is_deletion"] = (vt == "deletion").astype(float)
        feats["length_diff"] = (
            vdata.obs["alt"].astype(str).str.len().to_numpy() - vdata.obs["ref"].astype(str).str.len().to_numpy()
        ).astype(float)

    if gene_table is not None:
        gt = _read_table(gene_table, "Gene table")
        if "gene" in gt.columns:
            gt = gt.drop_duplicates("gene").set_index("gene")
        if gene not in vdata.obs.columns:
            msg = f"gene_table needs a gene column in .obs ({gene!r} not found)."
            raise ValueError(msg)
        g = vdata.obs[gene].astype(str).to_numpy()
        gt.index = gt.index.astype(str)
        for col in gt.select_dtypes("number").columns:
            vals = gt[col].reindex(g).to_numpy(dtype=float)
            feats[str(col)] = vals
            if col in log2_columns:
                with np.errstate(divide="ignore", invalid="ignore"):
                    feats[f"{col}_log2"] = np.where(vals > 0, np.log2(vals), np.nan)

    clash = [f for f in feats if f in set(map(str, vdata.var_names))]
    if clash:
        msg = f"Feature(s) {clash} already exist in var_names; drop them before rebuilding."
        raise ValueError(msg)
    new = np.column_stack(list(feats.values())).astype(np.float32)
    old = vdata.X
    if old is not None and vdata.n_vars:
        import scipy.sparse as sp

        old = old.toarray() if sp.issparse(old) else np.asarray(old)
        X = np.hstack([old.astype(np.float32), new])
    else:
        X = new
    names = [*map(str, vdata.var_names), *feats]
    out = AnnData(X=X, obs=vdata.obs.copy(), var=pd.DataFrame(index=names), uns=dict(vdata.uns))
    return out


__all__ = ["ems_labels", "variant_features"]

"""GWAS plots: Manhattan and QQ. They read results (AnnData/MuData ``var`` or a tidy table) and never fit."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._utils import get_modality
from ._utils import finish

if TYPE_CHECKING:
    from collections.abc import Sequence

    from anndata import AnnData
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from mudata import MuData

#: Accepted spellings of the columns of a tidy GWAS table, in order of preference.
_CHR_COLUMNS = ("chr", "chrom", "#CHROM", "CHR", "chromosome")
_POS_COLUMNS = ("ps", "pos", "POS", "BP", "bp", "position")
_P_COLUMNS = ("p_wald", "pval", "p", "P", "p_value", "pvalue")
_NAME_COLUMNS = ("rs", "snp", "SNP", "ID", "id", "variant")
_CM_COLUMNS = ("cm", "cM")
#: ``pval`` for an AnnData: GEMMA's column names accepted for the ``var[f"{key}_..."]`` suffixes
_VAR_P_ALIASES = {"p_wald": "pval", "wald": "pval", "lrt": "p_lrt", "score": "p_score"}
#: ``pval`` for a table: the other spelling of the Wald p-value (gwas_df writes ``p_wald``, var ``pval``)
_TABLE_P_ALIASES = {"pval": "p_wald", "p_wald": "pval"}

_RASTERIZE_ABOVE = 100_000


def _chrom_sort_key(name: str) -> tuple[int, float, str]:
    """Natural chromosome order: 1, 2, ..., 22, X, Y, XY, MT, then anything else alphabetically."""
    s = re.sub(r"^(chr|chrom)", "", str(name), flags=re.IGNORECASE)
    if s.isdigit():
        return (0, float(s), s)
    special = {"X": 1, "Y": 2, "XY": 3, "M": 4, "MT": 4}
    if s.upper() in special:
        return (1, float(special[s.upper()]), s)
    return (2, 0.0, s)


def _first(columns: Sequence[str], candidates: Sequence[str]) -> str | None:
    return next((c for c in candidates if c in columns), None)


def _results_var(data, mod: str | Sequence[str], what: str) -> pd.DataFrame:
    """``var`` of an AnnData, or of the genotype modality of a MuData (``mod`` or its first name)."""
    from anndata import AnnData

    if isinstance(data, AnnData):
        return data.var
    try:
        from mudata import MuData
    except ImportError:  # pragma: no cover
        MuData = ()
    if isinstance(data, MuData):
        return get_modality(data, mod if isinstance(mod, str) else mod[0]).var
    msg = f"{what}: expected an AnnData, a MuData or a pandas DataFrame, got {type(data).__name__}."
    raise TypeError(msg)


def _gwas_table(
    data: AnnData | MuData | pd.DataFrame,
    key: str,
    pval: str | None,
    what: str = "data",
    *,
    mod: str | Sequence[str] = ("geno", "pheno"),
    need_chrom: bool = True,
) -> pd.DataFrame:
    """Tidy table ``name, chr, pos, cm, p`` of the tested SNPs in file order (``chr`` NA when not needed nor there)."""
    if isinstance(data, pd.DataFrame):
        cols = list(data.columns)
        chr_col = _first(cols, _CHR_COLUMNS)
        pos_col = _first(cols, _POS_COLUMNS)
        if pval is None:
            p_col = _first(cols, _P_COLUMNS)
        else:
            p_col = pval if pval in cols or _TABLE_P_ALIASES.get(pval) not in cols else _TABLE_P_ALIASES[pval]
        missing = []
        if chr_col is None and need_chrom:
            missing.append(f"chromosome ({'/'.join(_CHR_COLUMNS)})")
        if p_col is None or p_col not in cols:
            missing.append(f"p-value ({p_col if pval is not None else '/'.join(_P_COLUMNS)})")
        if missing:
            msg = f"{what}: the table lacks {' and '.join(missing)} column(s); it has {cols}."
            raise ValueError(msg)
        name_col = _first(cols, _NAME_COLUMNS)
        cm_col = _first(cols, _CM_COLUMNS)
        chrom = data[chr_col] if chr_col else pd.Series(pd.NA, index=data.index, dtype=object)
        names = data[name_col] if name_col else data.index.to_series()
        pos = pd.to_numeric(data[pos_col], errors="coerce") if pos_col else None
        cm = pd.to_numeric(data[cm_col], errors="coerce") if cm_col else None
        p = data[p_col]
    else:
        var = _results_var(data, mod, what)
        suffix = _VAR_P_ALIASES.get(pval, pval) if pval is not None else "pval"
        col = f"{key}_{suffix}"
        missing = [c for c in (col, "chrom") if c not in var.columns and (c != "chrom" or need_chrom)]
        if missing:
            hint = ""
            if col in missing:
                have = [c.removeprefix(f"{key}_") for c in var.columns if c.startswith(f"{key}_p")]
                hint = (
                    f" pval is the suffix of var[f'{{key}}_...']: 'pval' (the Wald test, GEMMA's p_wald; 'p_wald' is "
                    f"accepted too), 'p_lrt', 'p_score'; under key {key!r} there are {have}."
                    if have
                    else f" Run sg.tl.gwas(..., key_added={key!r}) first."
                )
            msg = f"{what}: column(s) {missing} not found in .var (available: {list(var.columns)}).{hint}"
            raise ValueError(msg)
        chrom = var["chrom"] if "chrom" in var.columns else pd.Series(pd.NA, index=var.index, dtype=object)
        names = var.index.to_series()
        pos = pd.to_numeric(var["pos"], errors="coerce") if "pos" in var.columns else None
        cm = pd.to_numeric(var["cm"], errors="coerce") if "cm" in var.columns else None
        p = var[col]
    n = len(p)
    p = pd.to_numeric(p, errors="coerce").astype("float64").to_numpy()
    keep = np.isfinite(p)
    no_chrom = chrom.isna().to_numpy() & keep
    if need_chrom and no_chrom.any():
        where = "var['chrom']" if not isinstance(data, pd.DataFrame) else f"column {chr_col!r}"
        msg = (
            f"{what}: {int(no_chrom.sum())} SNP(s) with a p-value have no chromosome (missing {where}), e.g. "
            f"{names[no_chrom].astype(str).tolist()[:5]}; fill the chromosome in or drop those SNPs."
        )
        raise ValueError(msg)
    table = pd.DataFrame(
        {
            "name": names.astype(str).to_numpy(),
            "chr": np.where(chrom.isna().to_numpy(), None, chrom.astype(str).to_numpy()),
            "pos": np.full(n, np.nan) if pos is None else pos.astype("float64").to_numpy(),
            "cm": np.full(n, np.nan) if cm is None else cm.astype("float64").to_numpy(),
            "p": p,
        }
    )
    table.loc[table["pos"] < 0, "pos"] = np.nan  # GEMMA writes -9 for an unknown position
    table = table[keep].reset_index(drop=True)
    if (table["p"] < 0).any() or (table["p"] > 1).any():
        msg = f"{what}: p-values must lie in [0, 1]; got min {table['p'].min():g}, max {table['p'].max():g}."
        raise ValueError(msg)
    if table.empty:
        msg = f"{what}: no SNP has a p-value to plot."
        raise ValueError(msg)
    return table


def _resolve_positions(table: pd.DataFrame) -> np.ndarray:
    """Base-pair coordinate of every SNP; SNPs without one are placed by cM, else by file order.

    Within a chromosome, a SNP without a position gets the position interpolated from the SNPs that
    have one: on the genetic map (cM) when both it and enough SNPs with a position have a cM, else on
    the file order (between its neighbours in the file). A chromosome without any position uses the
    cM, else the file order, as its coordinate.
    """
    x = table["pos"].to_numpy(dtype=np.float64).copy()
    cm = table["cm"].to_numpy(dtype=np.float64)
    chrom = table["chr"].to_numpy()
    for c in pd.unique(chrom):
        idx = np.flatnonzero(chrom == c)
        known = np.isfinite(x[idx])
        if known.all():
            continue
        order = np.arange(idx.size, dtype=np.float64)
        if not known.any():
            x[idx] = cm[idx] * 1e6 if np.isfinite(cm[idx]).all() else order
            continue
        unknown = ~known
        use_cm = np.isfinite(cm[idx]) & known
        by_cm = unknown & np.isfinite(cm[idx])
        if use_cm.sum() >= 2 and by_cm.any():
            ref_cm, ref_pos = cm[idx][use_cm], x[idx][use_cm]
            o = np.argsort(ref_cm, kind="stable")
            x[idx[by_cm]] = np.interp(cm[idx][by_cm], ref_cm[o], ref_pos[o])
            unknown = unknown & ~by_cm
        if unknown.any():
            x[idx[unknown]] = np.interp(order[unknown], order[known], x[idx][known])
    return x


def _layout(tables: Sequence[pd.DataFrame], gap: float = 0.02) -> tuple[list[np.ndarray], list, np.ndarray, float]:
    """Genome-wide x of each table's SNPs with chromosomes side by side in natural order.

    Returns the x of each table, the chromosomes in order, their centres and the genome's right end.
    """
    positions = [_resolve_positions(t) for t in tables]
    chroms = sorted({c for t in tables for c in t["chr"].unique()}, key=_chrom_sort_key)
    lo, hi = {}, {}
    for c in chroms:
        on_c = [p[t["chr"].to_numpy() == c] for t, p in zip(tables, positions, strict=True)]
        lo[c] = min(np.nanmin(v, initial=np.inf) for v in on_c)
        hi[c] = max(np.nanmax(v, initial=-np.inf) for v in on_c)
    spans = np.array([max(hi[c] - lo[c], 0.0) for c in chroms])
    pad = gap * max(spans.sum(), 1.0)
    spans = np.where(spans > 0, spans, pad)
    offsets = np.concatenate([[0.0], np.cumsum(spans + pad)[:-1]])
    offset = dict(zip(chroms, offsets, strict=True))
    xs = []
    for t, p in zip(tables, positions, strict=True):
        codes = pd.Categorical(t["chr"], categories=chroms).codes
        shift = np.array([offset[c] - lo[c] for c in chroms], dtype=np.float64)[codes]
        xs.append(shift + p)
    return xs, chroms, offsets + spans / 2, float(offsets[-1] + spans[-1])


def _neglog10(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        y = -np.log10(p)
    finite = np.isfinite(y)
    if not finite.all():  # p == 0: draw at the top, just above the smallest non-zero p
        top = y[finite].max() if finite.any() else 300.0
        y[~finite] = top * 1.05 + 1
    return y


def manhattan(
    data: AnnData | MuData | pd.DataFrame,
    *,
    key: str = "gwas",
    pval: str | None = None,
    genomewide_line: float | None = 5e-8,
    suggestive_line: float | None = 1e-5,
    colors: Sequence[str] = ("#1f4e79", "#7fa7cf"),
    annotate_top: int | None = None,
    highlight: Sequence[str] | None = None,
    other: AnnData | MuData | pd.DataFrame | None = None,
    label: str | None = None,
    other_label: str | None = None,
    size: float = 6.0,
    title: str | None = None,
    mod: str | tuple[str, str] = ("geno", "pheno"),
    ax: Axes | None = None,
    show: bool | None = None,
    return_fig: bool = False,
) -> Axes | Figure | None:
    """Manhattan plot of GWAS p-values along the genome.

    Parameters
    ----------
    data
        An AnnData after :func:`scgenome.tl.gwas` (reads ``var[f"{key}_pval"]``, ``var["chrom"]``,
        ``var["pos"]`` and ``var["cm"]``), a MuData after it (the same, from the genotype modality
        ``mod``), or a tidy table such as :func:`scgenome.get.gwas_df` or a GEMMA ``.assoc.txt`` file, with
        columns ``chr`` (or ``chrom``), ``ps`` (or ``pos``; may be NA or -9), ``p_wald`` (or ``pval``/``p``)
        and optionally ``rs`` and ``cm``. SNPs without a p-value (not tested) are left out; a SNP with a
        p-value and no chromosome is an error.
    key
        ``key_added`` of the GWAS run, for an AnnData or MuData.
    pval
        Which p-value. For an AnnData or MuData, the suffix of the ``var[f"{key}_..."]`` column:
        ``"pval"`` (default; the Wald test, GEMMA's ``p_wald``), ``"p_lrt"``, ``"p_score"``; GEMMA's
        name ``"p_wald"`` is accepted for ``"pval"``. For a table, the column name (default the first of
        ``p_wald``, ``pval``, ``p``, ``P``; ``"pval"`` and ``"p_wald"`` stand for each other).
    genomewide_line
        p-value of the genome-wide significance line (red, dashed); ``None`` for none.
    suggestive_line
        p-value of the suggestive line (grey, dotted); ``None`` for none.
    colors
        Colours cycled over chromosomes.
    annotate_top
        Label the ``annotate_top`` SNPs with the smallest p-values with their names.
    highlight
        SNP names drawn emphasised (larger, orange, on top), e.g. the known causal SNPs.
    other
        A second GWAS (same kinds of input, same ``key`` and ``pval``) drawn mirrored below the axis,
        e.g. real data above and synthetic data below; its SNPs share the x axis.
    label, other_label
        Names written in the upper and lower halves (with ``other``).
    size
        Marker size (points^2).
    title
        Axes title.
    mod
        Genotype modality of a MuData: its name, or the ``(genotype, phenotype)`` pair given to
        :func:`scgenome.tl.gwas` (only the first is read). Ignored for an AnnData or a table.
    ax
        Axes to draw into; a new 10 x 4 inch figure when ``None``.
    show
        Show the figure; ``None`` shows it only in interactive mode (``plt.isinteractive()``).
    return_fig
        Return the Figure instead of the Axes.

    Returns
    -------
    The Axes (or the Figure with ``return_fig=True``) unless the plot was shown, else ``None``.
    The points are one scatter collection (rasterized above 100,000 points); ``highlight`` and
    ``other`` add one collection each.

    Notes
    -----
    Chromosomes are laid side by side in natural order (1, 2, ..., 19, X, Y, MT) with alternating
    colours and labelled at their centres. A SNP without a base-pair position (HS1940 has 1,926) is
    placed within its chromosome at the position interpolated from the SNPs that have one: along the
    genetic map when it has a cM value (AnnData ``var["cm"]`` or a ``cm`` column), otherwise along
    the file order, between its neighbours in the file.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import scgenome as sg
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"chr": np.repeat(["1", "2", "X"], 100), "ps": np.tile(np.arange(1, 101) * 1000, 3),
    ...                    "p_wald": rng.uniform(size=300)})
    >>> ax = sg.pl.manhattan(df, annotate_top=3, show=False)
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['1', '2', 'X']
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    table = _gwas_table(data, key, pval, "data", mod=mod)
    tables = [table]
    if other is not None:
        tables.append(_gwas_table(other, key, pval, "other", mod=mod))
    if highlight is not None:
        highlight = [str(h) for h in highlight]
        unknown = sorted(set(highlight) - set(table["name"]) - set(tables[-1]["name"]))
        if unknown:
            msg = f"highlight: SNP(s) {unknown[:10]} are not among the plotted SNPs."
            raise ValueError(msg)
    if annotate_top is not None and annotate_top < 0:
        msg = f"annotate_top must be >= 0, got {annotate_top}."
        raise ValueError(msg)
    if len(colors) == 0:
        msg = "colors must hold at least one colour."
        raise ValueError(msg)

    xs, chroms, centres, right = _layout(tables)
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4))
    from matplotlib.colors import to_rgba_array

    palette = to_rgba_array([colors[i % len(colors)] for i in range(len(chroms))])

    ymax = 0.0
    ymin = 0.0
    to_annotate: list[tuple] = []
    for i, (t, x) in enumerate(zip(tables, xs, strict=True)):
        sign = 1.0 if i == 0 else -1.0
        y = sign * _neglog10(t["p"].to_numpy())
        pc = ax.scatter(
            x,
            y,
            c=palette[pd.Categorical(t["chr"], categories=chroms).codes],
            s=size,
            linewidths=0,
            rasterized=len(x) > _RASTERIZE_ABOVE,
            label="_gwas" if i == 0 else "_gwas_other",
            zorder=2,
        )
        pc.set_gid("gwas" if i == 0 else "gwas_other")
        ymax, ymin = max(ymax, y.max(initial=0.0)), min(ymin, y.min(initial=0.0))
        if highlight:
            hl = t["name"].isin(highlight).to_numpy()
            if hl.any():
                hc = ax.scatter(x[hl], y[hl], s=size * 4, color="#e66101", edgecolors="black", linewidths=0.4, zorder=4)
                hc.set_gid("highlight" if i == 0 else "highlight_other")
        if annotate_top:
            best = np.argsort(t["p"].to_numpy(), kind="stable")[:annotate_top]
            near = 0.02 * right  # labels of SNPs this close are stacked in a column above the best one
            anchor: list[int] = []
            for r, j in enumerate(best):
                lead = next((a for a in anchor if abs(x[a] - x[j]) < near), None)
                stack = 0 if lead is None else int(np.sum(np.abs(x[best[:r]] - x[j]) < near))
                if lead is None:
                    anchor.append(j)
                    lead = j
                to_annotate.append((t["name"].iloc[j], x[j], y[j], x[lead], y[lead], stack, sign))

    lines = []
    for p_line, style in (
        (genomewide_line, {"color": "#d7191c", "ls": "--"}),
        (suggestive_line, {"color": "0.5", "ls": ":"}),
    ):
        if p_line is None:
            continue
        if not 0 < p_line < 1:
            msg = f"Threshold lines need a p-value in (0, 1), got {p_line}."
            raise ValueError(msg)
        lines.append(ax.axhline(-np.log10(p_line), lw=0.8, zorder=1, **style))
        if other is not None:
            lines.append(ax.axhline(np.log10(p_line), lw=0.8, zorder=1, **style))
        ymax = max(ymax, -np.log10(p_line))
        ymin = min(ymin, np.log10(p_line)) if other is not None else ymin

    ax.set_xticks(centres)
    ax.set_xticklabels(chroms)
    ax.set_xlim(-0.01 * right, 1.01 * right)
    dy = 0.055 * (ymax - ymin + 1.0)
    for name, xj, yj, x_lead, y_lead, stack, sign in to_annotate:
        y_text = y_lead + sign * dy * (0.3 + stack)
        ax.annotate(
            name,
            (xj, yj),
            xytext=(x_lead + 0.004 * right, y_text),
            textcoords="data",
            fontsize=7,
            va="bottom" if sign > 0 else "top",
            arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "0.4"} if stack else None,
            zorder=5,
        )
        ymax, ymin = max(ymax, y_text + dy * 0.8), min(ymin, y_text - dy * 0.8)
    top = ymax * 1.05 + 0.5
    bottom = ymin * 1.05 - 0.5 if other is not None else 0.0
    ax.set_ylim(bottom, top)
    if other is not None:
        ax.axhline(0.0, color="black", lw=0.6, zorder=1)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{abs(v):g}"))
        if label:
            ax.text(0.005, 0.98, label, transform=ax.transAxes, va="top", ha="left", fontsize=9, weight="bold")
        if other_label:
            ax.text(0.005, 0.02, other_label, transform=ax.transAxes, va="bottom", ha="left", fontsize=9, weight="bold")
    elif label:
        ax.text(0.005, 0.98, label, transform=ax.transAxes, va="top", ha="left", fontsize=9, weight="bold")
    ax.set_xlabel("chromosome")
    ax.set_ylabel(r"$-\log_{10}(p)$")
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title)
    return finish(ax.figure, ax, show=show, return_fig=return_fig)


def _lambda_gc(p: np.ndarray) -> float:
    """Genomic-control inflation factor: median chi2(1) statistic over its expected median (0.4549)."""
    from scipy import stats

    p = np.asarray(p, dtype=np.float64)
    p = p[np.isfinite(p)]
    return float(np.median(stats.chi2.isf(p, 1)) / stats.chi2.ppf(0.5, 1))


def qq(
    data: AnnData | MuData | pd.DataFrame,
    *,
    key: str = "gwas",
    pval: str | None = None,
    other: AnnData | MuData | pd.DataFrame | None = None,
    label: str | None = None,
    other_label: str | None = None,
    ci: float | None = 0.95,
    colors: Sequence[str] = ("#1f4e79", "#e66101"),
    size: float = 6.0,
    title: str | None = None,
    mod: str | tuple[str, str] = ("geno", "pheno"),
    ax: Axes | None = None,
    show: bool | None = None,
    return_fig: bool = False,
) -> Axes | Figure | None:
    """Quantile-quantile plot of GWAS p-values against the uniform, with lambda_GC.

    Parameters
    ----------
    data
        An AnnData or MuData after :func:`scgenome.tl.gwas` (reads ``var[f"{key}_pval"]`` only) or a tidy
        table with a p-value column (``p_wald``, ``pval``, ``p``, ...), as for :func:`manhattan`; no
        chromosome or position is needed. Missing p-values (SNPs not tested) are left out.
    key
        ``key_added`` of the GWAS run, for an AnnData or MuData.
    pval
        Which p-value, as for :func:`manhattan` (default the Wald test; ``"p_wald"`` is accepted for an
        AnnData).
    other
        A second GWAS drawn on the same axes (e.g. the linear model next to the LMM).
    label, other_label
        Legend names of ``data`` and ``other`` (defaults ``"GWAS"`` and ``"other"``).
    ci
        Level of the pointwise confidence band of the expected order statistics (grey); ``None`` for none.
    colors
        Colours of ``data`` and ``other``.
    size
        Marker size (points^2).
    title
        Axes title.
    mod
        Genotype modality of a MuData, as for :func:`manhattan`.
    ax
        Axes to draw into; a new 4.5 x 4.5 inch figure when ``None``.
    show
        Show the figure; ``None`` shows it only in interactive mode (``plt.isinteractive()``).
    return_fig
        Return the Figure instead of the Axes.

    Returns
    -------
    The Axes (or the Figure with ``return_fig=True``) unless the plot was shown, else ``None``.
    Each GWAS is one scatter collection (rasterized above 100,000 points); the legend shows
    ``lambda_GC`` of each.

    Notes
    -----
    Expected values are the uniform quantiles ``(i - 0.5) / n``; the band holds the ``ci`` central
    interval of the i-th of ``n`` uniform order statistics, Beta(i, n - i + 1). ``lambda_GC`` is the
    median of the 1-df chi-square statistics ``chi2.isf(p, 1)`` divided by its null median 0.4549
    (Devlin & Roeder 1999, Biometrics 55:997).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import scgenome as sg
    >>> df = pd.DataFrame({"p": np.random.default_rng(0).uniform(size=1000)})
    >>> ax = sg.pl.qq(df, show=False)
    >>> ax.get_legend().get_texts()[0].get_text()
    'GWAS (λ$_{GC}$ = 0.87)'
    """
    import matplotlib.pyplot as plt
    from scipy import stats

    tables = [_gwas_table(data, key, pval, "data", mod=mod, need_chrom=False)]
    names = [label or "GWAS"]
    if other is not None:
        tables.append(_gwas_table(other, key, pval, "other", mod=mod, need_chrom=False))
        names.append(other_label or "other")
    if ci is not None and not 0 < ci < 1:
        msg = f"ci must lie in (0, 1) or be None, got {ci}."
        raise ValueError(msg)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))

    n_max = max(len(t) for t in tables)
    if ci is not None:
        i = np.arange(1, n_max + 1, dtype=np.float64)
        lo = stats.beta.ppf((1 - ci) / 2, i, n_max - i + 1)
        hi = stats.beta.ppf((1 + ci) / 2, i, n_max - i + 1)
        e = -np.log10((i - 0.5) / n_max)
        band = ax.fill_between(e, -np.log10(hi), -np.log10(lo), color="0.85", lw=0, zorder=0, label="_ci")
        band.set_gid("ci")
    top = 0.0
    for k, (t, name) in enumerate(zip(tables, names, strict=True)):
        p = np.sort(t["p"].to_numpy())
        n = p.size
        expected = -np.log10((np.arange(1, n + 1) - 0.5) / n)
        observed = _neglog10(p)
        lam = _lambda_gc(p)
        pc = ax.scatter(
            expected,
            observed,
            s=size,
            color=colors[k % len(colors)],
            linewidths=0,
            rasterized=n > _RASTERIZE_ABOVE,
            label=f"{name} (λ$_{{GC}}$ = {lam:.2f})",
            zorder=2,
        )
        pc.set_gid("qq" if k == 0 else "qq_other")
        top = max(top, observed.max(), expected.max())
    lim = -np.log10(0.5 / n_max)
    ax.plot([0, lim], [0, lim], color="black", lw=0.8, zorder=1, label="_diagonal")
    ax.set_xlim(0, lim * 1.03)
    ax.set_ylim(0, max(top, lim) * 1.05)
    ax.set_xlabel(r"expected $-\log_{10}(p)$")
    ax.set_ylabel(r"observed $-\log_{10}(p)$")
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title)
    return finish(ax.figure, ax, show=show, return_fig=return_fig)


__all__ = ["manhattan", "qq"]

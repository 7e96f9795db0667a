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


def _clump(
    chrom: np.ndarray, pos: np.ndarray, p: np.ndarray, *, pval_max: float | None, n_top: int | None, window: float
) -> list[int]:
    """Lead SNP (row index) of each locus, strongest first.

    SNPs are taken by increasing p-value (those below ``pval_max`` when given); a SNP within ``window``
    of a SNP already in a locus on its chromosome joins that locus, otherwise it leads a new one. At most
    ``n_top`` loci when given.
    """
    import bisect

    order = np.argsort(p, kind="stable")
    if pval_max is not None:
        order = order[p[order] < pval_max]
    leads: list[int] = []
    members: dict[object, tuple[list[float], list[int]]] = {}
    for j in order:
        xs, ids = members.setdefault(chrom[j], ([], []))
        x = float(pos[j])
        k = bisect.bisect_left(xs, x)
        near = [(abs(xs[i] - x), ids[i]) for i in (k - 1, k) if 0 <= i < len(xs) and abs(xs[i] - x) <= window]
        if near:
            locus = min(near)[1]
        else:
            if n_top is not None and len(leads) >= n_top:
                break
            locus = len(leads)
            leads.append(int(j))
        xs.insert(k, x)
        ids.insert(k, locus)
    return leads


def _text_size(text: str, fontsize: float) -> tuple[float, float]:
    """Width and height of ``text`` in points (backend-independent)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    prop = FontProperties(size=fontsize)
    w, h, _ = TextToPath().get_text_width_height_descent(text, prop, ismath=False)
    _, h_line, _ = TextToPath().get_text_width_height_descent("lp", prop, ismath=False)  # matplotlib's line height
    return w, max(h, h_line) * 1.05


def _stack_labels(
    labels: list[tuple[float, float, float, float]],
    points: tuple[np.ndarray, np.ndarray],
    obstacles: list[tuple[float, float, float, float]],
    gap: float,
) -> list[tuple[float, float]]:
    """Bottom-left corner of each label box, in points above the zero line, avoiding points and other labels.

    ``labels`` are ``(x, h, width, height)``: the lead SNP's x and height and the label's size, strongest
    first; ``points`` the x (sorted) and height of every SNP of the half; ``obstacles`` fixed boxes
    ``(x0, y0, x1, y1)``. A label sits centred over its SNP, above every SNP under it, and moves up past
    any box it would overlap.
    """
    px, ph = points
    placed = list(obstacles)
    out = []
    for x, h, w, ht in labels:
        x0 = x - w / 2
        lo, hi = np.searchsorted(px, [x0 - gap, x0 + w + gap])
        y0 = max(h, float(ph[lo:hi].max(initial=0.0))) + gap
        moved = True
        while moved:
            moved = False
            for b in placed:
                if x0 < b[2] and b[0] < x0 + w and y0 < b[3] and b[1] < y0 + ht:
                    y0, moved = b[3] + gap / 2, True
        placed.append((x0, y0, x0 + w, y0 + ht))
        out.append((x0, y0))
    return out


def manhattan(
    data: AnnData | MuData | pd.DataFrame,
    *,
    key: str = "gwas",
    pval: str | None = None,
    genomewide_line: float | None = 5e-8,
    suggestive_line: float | None = 1e-5,
    colors: Sequence[str] = ("#1f4e79", "#7fa7cf"),
    annotate_top: int | None = None,
    annotate_pval: float | None = None,
    locus_window: float = 1_000_000,
    highlight: Sequence[str] | None = None,
    highlight_label: str = "highlighted",
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
        p-value of the genome-wide significance line (red, dashed; in the legend); ``None`` for none.
    suggestive_line
        p-value of the suggestive line (grey, dotted; in the legend); ``None`` for none.
    colors
        Colours cycled over chromosomes.
    annotate_top
        Label the ``annotate_top`` strongest loci, each with the name of its lead SNP (qqman's
        ``annotateTop`` gives one per chromosome; this gives one per locus).
    annotate_pval
        Label every locus with a SNP below this p-value, each once, with its lead SNP (qqman's
        ``annotatePval``): ``annotate_pval=5e-8`` names every genome-wide locus. With ``annotate_top``, the
        ``annotate_top`` strongest of them.
    locus_window
        Distance in bp that makes a locus: SNPs are taken by increasing p-value, and one within
        ``locus_window`` of a stronger SNP of a locus on its chromosome joins that locus (like PLINK's
        ``--clump-kb``, without LD); otherwise it leads a new locus. Use the extent of LD in the cohort (a few
        Mb in outbred mice, a few hundred kb in human cohorts). SNPs without a position use their placed
        position (see Notes).
    highlight
        SNP names drawn emphasised (larger, orange, on top), e.g. the known causal SNPs.
    highlight_label
        Legend entry of the ``highlight`` SNPs.
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
    ``other`` add one collection each. The legend, above the axes, names the threshold lines and the
    highlighted SNPs. Locus labels are annotations (gid ``"locus_label"``, ``"locus_label_other"`` for
    ``other``) placed over the points and each other, the y axis extended to hold them.

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
    >>> df.loc[[40, 42, 150], "p_wald"] = [1e-9, 1e-10, 1e-12]  # a locus on chromosome 1, one on 2
    >>> ax = sg.pl.manhattan(df, annotate_pval=5e-8, locus_window=10_000, show=False)
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['1', '2', 'X']
    >>> [t.get_text() for t in ax.texts]  # one label per locus: its lead SNP (the index here)
    ['150', '42']
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgba_array
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
    if annotate_top is not None and (isinstance(annotate_top, bool) or annotate_top < 0):
        msg = f"annotate_top must be a number of loci >= 0 or None, got {annotate_top!r}."
        raise ValueError(msg)
    if annotate_pval is not None and not 0 < annotate_pval <= 1:
        msg = f"annotate_pval must be a p-value in (0, 1] or None (e.g. 5e-8 for every genome-wide locus), got {annotate_pval!r}."
        raise ValueError(msg)
    if not np.isfinite(locus_window) or locus_window < 0:
        msg = f"locus_window must be a distance in bp >= 0, got {locus_window!r}."
        raise ValueError(msg)
    if len(colors) == 0:
        msg = "colors must hold at least one colour."
        raise ValueError(msg)
    for name, p_line in (("genomewide_line", genomewide_line), ("suggestive_line", suggestive_line)):
        if p_line is not None and not 0 < p_line < 1:
            msg = f"{name} needs a p-value in (0, 1) or None, got {p_line}."
            raise ValueError(msg)

    xs, chroms, centres, right = _layout(tables)
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4))
    palette = to_rgba_array([colors[i % len(colors)] for i in range(len(chroms))])

    ymax = 0.0
    ymin = 0.0
    heights: list[np.ndarray] = []
    leads: list[list[int]] = []
    hl_labelled = False
    for i, (t, x) in enumerate(zip(tables, xs, strict=True)):
        sign = 1.0 if i == 0 else -1.0
        y = sign * _neglog10(t["p"].to_numpy())
        heights.append(y)
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
                hc = ax.scatter(
                    x[hl],
                    y[hl],
                    s=size * 4,
                    color="#e66101",
                    edgecolors="black",
                    linewidths=0.4,
                    zorder=4,
                    label="_highlight_other" if hl_labelled else highlight_label,
                )
                hc.set_gid("highlight" if i == 0 else "highlight_other")
                hl_labelled = True
        if annotate_top or annotate_pval is not None:
            chrom = t["chr"].to_numpy()
            leads.append(
                _clump(
                    chrom,
                    _resolve_positions(t),
                    t["p"].to_numpy(),
                    pval_max=annotate_pval,
                    n_top=annotate_top,
                    window=locus_window,
                )
                if annotate_top != 0
                else []
            )
        else:
            leads.append([])

    for p_line, name, style in (
        (genomewide_line, "genome-wide", {"color": "#d7191c", "ls": "--"}),
        (suggestive_line, "suggestive", {"color": "0.5", "ls": ":"}),
    ):
        if p_line is None:
            continue
        ax.axhline(
            -np.log10(p_line), lw=0.8, zorder=1, label=f"{name} (p = {p_line:.2g})".replace("e-0", "e-"), **style
        )
        if other is not None:
            ax.axhline(np.log10(p_line), lw=0.8, zorder=1, label="_" + name, **style)
        ymax = max(ymax, -np.log10(p_line))
        ymin = min(ymin, np.log10(p_line)) if other is not None else ymin

    ax.set_xticks(centres)
    ax.set_xticklabels(chroms)
    ax.set_xlim(-0.01 * right, 1.01 * right)
    top = ymax * 1.05 + 0.5
    bottom = ymin * 1.05 - 0.5 if other is not None else 0.0
    corner = []
    for text, va in ((label, "top"), (other_label if other is not None else None, "bottom")):
        if text:
            corner.append(_text_size(text, 9))
            ax.text(
                0.005,
                0.98 if va == "top" else 0.02,
                text,
                transform=ax.transAxes,
                va=va,
                ha="left",
                fontsize=9,
                weight="bold",
            )
        else:
            corner.append(None)
    if any(leads):
        top, bottom = _annotate_loci(ax, tables, xs, heights, leads, corner, top, bottom, right)
    ax.set_ylim(bottom, top)
    if other is not None:
        ax.axhline(0.0, color="black", lw=0.6, zorder=1, label="_zero")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{abs(v):g}"))
    ax.set_xlabel("chromosome")
    ax.set_ylabel(r"$-\log_{10}(p)$")
    ax.spines[["top", "right"]].set_visible(False)
    handles, names = ax.get_legend_handles_labels()
    if handles:
        ax.legend(
            handles,
            names,
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            ncols=len(handles),
            frameon=False,
            fontsize=8,
            borderaxespad=0.2,
            handlelength=1.8,
            columnspacing=1.2,
        )
    if title:
        ax.set_title(title, loc="left" if handles else "center")
    return finish(ax.figure, ax, show=show, return_fig=return_fig)


#: Font size (points) of the locus labels.
_LABEL_FONTSIZE = 8.0


def _annotate_loci(ax, tables, xs, heights, leads, corner, top, bottom, right) -> tuple[float, float]:
    """Write each lead SNP's name over (or, mirrored, under) its locus; return the y limits that hold them."""
    fig = ax.figure
    bbox = ax.get_position()
    width_pt = bbox.width * fig.get_figwidth() * 72
    height_pt = bbox.height * fig.get_figheight() * 72
    x_lo, x_hi = -0.01 * right, 1.01 * right
    gap = 2.0
    halves = []
    for i, (t, x, y, lead) in enumerate(zip(tables, xs, heights, leads, strict=True)):
        if not lead:
            halves.append(None)
            continue
        xp = (x - x_lo) / (x_hi - x_lo) * width_pt
        order = np.argsort(xp, kind="stable")
        names = [t["name"].iloc[j] for j in lead]
        sizes = [_text_size(n, _LABEL_FONTSIZE) for n in names]
        halves.append((i, xp[order], np.abs(y[order]), lead, names, sizes, xp, np.abs(y)))
    placed: dict[int, list[tuple[float, float]]] = {}
    for _ in range(8):  # more headroom shrinks the data part while the labels keep their size: converges fast
        scale = height_pt / (top - bottom)  # points per -log10(p) unit
        need = {0: top, 1: bottom}
        for half in halves:
            if half is None:
                continue
            i, px, ph, lead, names, sizes, xp, yabs = half
            room = (top if i == 0 else -bottom) * scale
            obstacles = []
            if corner[i] is not None:
                w, h = corner[i]
                y1 = room - 0.02 * height_pt
                obstacles.append((0.005 * width_pt, y1 - h - gap, 0.005 * width_pt + w + gap, room + gap))
            labels = [
                (float(np.clip(xp[j], w / 2, width_pt - w / 2)), float(yabs[j] * scale), w, h)
                for j, (w, h) in zip(lead, sizes, strict=True)
            ]
            placed[i] = _stack_labels(labels, (px, ph * scale), obstacles, gap)
            reach = max(y0 + h for (_, y0), (_, h) in zip(placed[i], sizes, strict=True)) + gap
            if reach > room:
                extent = top if i == 0 else -bottom
                new = extent * reach / room * 1.02
                need[i] = new if i == 0 else -new
        if need[0] == top and need[1] == bottom:
            break
        top, bottom = need[0], need[1]
    for half in halves:
        if half is None:
            continue
        i, _, _, lead, names, sizes, xp, yabs = half
        sign = 1.0 if i == 0 else -1.0
        x_data = xs[i]
        y_data = heights[i]
        scale = height_pt / (top - bottom)
        for j, name, (w, _h), (x0, y0) in zip(lead, names, sizes, placed[i], strict=True):
            dx = x0 + w / 2 - xp[j]
            dy = y0 - yabs[j] * scale
            ann = ax.annotate(
                name,
                (x_data[j], y_data[j]),
                xytext=(dx, sign * dy),
                textcoords="offset points",
                ha="center",
                va="bottom" if sign > 0 else "top",
                fontsize=_LABEL_FONTSIZE,
                arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "0.4", "shrinkA": 0, "shrinkB": 1.5}
                if abs(dx) > 1 or dy > 3 * gap
                else None,
                zorder=5,
            )
            ann.set_gid("locus_label" if i == 0 else "locus_label_other")
    return top, bottom


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
    ``lambda_GC`` of each, then the diagonal and the band.

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
    band = None
    if ci is not None:
        i = np.arange(1, n_max + 1, dtype=np.float64)
        lo = stats.beta.ppf((1 - ci) / 2, i, n_max - i + 1)
        hi = stats.beta.ppf((1 + ci) / 2, i, n_max - i + 1)
        e = -np.log10((i - 0.5) / n_max)
        band = ax.fill_between(
            e, -np.log10(hi), -np.log10(lo), color="0.85", lw=0, zorder=0, label=f"{ci:.0%} band under the null"
        )
        band.set_gid("ci")
    top = 0.0
    handles = []
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
        handles.append(pc)
        top = max(top, observed.max(), expected.max())
    lim = -np.log10(0.5 / n_max)
    (diagonal,) = ax.plot([0, lim], [0, lim], color="black", lw=0.8, zorder=1, label="expected under the null")
    diagonal.set_gid("diagonal")
    handles += [diagonal] if band is None else [diagonal, band]
    ax.set_xlim(0, lim * 1.03)
    ax.set_ylim(0, max(top, lim) * 1.05)
    ax.set_xlabel(r"expected $-\log_{10}(p)$")
    ax.set_ylabel(r"observed $-\log_{10}(p)$")
    ax.legend(handles=handles, loc="upper left", frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title)
    return finish(ax.figure, ax, show=show, return_fig=return_fig)


__all__ = ["manhattan", "qq"]

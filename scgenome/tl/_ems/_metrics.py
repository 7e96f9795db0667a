"""Ranking and calibration metrics for variant scores (AUPRC, AUROC, Brier, bootstrap CIs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from collections.abc import Sequence


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (ties counted half), NaN when one class is absent.

    Equals :func:`sklearn.metrics.roc_auc_score` (Mann-Whitney U / (n_pos n_neg)).
    """
    y = np.asarray(y, dtype=bool)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    from scipy.stats import rankdata

    ranks = rankdata(score)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    """Average precision (area under the PR curve, step interpolation), NaN without positives.

    Equals :func:`sklearn.metrics.average_precision_score`: tied scores form one threshold.
    """
    y = np.asarray(y, dtype=bool)
    n_pos = int(y.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-np.asarray(score, dtype=float), kind="mergesort")
    s = np.asarray(score, dtype=float)[order]
    yy = y[order]
    tp = np.cumsum(yy)
    fp = np.cumsum(~yy)
    # last index of each run of tied scores
    last = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]
    tp, fp = tp[last], fp[last]
    precision = tp / (tp + fp)
    recall = tp / n_pos
    d_recall = np.diff(np.r_[0.0, recall])
    return float(np.sum(d_recall * precision))


def brier(y: np.ndarray, prob: np.ndarray) -> float:
    """Brier score (mean squared error of a probability)."""
    y = np.asarray(y, dtype=float)
    return float(np.mean((np.asarray(prob, dtype=float) - y) ** 2))


def curves(y: np.ndarray, score: np.ndarray) -> dict[str, np.ndarray]:
    """Precision-recall and ROC curve points (``precision``, ``recall``, ``fpr``, ``tpr``)."""
    y = np.asarray(y, dtype=bool)
    order = np.argsort(-np.asarray(score, dtype=float), kind="mergesort")
    s = np.asarray(score, dtype=float)[order]
    yy = y[order]
    tp = np.cumsum(yy).astype(float)
    fp = np.cumsum(~yy).astype(float)
    last = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]
    tp, fp = tp[last], fp[last]
    n_pos, n_neg = max(y.sum(), 1), max((~y).sum(), 1)
    return {
        "precision": np.r_[1.0, tp / (tp + fp)],
        "recall": np.r_[0.0, tp / n_pos],
        "fpr": np.r_[0.0, fp / n_neg],
        "tpr": np.r_[0.0, tp / n_pos],
    }


def bootstrap_ci(
    y: np.ndarray,
    score: np.ndarray,
    *,
    n_boot: int = 200,
    level: float = 0.95,
    rng: np.random.Generator,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap confidence intervals of AP and AUC (resampling variants)."""
    y = np.asarray(y)
    score = np.asarray(score)
    n = y.size
    aps, aucs = np.empty(n_boot), np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        aps[b] = average_precision(y[idx], score[idx])
        aucs[b] = roc_auc(y[idx], score[idx])
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    return {
        "ap": (float(np.nanpercentile(aps, lo)), float(np.nanpercentile(aps, hi))),
        "auc": (float(np.nanpercentile(aucs, lo)), float(np.nanpercentile(aucs, hi))),
    }


def summarize(
    y: np.ndarray,
    score: np.ndarray,
    *,
    prob: np.ndarray | None = None,
    chrom: Sequence | None = None,
    snv: np.ndarray | None = None,
    n_boot: int = 0,
    rng: np.random.Generator | None = None,
) -> tuple[dict[str, float], pd.DataFrame | None]:
    """Pooled metrics (and a per-chromosome table when ``chrom`` is given).

    Returns
    -------
    A dict with ``n``, ``n_positive``, ``base_rate``, ``ap``, ``auc``, ``brier`` (of ``prob``,
    NaN without), ``ap_snv``/``auc_snv`` (SNVs only, when ``snv`` is given) and
    ``ap_ci``/``auc_ci`` (bootstrap, when ``n_boot > 0``); and a DataFrame indexed by chromosome
    with ``n``, ``positives``, ``base_rate``, ``ap``, ``auc`` (NaN where a chromosome has no
    positives or no negatives).
    """
    y = np.asarray(y, dtype=np.int64)
    score = np.asarray(score, dtype=float)
    out: dict[str, float] = {
        "n": int(y.size),
        "n_positive": int(y.sum()),
        "base_rate": float(y.mean()) if y.size else float("nan"),
        "ap": average_precision(y, score),
        "auc": roc_auc(y, score),
        "brier": brier(y, prob) if prob is not None else float("nan"),
    }
    if snv is not None:
        snv = np.asarray(snv, dtype=bool)
        out["n_snv"] = int(snv.sum())
        out["ap_snv"] = average_precision(y[snv], score[snv]) if snv.any() else float("nan")
        out["auc_snv"] = roc_auc(y[snv], score[snv]) if snv.any() else float("nan")
    if n_boot > 0:
        ci = bootstrap_ci(y, score, n_boot=n_boot, rng=np.random.default_rng(rng))
        out["ap_ci"] = ci["ap"]
        out["auc_ci"] = ci["auc"]
    table = None
    if chrom is not None:
        chrom = np.asarray(chrom).astype(str)
        rows = []
        for c in pd.unique(chrom):
            m = chrom == c
            rows.append(
                {
                    "chrom": c,
                    "n": int(m.sum()),
                    "positives": int(y[m].sum()),
                    "base_rate": float(y[m].mean()),
                    "ap": average_precision(y[m], score[m]),
                    "auc": roc_auc(y[m], score[m]),
                }
            )
        table = pd.DataFrame(rows).set_index("chrom")
        table = table.loc[sorted(table.index, key=chrom_sort_key)]
    return out, table


def chrom_sort_key(c: str) -> tuple[int, str]:
    """Sort key putting ``chr2`` before ``chr10`` (numbers first, then X, Y, M, others)."""
    s = str(c).removeprefix("chr")
    if s.isdigit():
        return (int(s), "")
    return (1000 + {"X": 0, "Y": 1, "M": 2, "MT": 2}.get(s, 3), s)


__all__ = ["average_precision", "bootstrap_ci", "brier", "chrom_sort_key", "curves", "roc_auc", "summarize"]

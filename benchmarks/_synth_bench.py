"""Shared by the synthesis benchmarks: the internal GWAS timed apart, and the report printed.

Importing this module wraps the GWAS that ``sg.tl.synthesize`` runs inside, so that its time is kept apart from
the rest (the fit + sample budget excludes it).
"""

from __future__ import annotations

import time

from scgenome.tl._synth import _api

#: seconds spent in the internal GWAS since the last reset (``GWAS_TIME[0] = 0.0``)
GWAS_TIME = [0.0]
_run = _api.gwas_result


def _timed_gwas(*a, **k):
    t = time.perf_counter()
    out = _run(*a, **k)
    GWAS_TIME[0] += time.perf_counter() - t
    return out


_api.gwas_result = _timed_gwas


GWAS_COLUMNS = [
    "level",
    "threshold",
    "n_real",
    "n_synthetic",
    "precision",
    "recall",
    "f1",
    "floor_f1",
    "floor_f1_min",
    "floor_f1_max",
    "floor_precision",
    "floor_recall",
    "train_f1",
]


def show(title: str, tabs: dict, columns=GWAS_COLUMNS) -> None:
    """Print the tables of ``sg.tl.synthesis_report``: GWAS concordance (``columns``), agreement, fidelity, privacy."""
    print(f"\n=== {title}")
    print(tabs["gwas"][columns].to_string(index=False, float_format="%.3f", formatters={"threshold": "{:.0e}".format}))
    print(tabs["gwas_agreement"].to_string(float_format="%.3f"))
    print(tabs["fidelity"].to_string(float_format="%.4f"))
    print(tabs["privacy"].to_string(float_format="%.4f"))

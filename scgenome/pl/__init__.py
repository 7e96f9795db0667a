"""``sg.pl``."""

from __future__ import annotations

from ._ems import ems_calibration, ems_curves, ems_importance
from ._gwas import manhattan, qq
from ._synth import synthesis_report

__all__ = [
    "ems_calibration",
    "ems_curves",
    "ems_importance",
    "manhattan",
    "qq",
    "synthesis_report",
]

"""``sg.get``."""

from __future__ import annotations

from ._ems import ems_df
from ._gwas import gwas_df
from ._negbin import negbin_df, negbin_params
from ._synth import synthesis_report_df

__all__ = [
    "ems_df",
    "gwas_df",
    "negbin_df",
    "negbin_params",
    "synthesis_report_df",
]

"""``sg.get``."""

from __future__ import annotations

from ._ems import ems_df
from ._gwas import gwas_df
from ._negbin import negbin_df, negbin_params

__all__ = ["ems_df", "gwas_df", "negbin_df", "negbin_params"]

"""``sg.datasets``: simulators that make data for demos and tests, and paths to real data."""

from __future__ import annotations

from ._cohort import simulate_cohort
from ._counts import simulate_counts
from ._paths import data_path
from ._variants import simulate_variants

__all__ = ["data_path", "simulate_cohort", "simulate_counts", "simulate_variants"]

"""``sg.datasets``: simulators that make data for demos and tests, and paths to real data."""

from __future__ import annotations

from ._paths import data_path

__all__ = ["data_path"]

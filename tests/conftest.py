"""Shared fixtures. Real data come only through :func:`data_path`."""

from __future__ import annotations

import os

import matplotlib as mpl
import numpy as np
import pytest

mpl.use("Agg")


def _require(name: str):
    """Path of a real data set; skip when absent, fail when ``CI=true``."""
    import scgenome as sg

    path = sg.datasets.data_path(name)
    if not path.exists():
        reason = (
            f"real data set {name!r} not found at {path} (set SCGENOME_DATA or put ../shared/data beside the project)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    return path


@pytest.fixture
def data_path():
    """Factory fixture: ``data_path("mouse-hs1940")`` -> Path, or skip (fail on CI) when absent."""
    return _require


@pytest.fixture
def rng():
    """A seeded generator."""
    return np.random.default_rng(0)

"""``sg.tl``."""

from __future__ import annotations

from ._ems import EMSModel, ems_prior_weights, ems_score, ems_train

__all__ = ["EMSModel", "ems_prior_weights", "ems_score", "ems_train"]

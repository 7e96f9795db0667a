"""sc-EMS variant scores: feature-weighted CatBoost with leave-one-chromosome-out evaluation."""

from __future__ import annotations

from ._calibrate import ems_prior_weights
from ._model import EMSModel
from ._score import ems_score
from ._train import ems_train

__all__ = ["EMSModel", "ems_prior_weights", "ems_score", "ems_train"]

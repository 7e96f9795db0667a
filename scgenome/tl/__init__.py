"""``sg.tl``."""

from __future__ import annotations

from ._ems import EMSModel, ems_prior_weights, ems_score, ems_train
from ._gwas import gwas
from ._negbin import negbin_fit, negbin_predict, negbin_sample
from ._synth import synthesis_report, synthesize

__all__ = [
    "EMSModel",
    "ems_prior_weights",
    "ems_score",
    "ems_train",
    "gwas",
    "negbin_fit",
    "negbin_predict",
    "negbin_sample",
    "synthesis_report",
    "synthesize",
]

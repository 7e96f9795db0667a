"""Synthetic cohorts: diploid haplotype-cluster HMM, genetic phenotype model, fidelity/privacy report."""

from __future__ import annotations

from ._api import synthesize
from ._report import synthesis_report

__all__ = ["synthesis_report", "synthesize"]

"""``sg.pp``."""

from __future__ import annotations

from ._ems import ems_labels, variant_features
from ._kinship import kinship
from ._qc import snp_qc

__all__ = ["ems_labels", "kinship", "snp_qc", "variant_features"]

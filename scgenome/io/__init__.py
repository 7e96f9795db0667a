"""``sg.io``."""

from __future__ import annotations

from ._bimbam import read_bimbam
from ._plink import read_plink

__all__ = ["read_bimbam", "read_plink"]

"""scgenome: statistical genomics on AnnData/MuData.

Count models (:mod:`scgenome.tl` ``negbin_*``), variant scores (``ems_*``), GWAS and
synthetic cohorts, in the scverse style: ``import scgenome as sg``.
"""

from __future__ import annotations

from . import datasets, get, io, pl, pp, tl
from ._settings import settings
from ._version import __version__

__all__ = ["__version__", "datasets", "get", "io", "pl", "pp", "settings", "tl"]

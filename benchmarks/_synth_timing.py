"""Time the GWAS that ``sg.tl.synthesize`` runs inside apart from the rest (the fit + sample budget excludes it)."""

from __future__ import annotations

import time

from scgenome.tl._synth import _api

#: seconds spent in the internal GWAS since the last reset (``GWAS_TIME[0] = 0.0``)
GWAS_TIME = [0.0]
_run = _api.gwas_result


def _timed_gwas(*a, **k):
    t = time.perf_counter()
    out = _run(*a, **k)
    GWAS_TIME[0] += time.perf_counter() - t
    return out


_api.gwas_result = _timed_gwas

"""``scgenome demo``: one run of every capability on data the package simulates itself.

Each capability contributes one step: a function ``step(outdir, rng) -> list[str]`` returning
summary lines. Steps are listed in :data:`STEPS` by import path so that a missing optional
piece never breaks the others.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

import numpy as np

from ._logging import logger

#: (name, "module:function") of each demo step, run in this order.
STEPS: list[tuple[str, str]] = [
    ("gwas", "scgenome.tl._gwas._demo:step"),
    ("ems", "scgenome.tl._ems._demo:step"),
    ("negbin", "scgenome.tl._negbin._demo:step"),
    ("synthesize", "scgenome.tl._synth._demo:step"),
]


def run_demo(outdir: str | Path = "scgenome_demo", *, rng: int = 0, steps: list[str] | None = None) -> list[str]:
    """Run the demo steps and return the printed summary lines."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    lines: list[str] = [f"scgenome demo -> {outdir.resolve()}"]
    for name, target in STEPS:
        if steps is not None and name not in steps:
            continue
        module, func = target.split(":")
        step = getattr(importlib.import_module(module), func)
        t0 = time.perf_counter()
        logger.info("demo step %s", name)
        step_lines = step(outdir, np.random.default_rng(rng))
        lines.append(f"[{name}] ({time.perf_counter() - t0:.1f} s)")
        lines.extend(f"  {line}" for line in step_lines)
    return lines


__all__ = ["STEPS", "run_demo"]

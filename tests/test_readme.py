"""The README's Python block runs as written, on a fresh install (real data through ``SCGENOME_DATA``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


@pytest.mark.realdata
@pytest.mark.slow
def test_readme_python_block_runs_as_written(data_path, tmp_path):
    data_path("mouse-hs1940")  # the block reads GEMMA's example through sg.datasets.data_path
    blocks = _python_blocks()
    assert blocks, "README.md has no ```python block"
    script = tmp_path / "readme_block.py"
    script.write_text(blocks[0])
    env = {**os.environ, "MPLBACKEND": "Agg", "SCGENOME_DATA": str(data_path("mouse-hs1940").parent)}
    out = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert out.returncode == 0, f"README block failed:\n{out.stderr[-4000:]}"
    # what it prints: the GWAS table, the count-model Wald table, the EMS AUC and the privacy table
    assert "rs" in out.stdout
    assert "pval" in out.stdout
    assert "mia_auc_nn" in out.stdout
    auc = [float(x) for x in re.findall(r"^LOCO AUC (0\.\d+)$", out.stdout, flags=re.MULTILINE)]
    assert auc, out.stdout
    assert auc[0] > 0.7  # the EMS score separates the simulated functional variants

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import scgenome as sg
from scgenome.cli import main


def test_namespaces():
    for ns in ("pp", "tl", "pl", "io", "get", "datasets", "settings"):
        assert hasattr(sg, ns)
    assert sg.__version__


def test_settings_verbosity_and_errors():
    old = sg.settings.verbosity
    try:
        sg.settings.verbosity = 2
        assert sg.settings.progress
        with pytest.raises(ValueError, match="verbosity"):
            sg.settings.verbosity = 7
    finally:
        sg.settings.verbosity = old
    assert sg.settings.torch_device("cpu").type == "cpu"


def test_data_path_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SCGENOME_DATA", str(tmp_path))
    assert sg.datasets.data_path("x") == tmp_path / "x"
    assert sg.datasets.data_path() == tmp_path


def test_data_path_fixture_fails_on_ci(monkeypatch, tmp_path, data_path):
    monkeypatch.setenv("SCGENOME_DATA", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        data_path("no-such-set")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="not found"):
        data_path("no-such-set")


def test_rng_reproducible():
    from scgenome._utils import get_rng

    assert get_rng(3).integers(1000) == get_rng(3).integers(1000)
    g = np.random.default_rng(1)
    assert get_rng(g) is g


def test_validation_counts():
    from scgenome._validation import check_binary_labels, check_counts

    check_counts(np.array([[0, 1], [2, 3]]))
    with pytest.raises(ValueError, match="negative"):
        check_counts(np.array([[0, -1]]))
    with pytest.raises(ValueError, match="non-integer"):
        check_counts(np.array([[0.5, 1.0]]))
    with pytest.raises(ValueError, match="single class"):
        check_binary_labels([1, 1, 1])
    with pytest.raises(ValueError, match="missing"):
        check_binary_labels([1, np.nan, 0])


def test_cli_version(capsys):
    assert main(["--version"]) == 0
    assert sg.__version__ in capsys.readouterr().out


def test_ci_run_uses_readme_command():
    root = Path(__file__).resolve().parents[1]
    ci = (root / ".ci" / "run").read_text()
    readme = (root / "README.md").read_text()
    assert "<!-- test-command -->" in readme
    assert "test-command" in ci
    assert "torch==2.13.0" in readme.split("<!-- test-command -->")[1].split("```")[1]


def test_phenotypes_from_mdata_obs_skip_other_modalities_individuals():
    mudata = pytest.importorskip("mudata")
    from scgenome._utils import geno_view

    g = sg.datasets.simulate_cohort(n_individuals=60, n_snps=50, rng=0)
    geno = ad.AnnData(g.X, obs=pd.DataFrame(index=g.obs_names), var=g.var)
    rna = ad.AnnData(np.zeros((70, 3)), obs=pd.DataFrame(index=[*g.obs_names[:50], *[f"r{i}" for i in range(20)]]))
    with mudata.set_options(pull_on_update=False):
        md = mudata.MuData({"geno": geno, "rna": rna})
    md.obs["pheno"] = np.nan
    md.obs.loc[g.obs_names[:50], "pheno"] = g.obs["pheno"].to_numpy()[:50]
    view = geno_view(md)
    assert list(view.obs_names) == list(g.obs_names)
    np.testing.assert_allclose(view.obs["pheno"].to_numpy()[:50], g.obs["pheno"].to_numpy()[:50])
    assert view.obs["pheno"].iloc[50:].isna().all()


def test_logging_never_prints_twice(monkeypatch, capsys):
    import logging

    from scgenome._logging import logger

    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    seen = []
    h = logging.Handler()
    h.emit = seen.append
    logger.addHandler(h)  # the application's handler on the package logger itself
    try:
        logger.warning("only once")
    finally:
        logger.removeHandler(h)
    assert len(seen) == 1
    assert "only once" not in capsys.readouterr().err


def _imported_distributions() -> dict[str, set[str]]:
    """Distribution name (lower case) -> modules of scgenome that import it (any import, also inside functions)."""
    import ast
    import importlib.metadata
    import sys

    dists = importlib.metadata.packages_distributions()
    root = Path(sg.__file__).parent
    found: dict[str, set[str]] = {}
    for f in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in ("scgenome", "__future__"):
                    continue
                assert top in dists, f"{f.relative_to(root)} imports {top!r}, which no installed distribution provides"
                for dist in dists[top]:
                    found.setdefault(dist.lower(), set()).add(str(f.relative_to(root)))
    return found


def test_dependencies_declared_exactly_as_imported():
    import re
    import tomllib

    pyproject = tomllib.loads((Path(sg.__file__).parents[1] / "pyproject.toml").read_text())
    declared = {re.split(r"[\s\[<>=!~;]", d, maxsplit=1)[0].lower() for d in pyproject["project"]["dependencies"]}
    imported = _imported_distributions()
    assert not set(imported) - declared, (
        f"imported but not declared: { {d: imported[d] for d in set(imported) - declared} }"
    )
    assert not declared - set(imported), f"declared but never imported by scgenome: {sorted(declared - set(imported))}"

"""nox sessions: tests, lint, docs, demo, bench. Every install pins torch==2.13.0."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "tests"]
TORCH = "torch==2.13.0"


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    session.install(TORCH, "-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "scgenome", "tests", "benchmarks", "docs", "noxfile.py")
    session.run("ruff", "format", "--check", "scgenome", "tests", "benchmarks", "noxfile.py")


@nox.session(python="3.11")
def docs(session: nox.Session) -> None:
    session.install(TORCH, "-e", ".[docs]")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html", *session.posargs)


@nox.session(python="3.11")
def demo(session: nox.Session) -> None:
    session.install(TORCH, "-e", ".")
    session.run("scgenome", "demo", *(session.posargs or ["scgenome_demo"]))


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Run the benchmarks (they install their peers: gemma/plink2 via apt, scdesigner in its own venv)."""
    session.install(TORCH, "-e", ".")
    env = {"OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    scripts = session.posargs or [
        "gwas_vs_gemma.py",
        "negbin_vs_scdesigner.py",
        "ems_loco.py",
        "synth_hs1940.py",
    ]
    for script in scripts:
        session.run("python", f"benchmarks/{script}", env=env)

"""Command line: ``scgenome demo`` and the per-capability subcommands."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

#: Subcommand registrars: functions taking the subparsers object (added by capabilities).
SUBCOMMANDS: list[str] = ["scgenome._ems_cli:register"]


def _demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    lines = run_demo(args.outdir, rng=args.seed, steps=args.steps)
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the ``scgenome`` argument parser."""
    import importlib

    from ._demo import STEPS

    step_names = [name for name, _ in STEPS]
    parser = argparse.ArgumentParser(prog="scgenome", description="Statistical genomics on AnnData/MuData.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug) and tracebacks on errors"
    )
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser(
        "demo",
        help=f"run every capability ({', '.join(step_names)}) on simulated data and write figures/tables",
        description="Run every capability on simulated data, write figures and tables, and print a summary.",
    )
    demo.add_argument("outdir", nargs="?", default="scgenome_demo", help="output folder (default: scgenome_demo)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument(
        "--steps",
        nargs="+",
        choices=step_names,
        default=None,
        metavar="STEP",
        help=f"run only these steps, of: {', '.join(step_names)} (default: all)",
    )
    demo.set_defaults(func=_demo)
    for target in SUBCOMMANDS:
        module, func = target.split(":")
        register: Callable = getattr(importlib.import_module(module), func)
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``scgenome`` command.

    A ``ValueError`` or ``OSError`` (bad input, an unusable path) prints ``scgenome: error: <message>`` to stderr and
    returns 2, as argparse does for bad arguments; with ``-v`` the traceback is printed first.
    """
    import logging

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from ._version import __version__

        sys.stdout.write(f"scgenome {__version__}\n")
        return 0
    if args.verbose:
        from ._settings import settings

        logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
        settings.verbosity = min(3, 1 + args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError) as err:
        # bad input or an unusable path: the message says what to do; the traceback only with -v
        if args.verbose:
            import traceback

            traceback.print_exc(file=sys.stderr)
        sys.stderr.write(f"{parser.prog}: error: {err}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

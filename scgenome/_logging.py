"""The package logger.

Warnings (and, at ``sg.settings.verbosity >= 2``, info messages) reach ``stderr`` by default, as
scanpy's do, through a handler that stands aside once the application configures logging itself
(``logging.basicConfig`` or any handler on the root logger): then the records propagate there
alone, never twice. The package never calls ``basicConfig``.
"""

from __future__ import annotations

import logging
import sys


class _DefaultHandler(logging.StreamHandler):
    """``stderr`` handler used only while the root logger has no handler of its own."""

    def emit(self, record: logging.LogRecord) -> None:
        if logging.getLogger().handlers:
            return
        self.stream = sys.stderr  # the current stream (notebooks and test runners replace it)
        super().emit(record)


logger = logging.getLogger("scgenome")
_handler = _DefaultHandler()
_handler.setFormatter(logging.Formatter("scgenome %(levelname)s: %(message)s"))
logger.addHandler(_handler)

__all__ = ["logger"]

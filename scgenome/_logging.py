"""The package logger.

Warnings (and, at ``sg.settings.verbosity >= 2``, info messages) reach ``stderr`` by default, as
scanpy's do, through a handler that stands aside once the application configures logging itself
(``logging.basicConfig``, or any handler on the root logger or on the ``scgenome`` logger): then
the records go there alone, never twice. The package never calls ``basicConfig``.
"""

from __future__ import annotations

import logging
import sys


class _DefaultHandler(logging.StreamHandler):
    """``stderr`` handler used only while no other handler (the application's) would print the record."""

    def emit(self, record: logging.LogRecord) -> None:
        lg: logging.Logger | None = logging.getLogger(record.name)
        while lg is not None:  # another handler on the way up (the application's, on root or on our logger)
            if any(h is not self and not isinstance(h, logging.NullHandler) for h in lg.handlers):
                return
            lg = lg.parent if lg.propagate else None
        self.stream = sys.stderr  # the current stream (notebooks and test runners replace it)
        super().emit(record)


logger = logging.getLogger("scgenome")
_handler = _DefaultHandler()
_handler.setFormatter(logging.Formatter("scgenome %(levelname)s: %(message)s"))
logger.addHandler(_handler)

__all__ = ["logger"]

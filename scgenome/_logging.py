"""The package logger. Never calls ``basicConfig``: applications decide where logs go."""

from __future__ import annotations

import logging

logger = logging.getLogger("scgenome")
logger.addHandler(logging.NullHandler())

__all__ = ["logger"]

"""``sg.pl``."""

from __future__ import annotations

from ._gwas import manhattan, qq

__all__: list[str] = ["manhattan", "qq"]

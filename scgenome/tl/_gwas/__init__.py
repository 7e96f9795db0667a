"""GWAS: linear mixed model and linear model association tests."""

from __future__ import annotations

from ._api import gwas

__all__ = ["gwas"]

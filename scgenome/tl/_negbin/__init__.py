"""Count models: negative-binomial / Poisson / ZINB regression per gene (fit, predict, sample)."""

from __future__ import annotations

from ._api import negbin_fit, negbin_predict, negbin_sample

__all__ = ["negbin_fit", "negbin_predict", "negbin_sample"]

"""Probability calibration (Platt / isotonic, fitted on held-out rows) and prior shifting."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of ``p`` (clipped to avoid infinities)."""
    p = np.clip(np.asarray(p, dtype=float), 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


def expit(x: np.ndarray) -> np.ndarray:
    """Logistic function."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def prior_shift(p: np.ndarray, from_prior: float, to_prior: float) -> np.ndarray:
    """Move probabilities from one class prior to another by a logit shift.

    ``logit(p') = logit(p) - logit(from_prior) + logit(to_prior)`` (Bayes' rule with the
    likelihood ratio held fixed; Saerens et al. 2002).
    """
    for name, v in (("from_prior", from_prior), ("to_prior", to_prior)):
        if not 0 < v < 1:
            msg = f"{name} must lie strictly between 0 and 1, got {v!r}."
            raise ValueError(msg)
    return expit(logit(p) - logit(from_prior) + logit(to_prior))


def _fit_platt(margin: np.ndarray, y: np.ndarray, *, n_iter: int = 100) -> tuple[float, float]:
    """Fit ``P(y=1) = expit(a * margin + b)`` by Newton's method (Platt 1999, with his target smoothing)."""
    y = np.asarray(y, dtype=float)
    n_pos, n_neg = y.sum(), (1 - y).sum()
    t = np.where(y > 0, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    x = np.asarray(margin, dtype=float)
    a, b = 1.0, float(logit(np.array([(n_pos + 1) / (y.size + 2)]))[0])
    for _ in range(n_iter):
        p = expit(a * x + b)
        g = np.array([np.sum((p - t) * x), np.sum(p - t)])
        w = p * (1 - p) + 1e-12
        h = np.array([[np.sum(w * x * x), np.sum(w * x)], [np.sum(w * x), np.sum(w)]]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(h, g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-10:
            break
    return float(a), float(b)


def ems_prior_weights(p: np.ndarray, *, train_prior: float, prior: float) -> np.ndarray:
    """Turn calibrated EMS probabilities into probabilities at a genome-wide prior (for SuSiE prior weights).

    Parameters
    ----------
    p
        Calibrated probabilities (``obs["ems_calibrated"]``), on the training class prior.
    train_prior
        Positive fraction the probabilities refer to (``EMSModel.train_prior``).
    prior
        Genome-wide prior probability of a functional variant.

    Returns
    -------
    ``expit(logit(p) - logit(train_prior) + logit(prior))``; normalize within a locus to use
    them as SuSiE ``prior_weights``.

    Notes
    -----
    The likelihood ratio is kept and only the prior odds change (Saerens et al. 2002), as scEEMS
    does to feed sc-EMS scores to SuSiE.

    Examples
    --------
    >>> import numpy as np
    >>> import scgenome as sg
    >>> sg.tl.ems_prior_weights(np.array([0.5]), train_prior=0.5, prior=0.01).round(3).tolist()
    [0.01]
    """
    return prior_shift(p, train_prior, prior)


class Calibrator:
    """Map a raw margin to a probability at the natural class prior of the calibration rows.

    Parameters
    ----------
    method
        ``"platt"`` (logistic on the margin) or ``"isotonic"`` (monotone step function).
    """

    def __init__(self, method: Literal["platt", "isotonic"] = "platt") -> None:
        if method not in ("platt", "isotonic"):
            msg = f"calibration must be 'platt', 'isotonic' or None, got {method!r}."
            raise ValueError(msg)
        self.method = method
        self.params: dict[str, Any] = {}

    def fit(self, margin: np.ndarray, y: np.ndarray) -> Calibrator:
        """Fit on held-out margins and 0/1 labels."""
        if self.method == "platt":
            a, b = _fit_platt(margin, y)
            self.params = {"a": a, "b": b}
        else:
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(margin, y)
            self.params = {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
        return self

    def transform(self, margin: np.ndarray) -> np.ndarray:
        """Calibrated probability of each margin."""
        margin = np.asarray(margin, dtype=float)
        if self.method == "platt":
            return expit(self.params["a"] * margin + self.params["b"])
        return np.interp(margin, self.params["x"], self.params["y"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"method": self.method, **self.params}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibrator:
        """Rebuild from :meth:`to_dict`."""
        d = dict(d)
        cal = cls(d.pop("method"))
        cal.params = d
        return cal


__all__ = ["Calibrator", "ems_prior_weights", "expit", "logit", "prior_shift"]

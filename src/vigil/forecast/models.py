"""Forecasters of ``P(y = 1)`` for the escalation panel: two baselines and three learners.

Why these five
--------------
A forecaster is worth reporting only beside the bars it has to clear, so two of the five are
deliberately naive:

* :class:`BaseRate` — the training mean, the same probability for every row (climatology);
* :class:`NoChange` — persistence, the "nothing changes" bar of the ViEWS prediction
  competition made a probability: ``P(y | f_above_thr_now)`` estimated on the training rows,
  with Laplace smoothing (``(k + 1) / (n + 2)``) so a level never seen stays off 0 and 1;
* :class:`Logistic` — a linear model, auditable coefficient by coefficient;
* :class:`Boosting` — LightGBM gradient-boosted trees, for interactions and thresholds that a
  linear model cannot draw;
* :class:`Ensemble` — the mean of calibrated members: averaging models with different errors
  is the cheapest reliable gain in forecasting tournaments.

The contract (sklearn's, without inheriting from it)
----------------------------------------------------
Constructors only store their parameters, under the same names, so :func:`clone` can rebuild a
fresh, unfitted copy from :meth:`get_params` — each backtest fold starts from one. ``fit(X, y,
origin=None)`` returns ``self``; everything learnt ends in ``_`` and does not exist before
``fit`` (``predict_proba`` first raises :class:`NotFittedError`). ``predict_proba(X)`` returns a
1-d array strictly inside (0, 1): a log loss stays finite whatever happens. A model is a pure
function of its data and ``random_state``: two fits give identical predictions. ``X`` is a
DataFrame; the features are its ``f_*`` columns (all of its columns if none is so named), read
by name, so column order does not matter and the whole panel can be passed. NaNs are allowed:
each model handles them (imputation plus missing indicators for the linear model, LightGBM's
native missing-value splits for the trees).

Calibration inside the training window
--------------------------------------
Boosted trees and regularised regressions rank well but their probabilities are often too
extreme or too timid; a forecast read as a probability must mean what it says. The learners
are therefore calibrated *without* touching the test years: when ``fit`` is given the rows'
``origin``, the rows of the latest origins (≈ 20 % of the rows, whole origins only) are held
out, the model is fitted on the earlier ≈ 80 %, and a Platt calibrator ``p = σ(a · logit(s) +
b)`` is fitted on the held-out raw scores ``s``. The model is then refitted on all rows and the
calibrator kept. Holding out the *latest* rows, not a random 20 %, mimics the real use — the
calibrator learns how the model's scores translate into frequencies on months it has not seen,
under the drift a forecaster meets. Platt on the logit is two parameters: it cannot overfit a
small held-out slice the way isotonic regression does, and ``a = 1, b = 0`` is the identity, so
an already calibrated model is left nearly unchanged. The targets are smoothed as in Platt's
paper (``(n₊ + 1) / (n₊ + 2)`` and ``1 / (n₋ + 2)``) so a held-out slice the model separates
perfectly still gives finite parameters. Keeping the calibrator for the refitted model assumes
the refit scores have the scale of the 80 % model's: true of the boosted trees (fixed number of
trees and learning rate) and of a weakly regularised regression, not of a very small ``C``, whose
coefficients grow with the number of rows (1.25× more rows, 1.25× steeper logits). Without
``origin``, or when either part lacks one of
the classes, no calibrator is fitted (``calibrator_`` is ``None``) and the raw scores are used.
"""

# sklearn's argument names (X, C) are kept on purpose: the API reads like the library it mirrors
# ruff: noqa: N803

from __future__ import annotations

import abc
import inspect
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit, logit
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

#: predictions are clipped to [EPS, 1 - EPS]: strictly inside (0, 1)
EPS = 1e-6
#: share of the training rows (the latest origins) held out to fit the calibrator
CALIBRATION_SHARE = 0.2
#: LightGBM threads. One, not two: LightGBM's OpenMP threads wait for each other at every
#: histogram step, and when another process takes one of the cores (a second backtest, the
#: test suite, another user on a 2-core machine) each wait costs a scheduler time slice: on
#: 2 cores, 300 trees on 60k rows took ~0.8 s with 2 threads alone but 14-27 s with 2 threads
#: beside one busy process, against ~1.3-1.5 s with 1 thread in every case. A steady 1.5x
#: beats a possible 20x.
THREADS = 1
#: feature that :class:`NoChange` persists
ABOVE_NOW = "f_above_thr_now"


class NotFittedError(ValueError, AttributeError):
    """``predict_proba`` was called on a model that has not been fitted."""


class Forecaster(abc.ABC):
    """Base class: parameter introspection, the fitted-state check, the feature columns."""

    def get_params(self) -> dict[str, Any]:
        """The constructor's parameters and their current values."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    @abc.abstractmethod
    def fit(self, X: pd.DataFrame, y, *, origin=None) -> Forecaster:
        """Learn from ``X`` (the ``f_*`` columns) and ``y``; return ``self``."""

    @abc.abstractmethod
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """P(y = 1) for each row of ``X``."""

    def _check_fitted(self) -> None:
        if not any(k.endswith("_") and not k.startswith("_") for k in vars(self)):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call fit(X, y) before "
                "predict_proba(X)"
            )

    def _features(self, X: pd.DataFrame) -> np.ndarray:
        """``X``'s feature columns, in the order seen by ``fit``, as a float matrix."""
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise ValueError(f"X lacks the feature column(s) the model was fitted on: {missing}")
        return X[self.feature_names_in_].to_numpy(dtype=float)


def clone(model: Forecaster, **params: Any) -> Forecaster:
    """A fresh, unfitted copy of ``model`` built from its parameters, with ``params`` replacing
    some of them. A parameter the model does not take is skipped, so one ``random_state`` can
    be passed to every model (the baselines have no randomness)."""
    merged = model.get_params()
    merged.update({k: v for k, v in params.items() if k in merged})
    return type(model)(**merged)


def _feature_matrix(X: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """The names of the feature columns (``f_*``, or all columns if none is so named) and
    their values as a float matrix."""
    if not isinstance(X, pd.DataFrame):
        raise TypeError("X must be a pandas DataFrame of f_* feature columns")
    names = [c for c in X.columns if str(c).startswith("f_")] or list(X.columns)
    if not names:
        raise ValueError("X has no feature column")
    return names, X[names].to_numpy(dtype=float)


def _labels(y, n: int) -> np.ndarray:
    arr = np.asarray(y, dtype=float).ravel()
    if arr.shape[0] != n:
        raise ValueError(f"y has {arr.shape[0]} values for {n} rows of X")
    if not np.isin(arr, (0.0, 1.0)).all():
        raise ValueError("y must be 0/1 (no NaN)")
    return arr.astype(int)


def _clip(p) -> np.ndarray:
    return np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)


class BaseRate(Forecaster):
    """The training mean for every row, clipped to [1e-4, 1 - 1e-4]."""

    def __init__(self) -> None:
        pass

    def fit(self, X: pd.DataFrame, y, *, origin=None) -> BaseRate:
        labels = _labels(y, len(X))
        if labels.size == 0:
            raise ValueError("cannot fit on zero rows")
        self.rate_ = float(np.clip(labels.mean(), 1e-4, 1 - 1e-4))
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        self._check_fitted()
        return np.full(len(X), self.rate_)


class NoChange(Forecaster):
    """Persistence: ``P(y = 1 | f_above_thr_now)`` with Laplace smoothing ``(k + 1) / (n + 2)``.

    ``f_above_thr_now`` is 1 when the last known month already reached the threshold. A row
    whose value is missing gets the pooled (smoothed) training rate.
    """

    def __init__(self) -> None:
        pass

    def fit(self, X: pd.DataFrame, y, *, origin=None) -> NoChange:
        if ABOVE_NOW not in X.columns:
            raise ValueError(f"NoChange needs the {ABOVE_NOW} column")
        labels = _labels(y, len(X))
        now = X[ABOVE_NOW].to_numpy(dtype=float)
        known = ~np.isnan(now)
        self.rate_ = float((labels.sum() + 1) / (labels.size + 2))
        self.p_ = {}
        for level in (0, 1):
            hit = known & ((now >= 0.5) == bool(level))
            self.p_[level] = float((labels[hit].sum() + 1) / (hit.sum() + 2))
        self.feature_names_in_ = [ABOVE_NOW]
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        self._check_fitted()
        now = self._features(X)[:, 0]
        p = np.where(now >= 0.5, self.p_[1], self.p_[0])
        return np.where(np.isnan(now), self.rate_, p).astype(float)


def calibration_holdout(origin, n: int) -> np.ndarray | None:
    """Mask of the rows of the latest origins that make up ≈ the last CALIBRATION_SHARE of the
    rows (whole origins: rows of one origin are never split). None without ``origin``."""
    if origin is None:
        return None
    when = pd.to_datetime(pd.Series(np.asarray(origin).ravel())).to_numpy()
    if when.shape[0] != n:
        raise ValueError(f"origin has {when.shape[0]} values for {n} rows")
    ordered = np.sort(when)
    cut = ordered[min(int(np.floor(n * (1 - CALIBRATION_SHARE))), n - 1)]
    return when >= cut


def _platt_loss(params: np.ndarray, z: np.ndarray, t: np.ndarray) -> tuple[float, np.ndarray]:
    a, b = params
    s = a * z + b
    # cross entropy with soft targets, written stably: log(1 + e^s) - t·s
    loss = np.logaddexp(0.0, s) - t * s
    g = expit(s) - t
    return float(loss.sum()), np.array([float((g * z).sum()), float(g.sum())])


def fit_platt(score, y) -> tuple[float, float]:
    """Platt's sigmoid on the logit of ``score``: ``(a, b)`` of ``σ(a · logit(score) + b)``,
    fitted by maximum likelihood with Platt's smoothed targets."""
    z = logit(_clip(score))
    labels = np.asarray(y, dtype=int)
    pos, neg = int(labels.sum()), int(labels.size - labels.sum())
    t = np.where(labels == 1, (pos + 1) / (pos + 2), 1 / (neg + 2))
    res = minimize(_platt_loss, np.array([1.0, 0.0]), args=(z, t), jac=True, method="L-BFGS-B")
    return float(res.x[0]), float(res.x[1])


def apply_platt(calibrator: tuple[float, float], score) -> np.ndarray:
    a, b = calibrator
    return expit(a * logit(_clip(score)) + b)


class _Calibrated(Forecaster):
    """A learner (``_fit_raw`` / ``_raw``) with the in-window calibration of the module doc.

    With a single class in the training labels there is nothing to learn: the model predicts
    the smoothed training rate (``constant_``) rather than failing the whole backtest fold.
    """

    def fit(self, X: pd.DataFrame, y, *, origin=None) -> _Calibrated:
        labels = _labels(y, len(X))
        if labels.size == 0:
            raise ValueError("cannot fit on zero rows")
        held = calibration_holdout(origin, labels.size)
        names, features = _feature_matrix(X)
        model = calibrator = constant = None
        if labels.min() == labels.max():
            constant = (labels.sum() + 1) / (labels.size + 2)
        else:
            if held is not None and _two_classes(labels[held]) and _two_classes(labels[~held]):
                early = self._fit_raw(features[~held], labels[~held])
                calibrator = fit_platt(self._raw(early, features[held]), labels[held])
            model = self._fit_raw(features, labels)
        # the fitted state is set only once everything succeeded: never half fitted
        self.feature_names_in_ = names
        self.model_, self.calibrator_, self.constant_ = model, calibrator, constant
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        raw = self.predict_raw(X)
        if self.calibrator_ is not None:
            raw = apply_platt(self.calibrator_, raw)
        return _clip(raw)

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        """The uncalibrated scores (the constant for a single-class fit)."""
        self._check_fitted()
        features = self._features(X)
        if self.constant_ is not None:
            return np.full(len(features), float(self.constant_))
        if not len(features):
            return np.empty(0)
        return _clip(self._raw(self.model_, features))

    @abc.abstractmethod
    def _fit_raw(self, features: np.ndarray, labels: np.ndarray):
        """Fit the learner on a feature matrix; return the fitted learner."""

    @abc.abstractmethod
    def _raw(self, model, features: np.ndarray) -> np.ndarray:
        """The learner's scores for a feature matrix."""


def _two_classes(labels: np.ndarray) -> bool:
    return labels.size > 0 and labels.min() != labels.max()


class Logistic(_Calibrated):
    """Median imputation + missing-indicator columns + standard scaling + L2 logistic
    regression (lbfgs, ``max_iter=1000``), then calibrated.

    The indicators let the model learn that a missing feature (no GPR index, not an EU border
    state) is itself informative; scaling makes ``C`` mean the same for every feature.
    """

    def __init__(self, C: float = 1.0, random_state: int = 0) -> None:
        self.C = C
        self.random_state = random_state

    def _fit_raw(self, features: np.ndarray, labels: np.ndarray):
        model = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(),
            # Newton–Cholesky: a handful of exact steps on ~50 columns; 6x faster than lbfgs
            # here (0.3 s against 1.9 s on 28k rows), same solution
            LogisticRegression(
                C=self.C, solver="newton-cholesky", max_iter=1000, random_state=self.random_state
            ),
        )
        return model.fit(features, labels)

    def _raw(self, model, features: np.ndarray) -> np.ndarray:
        return model.predict_proba(features)[:, 1]


class Boosting(_Calibrated):
    """LightGBM gradient-boosted trees (binary log loss), then calibrated.

    NaNs go to whichever side of each split fits best (LightGBM's native handling), so no
    imputation. Reproducible: ``deterministic`` and ``force_row_wise`` fix the histogram
    construction and every seed derives from ``random_state``. Threads: :data:`THREADS`.
    Defaults are sized for the backtest: 1-1.5 s for 60k rows × 20 features on one thread
    (about twice that with the calibration's second fit).
    """

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.random_state = random_state

    def lgb_params(self) -> dict[str, Any]:
        """The LightGBM parameters actually used."""
        seed = int(self.random_state)
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "num_threads": THREADS,
            "verbose": -1,
            "deterministic": True,
            "force_row_wise": True,
            "seed": seed,
            "bagging_seed": seed,
            "feature_fraction_seed": seed,
            "data_random_seed": seed,
            "drop_seed": seed,
            "extra_seed": seed,
        }

    def _fit_raw(self, features: np.ndarray, labels: np.ndarray):
        data = lgb.Dataset(features, labels, params={"verbose": -1}, free_raw_data=True)
        return lgb.train(self.lgb_params(), data, num_boost_round=self.n_estimators)

    def _raw(self, model, features: np.ndarray) -> np.ndarray:
        return model.predict(features, num_threads=THREADS)


class Ensemble(Forecaster):
    """The mean of the calibrated predictions of ``members`` (names in :data:`MODELS`), each
    fitted with this ensemble's ``random_state`` and the same ``origin``."""

    def __init__(
        self, members: tuple[str, ...] = ("logistic", "boosting"), random_state: int = 0
    ) -> None:
        self.members = members
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y, *, origin=None) -> Ensemble:
        names = tuple(self.members)
        bad = [m for m in names if m not in MODELS or m == "ensemble"]
        if not names or bad:
            raise ValueError(
                f"Ensemble members must be names from MODELS other than 'ensemble', got {bad}"
            )
        self.members_ = [
            clone(MODELS[m](), random_state=self.random_state).fit(X, y, origin=origin)
            for m in names
        ]
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        self._check_fitted()
        return _clip(np.mean([m.predict_proba(X) for m in self.members_], axis=0))


MODELS: dict[str, type[Forecaster]] = {
    "base_rate": BaseRate,
    "no_change": NoChange,
    "logistic": Logistic,
    "boosting": Boosting,
    "ensemble": Ensemble,
}

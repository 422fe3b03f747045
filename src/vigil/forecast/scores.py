"""Proper scores for probability forecasts, the skill against the naive bars, reliability.

Why these scores
----------------
* **Brier** (mean squared error of the probability) and **log loss** are *proper*: a forecaster
  minimises them in expectation only by stating its true belief, so they cannot be gamed by
  sharpening or hedging. Log loss punishes confident misses hard (the probabilities are
  clipped to ``[eps, 1 - eps]`` so one miss stays finite); Brier is bounded and reads as a
  squared error.
* **AUC-PR** (average precision, sklearn's step-wise definition, no interpolation) measures
  the ranking where positives are rare, as escalations are: a random ranking scores the
  positive rate, so ``base_rate`` is always reported beside it. ROC-AUC is not reported; it
  flatters rare-event forecasters with the many easy negatives.
* **Brier skill** ``1 - Brier(model) / Brier(reference)`` against the two naive forecasters of
  :mod:`vigil.forecast.models` (``no_change`` persistence and the ``base_rate``
  climatology), scored on the same rows: positive means better than the bar, 0 equal, negative
  worse. The references are the *out-of-sample* baselines (their ``p_<name>`` columns, fitted
  on the same training rows), not the test rows' own rate, which no forecaster could know.
  ``None`` when the reference is absent or perfect (Brier 0).
* **Reliability** bins (equal width on [0, 1]): within each bin, the mean forecast beside the
  observed frequency. A calibrated forecaster lies on the diagonal; Brier mixes calibration
  with sharpness, the diagram separates them.

Scores are computed overall, per kind (``onset``: the country was quiet for a year;
``escalation``: it was not — onsets are rarer and harder, and pooling would hide that) and per
test year. Every number in :func:`score_table` is a plain ``int``/``float`` (rounded to
4 decimals) or ``None``, so the table goes to JSON as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import average_precision_score

#: decimals kept in the JSON-able tables
DECIMALS = 4
#: the kinds of row scored separately
KINDS = ("onset", "escalation")
#: the naive forecasters the skill is measured against (score key → model name)
REFERENCES = {"bss_vs_no_change": "no_change", "bss_vs_base_rate": "base_rate"}


def _arrays(y, p) -> tuple[np.ndarray, np.ndarray]:
    y_arr = np.asarray(y, dtype=float).ravel()
    p_arr = np.asarray(p, dtype=float).ravel()
    if y_arr.shape != p_arr.shape:
        raise ValueError(f"y has {y_arr.size} values, p has {p_arr.size}")
    if not np.isin(y_arr, (0.0, 1.0)).all():
        raise ValueError("y must be 0/1 (no NaN)")
    if np.isnan(p_arr).any() or (p_arr < 0).any() or (p_arr > 1).any():
        raise ValueError("p must be probabilities in [0, 1] (no NaN)")
    return y_arr, p_arr


def brier(y, p) -> float:
    """Mean of ``(p - y)²``."""
    y_arr, p_arr = _arrays(y, p)
    return float(np.mean((p_arr - y_arr) ** 2))


def log_loss(y, p, eps: float = 1e-6) -> float:
    """Mean negative log-likelihood (natural log), ``p`` clipped to ``[eps, 1 - eps]``."""
    return float(_nll(*_arrays(y, p), eps))


def _nll(y: np.ndarray, p: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """:func:`log_loss` along the last axis (rows of resamples too), unchecked."""
    q = np.clip(p, eps, 1 - eps)
    return -np.mean(y * np.log(q) + (1 - y) * np.log1p(-q), axis=-1)


def auc_pr(y, p) -> float | None:
    """Average precision (area under the precision-recall steps); None without positives."""
    y_arr, p_arr = _arrays(y, p)
    if not (y_arr == 1).any():
        return None
    return float(average_precision_score(y_arr.astype(int), p_arr))


def skill(score: float | None, reference: float | None) -> float | None:
    """Skill score ``1 - score / reference`` (the Brier skill score with Brier inputs); None
    when either is missing or the reference is 0 (nothing to improve on)."""
    if score is None or reference is None or reference == 0:
        return None
    return 1.0 - score / reference


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), DECIMALS)


def reliability(y, p, bins: int = 10) -> list[dict]:
    """Equal-width bins on [0, 1] (the last one closed): ``bin_lo``, ``bin_hi``, ``n``,
    ``mean_p`` and ``observed`` (the frequency of y = 1), the last two None for an empty bin.
    Every row falls in exactly one bin."""
    y_arr, p_arr = _arrays(y, p)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, p_arr, side="right") - 1, 0, bins - 1)
    rows = []
    for b in range(bins):
        hit = index == b
        n = int(hit.sum())
        rows.append(
            {
                "bin_lo": _round(edges[b]),
                "bin_hi": _round(edges[b + 1]),
                "n": n,
                "mean_p": _round(p_arr[hit].mean()) if n else None,
                "observed": _round(y_arr[hit].mean()) if n else None,
            }
        )
    return rows


def block_bootstrap(
    y, forecasts: dict[str, np.ndarray], block: int, *, resamples: int = 2000, seed: int = 0
) -> dict[str, np.ndarray]:
    """Brier and log loss of each forecast, and the Brier skill of each against the first,
    over ``resamples`` moving-block resamples of the rows (in time order).

    Overlapping forecast windows are autocorrelated: a resample draws whole blocks of
    ``block`` consecutive rows (the windows one window overlaps), so the interval reflects
    how few independent windows there are. The same rows are drawn for every forecast
    (paired), so their difference is measured, not the noise of two draws. Returns arrays
    of length ``resamples`` keyed ``brier:<name>``, ``log_loss:<name>``, ``bss:<name>``.
    """
    y_arr = np.asarray(y, dtype=float)
    n = len(y_arr)
    block = max(1, min(block, n))
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n - block + 1, size=(resamples, -(-n // block)))
    idx = (starts[:, :, None] + np.arange(block)).reshape(resamples, -1)[:, :n]
    ys = y_arr[idx]
    out: dict[str, np.ndarray] = {}
    first = None
    for name, p in forecasts.items():
        ps = np.asarray(p, dtype=float)[idx]
        out[f"brier:{name}"] = np.mean((ps - ys) ** 2, axis=1)
        out[f"log_loss:{name}"] = _nll(ys, ps)
        first = first if first is not None else name
    for name in forecasts:
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"bss:{name}"] = 1 - out[f"brier:{first}"] / out[f"brier:{name}"]
    return out


def interval(draws: np.ndarray, level: float = 0.9, decimals: int = 6) -> list[float | None]:
    """The central ``level`` interval of bootstrap draws (NaN draws dropped), rounded."""
    finite = draws[np.isfinite(draws)]
    if not len(finite):
        return [None, None]
    lo, hi = np.quantile(finite, [(1 - level) / 2, (1 + level) / 2])
    return [round(float(lo), decimals), round(float(hi), decimals)]


def _brier_of(rows: pd.DataFrame, model: str) -> float | None:
    column = f"p_{model}"
    if column not in rows.columns or rows.empty:
        return None
    return brier(rows["y"], rows[column])


def score_row(rows: pd.DataFrame, model: str) -> dict:
    """The scores of ``p_<model>`` on ``rows`` (``n``, ``positives``, ``base_rate``,
    ``brier``, ``log_loss``, ``auc_pr``, ``bss_vs_no_change``, ``bss_vs_base_rate``), rounded;
    all None but the counts when ``rows`` is empty."""
    n = len(rows)
    out: dict = {"n": n, "positives": int(rows["y"].sum()) if n else 0}
    if not n:
        keys = ("base_rate", "brier", "log_loss", "auc_pr", *REFERENCES)
        return out | dict.fromkeys(keys)
    y, p = rows["y"], rows[f"p_{model}"]
    score = brier(y, p)
    out |= {
        "base_rate": float(np.mean(y)),
        "brier": score,
        "log_loss": log_loss(y, p),
        "auc_pr": auc_pr(y, p),
    }
    for key, reference in REFERENCES.items():
        out[key] = skill(score, _brier_of(rows, reference))
    return {k: v if isinstance(v, int) else _round(v) for k, v in out.items()}


def score_table(frame: pd.DataFrame, models: Sequence[str]) -> dict:
    """Per model: ``overall``, one entry per kind (``onset``, ``escalation``) and ``years``
    (a list of rows, each with its ``year`` and the same keys), from a frame with ``y``,
    ``kind``, ``year`` and one ``p_<model>`` column per model (``p_no_change`` and
    ``p_base_rate``, when present, are the skill references)."""
    _check_columns(frame, models)
    table: dict = {}
    for model in models:
        entry = {"overall": score_row(frame, model)}
        for kind in KINDS:
            entry[kind] = score_row(frame[frame["kind"] == kind], model)
        entry["years"] = [
            {"year": int(year), **score_row(rows, model)}
            for year, rows in frame.groupby("year", sort=True)
        ]
        table[model] = entry
    return table


def _check_columns(frame: pd.DataFrame, models: Sequence[str]) -> None:
    needed = ["y", "kind", "year", *(f"p_{m}" for m in models)]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"the predictions frame lacks column(s) {missing}")


def reliability_png(
    frame: pd.DataFrame,
    models: Sequence[str],
    path: str | Path,
    *,
    bins: int = 10,
    title: str | None = None,
) -> Path:
    """Reliability diagram: one line per model (mean forecast → observed frequency over the
    non-empty bins) and the diagonal of perfect calibration; below, the number of forecasts
    per bin (log scale), which shows how sharp each model is. Drawn on an Agg canvas."""
    path = Path(path)
    missing = [c for c in ("y", *(f"p_{m}" for m in models)) if c not in frame.columns]
    if missing:
        raise ValueError(f"the predictions frame lacks column(s) {missing}")
    fig = Figure(figsize=(6.5, 8), layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, height_ratios=(3, 1), sharex=True)
    top.plot([0, 1], [0, 1], ls="--", color="#888888", lw=1, label="perfect calibration")
    for model in models:
        rows = [r for r in reliability(frame["y"], frame[f"p_{model}"], bins) if r["n"]]
        line = top.plot(
            [r["mean_p"] for r in rows], [r["observed"] for r in rows], marker="o", label=model
        )[0]
        centres = [(r["bin_lo"] + r["bin_hi"]) / 2 for r in rows]
        bottom.plot(centres, [r["n"] for r in rows], marker=".", color=line.get_color())
    top.set(xlim=(0, 1), ylim=(0, 1), ylabel="observed frequency")
    top.set_title(title or f"Reliability ({len(frame)} forecasts)", loc="left", fontsize=10)
    top.legend(loc="upper left", fontsize=8)
    bottom.set(xlabel="forecast probability", ylabel="forecasts per bin")
    if len(frame):
        bottom.set_yscale("log")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path

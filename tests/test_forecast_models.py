"""Forecasters and scores on synthetic panels: the fit/predict contract, the baselines by
hand, calibration inside the training window, and proper scores with hand-computed values."""

from __future__ import annotations

import inspect
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from vigil.forecast import models as fm
from vigil.forecast import scores as fs
from vigil.forecast.models import MODELS, NotFittedError, clone

SMALL = {"boosting": {"n_estimators": 30}}  # keeps the contract tests fast


def panel(n_origins: int = 24, n_countries: int = 60, seed: int = 0) -> pd.DataFrame:
    """A panel-like frame: f_* features with NaNs, a binary f_above_thr_now, origins, y."""
    rng = np.random.default_rng(seed)
    origins = pd.date_range("2018-01-15", periods=n_origins, freq="MS") + pd.Timedelta(days=14)
    frame = pd.DataFrame(
        {
            "country": np.tile([f"C{i:02d}" for i in range(n_countries)], n_origins),
            "origin": np.repeat(origins.date, n_countries),
        }
    )
    n = len(frame)
    level = rng.normal(0, 1, n)
    frame["f_log_lag1"] = level + rng.normal(0, 0.3, n)
    frame["f_trend6"] = rng.normal(0, 1, n)
    frame["f_gpr"] = np.where(rng.random(n) < 0.4, np.nan, rng.normal(0, 1, n))
    frame["f_border_pressure"] = np.where(rng.random(n) < 0.9, np.nan, rng.normal(2, 1, n))
    frame["f_above_thr_now"] = (level > 0.8).astype(float)
    logit = -1.5 + 1.5 * level + 0.5 * frame["f_trend6"] + 0.3 * frame["f_gpr"].fillna(0)
    frame["y"] = (rng.random(n) < expit(logit)).astype(int)
    return frame


def features(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[[c for c in frame.columns if c.startswith("f_")]]


def make(name: str, **params):
    return clone(MODELS[name](), **SMALL.get(name, {}), **params)


# ------------------------------------------------------------------------------- contract
@pytest.mark.parametrize("name", list(MODELS))
def test_constructor_only_stores_its_parameters(name):
    model = MODELS[name]()
    signature = [p for p in inspect.signature(type(model).__init__).parameters if p != "self"]
    assert list(model.get_params()) == signature
    assert all(getattr(model, p) == v for p, v in model.get_params().items())
    assert not [k for k in vars(model) if k.endswith("_")]  # nothing fitted yet
    copy = clone(model)
    assert copy is not model and type(copy) is type(model)
    assert copy.get_params() == model.get_params()
    assert repr(copy).startswith(type(model).__name__ + "(")


def test_clone_replaces_parameters_and_skips_ones_a_model_does_not_take():
    model = fm.Boosting(n_estimators=7)
    copy = clone(model, random_state=3, learning_rate=0.1)
    assert (copy.n_estimators, copy.random_state, copy.learning_rate) == (7, 3, 0.1)
    assert model.random_state == 0  # the original is untouched
    assert clone(fm.BaseRate(), random_state=3).get_params() == {}


def test_clone_drops_the_fitted_state():
    frame = panel(6, 20)
    fitted = make("logistic").fit(features(frame), frame["y"])
    assert not [k for k in vars(clone(fitted)) if k.endswith("_")]


@pytest.mark.parametrize("name", list(MODELS))
def test_predict_before_fit_raises_a_clear_error(name):
    with pytest.raises(NotFittedError, match="not fitted yet: call fit"):
        MODELS[name]().predict_proba(features(panel(2, 5)))


@pytest.mark.parametrize("name", list(MODELS))
def test_fit_returns_self_and_predictions_are_deterministic_probabilities(name):
    frame = panel()
    train, test = frame.iloc[:1200], frame.iloc[1200:]
    first = make(name)
    assert first.fit(features(train), train["y"], origin=train["origin"]) is first
    p = first.predict_proba(features(test))
    assert p.shape == (len(test),) and p.dtype == float
    assert ((p > 0) & (p < 1)).all()
    again = make(name).fit(features(train), train["y"], origin=train["origin"])
    assert np.array_equal(again.predict_proba(features(test)), p)


@pytest.mark.parametrize("name", ["logistic", "boosting"])
def test_features_are_read_by_name_from_the_f_columns(name):
    frame = panel(8, 30)
    model = make(name).fit(frame, frame["y"])  # the whole frame: non-f_ columns ignored
    assert model.feature_names_in_ == [c for c in frame.columns if c.startswith("f_")]
    shuffled = frame[list(reversed(frame.columns))]
    assert np.array_equal(model.predict_proba(shuffled), model.predict_proba(frame))
    with pytest.raises(ValueError, match="f_gpr"):
        model.predict_proba(frame.drop(columns="f_gpr"))


@pytest.mark.parametrize("name", ["logistic", "boosting", "ensemble"])
def test_missing_values_are_handled_even_an_all_missing_column(name):
    frame = panel(8, 30)
    frame["f_border_pressure"] = np.nan  # no EU border state in the training rows
    model = make(name).fit(features(frame), frame["y"], origin=frame["origin"])
    test = features(frame).copy()
    test.iloc[::3] = np.nan  # every feature missing on a third of the rows
    test["f_border_pressure"] = 1.0
    p = model.predict_proba(test)
    assert np.isfinite(p).all() and ((p > 0) & (p < 1)).all()


@pytest.mark.parametrize("name", list(MODELS))
def test_a_single_class_gives_a_constant_probability_inside_0_1(name):
    frame = panel(4, 20)
    p = make(name).fit(features(frame), np.zeros(len(frame))).predict_proba(features(frame))
    assert ((p > 0) & (p < 0.05)).all()
    assert name == "no_change" or np.ptp(p) == 0  # persistence keeps its two smoothed levels


@pytest.mark.parametrize("name", list(MODELS))
def test_zero_rows_predict_an_empty_array(name):
    frame = panel(4, 20)
    model = make(name).fit(features(frame), frame["y"], origin=frame["origin"])
    assert model.predict_proba(features(frame).iloc[:0]).shape == (0,)


def test_a_failed_fit_leaves_the_model_unfitted():
    frame = panel(2, 10)
    x = features(frame).assign(f_text="not a number")
    model = make("logistic")
    with pytest.raises(ValueError, match="not a number"):
        model.fit(x, frame["y"])
    assert not [k for k in vars(model) if k.endswith("_")]


def test_bad_labels_are_rejected():
    frame = panel(2, 5)
    with pytest.raises(ValueError, match="0/1"):
        make("logistic").fit(features(frame), np.full(len(frame), 2))
    with pytest.raises(ValueError, match="values for"):
        make("base_rate").fit(features(frame), [0, 1])


# ------------------------------------------------------------------------------ baselines
def test_base_rate_is_the_training_mean_clipped():
    x = pd.DataFrame({"f_a": [1.0, 2, 3, 4]})
    p = fm.BaseRate().fit(x, [0, 1, 0, 0]).predict_proba(pd.DataFrame({"f_a": [9.0, 9]}))
    assert p.tolist() == [0.25, 0.25]
    assert fm.BaseRate().fit(x, [0, 0, 0, 0]).predict_proba(x)[0] == pytest.approx(1e-4)
    assert fm.BaseRate().fit(x, [1, 1, 1, 1]).predict_proba(x)[0] == pytest.approx(1 - 1e-4)


def test_no_change_is_persistence_with_laplace_smoothing():
    x = pd.DataFrame({"f_above_thr_now": [0.0, 0, 0, 1, 1], "f_other": [1.0] * 5})
    model = fm.NoChange().fit(x, [0, 0, 1, 1, 1])
    assert model.p_ == {0: pytest.approx(2 / 5), 1: pytest.approx(3 / 4)}
    new = pd.DataFrame({"f_above_thr_now": [1.0, 0.0, np.nan]})
    assert model.predict_proba(new) == pytest.approx([3 / 4, 2 / 5, 4 / 7])  # NaN: pooled
    with pytest.raises(ValueError, match="f_above_thr_now"):
        fm.NoChange().fit(x.drop(columns="f_above_thr_now"), [0, 0, 1, 1, 1])


# ---------------------------------------------------------------------------- calibration
def test_the_holdout_is_the_latest_fifth_of_rows_by_whole_origins():
    origins = np.repeat(pd.date_range("2020-01-15", periods=10, freq="30D").date, 10)
    order = np.random.default_rng(1).permutation(100)
    held = fm.calibration_holdout(origins[order], 100)
    assert held.sum() == 20
    assert set(origins[order][held]) == set(origins[80:])
    assert fm.calibration_holdout(None, 100) is None
    assert fm.calibration_holdout(origins[:10], 10).all()  # one origin: all held, no calibration


def test_platt_recovers_a_known_sigmoid():
    rng = np.random.default_rng(4)
    z = rng.normal(0, 1.5, 50_000)
    y = (rng.random(z.size) < expit(2 * z - 1)).astype(int)
    a, b = fm.fit_platt(expit(z), y)
    assert a == pytest.approx(2, abs=0.1) and b == pytest.approx(-1, abs=0.1)
    assert fm.apply_platt((1.0, 0.0), [0.2, 0.7]) == pytest.approx([0.2, 0.7])


def test_platt_stays_finite_on_a_perfectly_separated_slice():
    a, b = fm.fit_platt([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])
    assert math.isfinite(a) and math.isfinite(b) and a > 0


@pytest.mark.parametrize(
    "compressed",
    [
        # strong L2 on a near-separable feature: the ranking is right but every score sits
        # near the base rate, so the raw probabilities are far too timid
        fm.Logistic(C=1e-3),
        # a few tiny boosting steps: the scores have barely left the prior
        fm.Boosting(n_estimators=20, learning_rate=0.01),
    ],
    ids=["logistic", "boosting"],
)
def test_calibration_repairs_a_compressed_model_on_unseen_rows(compressed):
    rng = np.random.default_rng(2)
    n = 4000
    origin = np.repeat(pd.date_range("2015-01-15", periods=40, freq="30D").date, n // 40)
    x = pd.DataFrame({"f_x": rng.normal(0, 1, n), "f_noise": rng.normal(0, 1, n)})
    y = (x["f_x"] + rng.normal(0, 0.3, n) > 0.5).astype(int).to_numpy()
    train, test = slice(0, 3000), slice(3000, n)  # test: later origins, never seen
    raw = clone(compressed).fit(x[train], y[train])
    calibrated = clone(compressed).fit(x[train], y[train], origin=origin[train])
    assert raw.calibrator_ is None and calibrated.calibrator_ is not None
    assert calibrated.calibrator_[0] > 2  # stretches the compressed logits
    p_raw, p_cal = raw.predict_proba(x[test]), calibrated.predict_proba(x[test])
    assert np.array_equal(calibrated.predict_raw(x[test]), p_raw)  # same base model
    assert fs.log_loss(y[test], p_cal) < 0.5 * fs.log_loss(y[test], p_raw)
    assert fs.brier(y[test], p_cal) < 0.5 * fs.brier(y[test], p_raw)


def test_no_calibration_when_the_held_out_slice_has_one_class():
    frame = panel(10, 20)
    frame.loc[pd.to_datetime(frame["origin"]) >= pd.Timestamp("2018-09-01"), "y"] = 0
    model = make("logistic").fit(features(frame), frame["y"], origin=frame["origin"])
    assert model.calibrator_ is None


def test_ensemble_is_the_mean_of_its_calibrated_members():
    frame = panel(10, 40)
    x, y, origin = features(frame), frame["y"], frame["origin"]
    ensemble = fm.Ensemble(random_state=5).fit(x, y, origin=origin)
    members = [
        fm.Logistic(random_state=5).fit(x, y, origin=origin),
        fm.Boosting(random_state=5).fit(x, y, origin=origin),
    ]
    expected = np.mean([m.predict_proba(x) for m in members], axis=0)
    assert ensemble.predict_proba(x) == pytest.approx(expected)
    with pytest.raises(ValueError, match="members"):
        fm.Ensemble(members=("ensemble",)).fit(x, y)


def test_boosting_is_quiet_deterministic_and_single_threaded():
    params = fm.Boosting(random_state=9).lgb_params()
    assert params["num_threads"] == fm.THREADS == 1 and params["verbose"] == -1
    assert params["deterministic"] and params["force_row_wise"]
    assert {params[k] for k in params if k.endswith("seed")} == {9}


# --------------------------------------------------------------------------------- scores
def test_brier_and_log_loss_by_hand():
    y = [0, 1, 1, 0]
    assert fs.brier(y, [0.5] * 4) == pytest.approx(0.25)
    assert fs.brier(y, y) == 0
    assert fs.brier(y, [0.2, 0.6, 1.0, 0.0]) == pytest.approx((0.04 + 0.16) / 4)
    assert fs.log_loss(y, [0.5] * 4) == pytest.approx(math.log(2))
    assert fs.log_loss([1], [0.0]) == pytest.approx(-math.log(1e-6))  # clipped, finite
    assert fs.log_loss([1], [0.0], eps=1e-3) == pytest.approx(-math.log(1e-3))
    with pytest.raises(ValueError, match="0/1"):
        fs.brier([0, np.nan], [0.1, 0.2])
    with pytest.raises(ValueError, match="probabilities"):
        fs.brier([0, 1], [0.1, 1.2])


def test_auc_pr_is_average_precision():
    assert fs.auc_pr([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8]) == 1.0  # perfect ranking
    # ranks: 1 (hit), 0 (miss), 1 (hit), 0 → precision 1 at recall ½, ⅔ at recall 1
    assert fs.auc_pr([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx((1 + 2 / 3) / 2)
    assert fs.auc_pr([0, 0, 0], [0.3, 0.2, 0.1]) is None


def test_skill_sign_and_degenerate_references():
    assert fs.skill(0.1, 0.2) == pytest.approx(0.5)
    assert fs.skill(0.3, 0.2) == pytest.approx(-0.5)
    assert fs.skill(0.2, 0.2) == 0
    assert fs.skill(0.1, 0.0) is None and fs.skill(None, 0.2) is None
    assert fs.skill(0.1, None) is None


def test_reliability_counts_every_row_once():
    p = [0.0, 0.05, 0.1, 0.1, 0.35, 0.999, 1.0]
    y = [0, 0, 1, 0, 1, 1, 1]
    bins = fs.reliability(y, p, bins=10)
    assert len(bins) == 10 and sum(b["n"] for b in bins) == len(p)
    assert [b["n"] for b in bins] == [2, 2, 0, 1, 0, 0, 0, 0, 0, 2]
    assert bins[1] == {"bin_lo": 0.1, "bin_hi": 0.2, "n": 2, "mean_p": 0.1, "observed": 0.5}
    assert bins[2]["mean_p"] is None and bins[2]["observed"] is None
    assert bins[9]["mean_p"] == pytest.approx(0.9995) and bins[9]["observed"] == 1


def predictions(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 600
    truth = rng.uniform(0.02, 0.6, n)
    frame = pd.DataFrame(
        {
            "y": (rng.random(n) < truth).astype(int),
            "kind": np.where(rng.random(n) < 0.3, "onset", "escalation"),
            "year": rng.choice([2019, 2020, 2021], n),
            "p_good": truth,
            "p_base_rate": 0.3,
            "p_no_change": np.where(truth > 0.4, 0.5, 0.2),
        }
    )
    return frame


def test_score_table_overall_per_kind_and_per_year():
    frame = predictions()
    table = fs.score_table(frame, ["good", "base_rate"])
    json.dumps(table)  # JSON-able as is
    keys = {"n", "positives", "base_rate", "brier", "log_loss", "auc_pr", *fs.REFERENCES}
    good = table["good"]
    assert set(good) == {"overall", "onset", "escalation", "years"}
    assert set(good["overall"]) == keys and set(good["onset"]) == keys
    assert [r["year"] for r in good["years"]] == [2019, 2020, 2021]
    assert all(set(r) == keys | {"year"} for r in good["years"])
    assert good["overall"]["n"] == len(frame)
    assert good["onset"]["n"] + good["escalation"]["n"] == len(frame)
    assert sum(r["n"] for r in good["years"]) == len(frame)
    assert good["overall"]["brier"] == round(fs.brier(frame["y"], frame["p_good"]), 4)
    assert good["overall"]["base_rate"] == round(frame["y"].mean(), 4)
    assert good["overall"]["bss_vs_base_rate"] > 0  # the true probabilities beat climatology
    assert table["base_rate"]["overall"]["bss_vs_base_rate"] == 0
    for value in good["overall"].values():
        assert value == round(value, 4)


def test_score_table_empty_kind_and_missing_references():
    frame = predictions()
    frame["kind"] = "escalation"
    table = fs.score_table(frame.drop(columns=["p_no_change", "p_base_rate"]), ["good"])
    assert table["good"]["onset"]["n"] == 0 and table["good"]["onset"]["brier"] is None
    assert table["good"]["overall"]["bss_vs_no_change"] is None
    with pytest.raises(ValueError, match="p_missing"):
        fs.score_table(frame, ["missing"])


def test_reliability_png_writes_a_png(tmp_path):
    path = fs.reliability_png(predictions(), ["good", "no_change"], tmp_path / "rel" / "a.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    empty = fs.reliability_png(predictions().iloc[:0], ["good"], tmp_path / "empty.png")
    assert empty.stat().st_size > 0


def test_model_ids_for_the_command_line_are_the_models() -> None:
    from vigil.forecast import MODEL_IDS
    from vigil.forecast.models import MODELS

    assert tuple(MODELS) == MODEL_IDS

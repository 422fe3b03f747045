"""Statistical forecaster of armed-conflict escalation: panel, models, scores, backtests."""

#: the forecasters' ids (the keys of :data:`vigil.forecast.models.MODELS`), importable
#: without loading scikit-learn and LightGBM, so the command line starts fast
MODEL_IDS = ("base_rate", "no_change", "logistic", "boosting", "ensemble")

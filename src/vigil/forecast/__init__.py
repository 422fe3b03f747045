"""Statistical forecaster of armed-conflict escalation: panel, models, scores, backtests."""

"""The workflows a user runs, composed from the layers below: the dated look at a theatre's
indicators (:mod:`.look`), the scenario assessment and its replay (:mod:`.assess`), the
briefing (:mod:`.brief`), the scenario backtest (:mod:`.scenario_backtest`), the
forecaster as scenario evidence (:mod:`.forecast_evidence`) and the exports
(:mod:`.export`). The public API (:mod:`vigil.api`), the CLI and the dashboard call these;
nothing here prints, parses options or knows about HTTP."""

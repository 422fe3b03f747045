"""Alerts: rules in the theatre folder, evaluated on each assessment, stored once per
crossing, and delivered to the sinks the user configures (docs/ALERTS.md).

* :mod:`vigil.alerts.rules`: the rule kinds and ``theatres/<id>/alerts.yaml``
  (:func:`check_rules`: every filter checked against the theatre and its scenarios);
* :mod:`vigil.alerts.evaluate`: :class:`Alert` and :func:`evaluate` (assessment JSON in);
* :mod:`vigil.alerts.store`: :func:`record` (deduplicated) and :func:`list_alerts`;
* :mod:`vigil.alerts.sinks`: stdout, JSON lines, webhook and SMTP, from ``sinks.yaml``;
* :mod:`vigil.alerts.deliver`: :func:`deliver` (recorded, failures retried) and
  :func:`check_and_send`, all of it in one call.
"""

from __future__ import annotations

from vigil.alerts.deliver import check_and_send, deliver
from vigil.alerts.evaluate import Alert, evaluate
from vigil.alerts.rules import check_rules, load_rules, load_rules_file
from vigil.alerts.sinks import Sinks, load_sinks
from vigil.alerts.store import list_alerts, record

__all__ = [
    "Alert",
    "Sinks",
    "check_and_send",
    "check_rules",
    "deliver",
    "evaluate",
    "list_alerts",
    "load_rules",
    "load_rules_file",
    "load_sinks",
    "record",
]

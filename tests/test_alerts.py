"""Alerts: each rule kind fires on its crossing and not otherwise, once per crossing; the
sinks (JSON lines, a webhook on a local server, SMTP on an aiosmtpd server run here)
receive them; a failing sink stops no other and is retried on the next call."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest
from tests.conftest import FILES, Reply
from typer.testing import CliRunner

from vigil import sources
from vigil.alerts import (
    check_and_send,
    check_rules,
    deliver,
    evaluate,
    list_alerts,
    load_rules,
    load_rules_file,
    load_sinks,
    record,
)
from vigil.alerts.rules import RulesFile
from vigil.alerts.sinks import Sinks
from vigil.errors import InputError
from vigil.ingest import ingest_file
from vigil.scenarios.spec import load_scenarios
from vigil.store import connect
from vigil.theatre import load_theatre

NOW = dt.datetime(2026, 1, 2, 3, 4, 5)
NATO = "belarus_nato_incident"
CLASH = "belarus_nato_armed_clash"


@pytest.fixture(scope="module")
def spec():
    return load_theatre("belarus")


@pytest.fixture
def con():
    c = connect(":memory:")
    yield c
    c.close()


def rules(*items: dict):
    return RulesFile.model_validate({"rules": list(items)}).rules


def assessment(as_of: str, probs: dict, states: dict | None = None, observed=None, blind=()):
    """A hand-made assessment JSON with the keys the rules read."""
    contribs = [
        {"indicator": i, "source": "indicator", "state": s, "reading_date": as_of,
         "detail": f"{i} read {s}", "evidence": [{"title": f"{i} item", "date": as_of}]}
        for i, s in (states or {}).items()
    ]  # fmt: skip
    return {
        "theatre": "belarus",
        "as_of": as_of,
        "scenario_sets": [{
            "id": "nato_spillover",
            "scenarios": [{"id": "x", "contributions": contribs}],
            "coverage": {"blind": [{"indicator": b, "reasons": ["no data"]} for b in blind]},
        }],
        "outcomes": [
            {"id": o, "set": "nato_spillover", "probability": p, "interval": [p / 2, p],
             "observed": (observed or {}).get(o)}
            for o, p in probs.items()
        ],
    }  # fmt: skip


def run(spec, con, rule_list, now, before):
    return evaluate(con, spec, rule_list, now, before, now=NOW)


# ---------------------------------------------------------------- each kind
def test_band_fires_on_a_crossing_either_way_and_not_within_a_band(spec, con):
    r = rules({"id": "band", "kind": "band", "outcomes": [NATO]})
    a = assessment("2022-01-01", {NATO: 0.20, CLASH: 0.01})
    b = assessment("2022-01-15", {NATO: 0.30, CLASH: 0.02})
    (alert,) = run(spec, con, r, b, a)
    assert (alert.kind, alert.subject, alert.rule) == ("band", NATO, "band")
    assert alert.evidence["before"]["band"] == "highly unlikely"
    assert alert.evidence["after"]["band"] == "unlikely"
    assert "20.0% → 30.0%" in alert.message
    assert run(spec, con, r, a, b)[0].evidence["after"]["band"] == "highly unlikely"  # back
    within = assessment("2022-01-29", {NATO: 0.33, CLASH: 0.5})  # CLASH is not in the filter
    assert run(spec, con, r, within, b) == []
    assert run(spec, con, r, b, None) == []  # nothing to cross from


def test_move_fires_from_n_points_in_the_rules_direction(spec, con):
    r = rules({"id": "jump", "kind": "move", "points": 10, "direction": "up"})
    a = assessment("2022-01-01", {NATO: 0.10})
    assert [x.subject for x in run(spec, con, r, assessment("2022-01-15", {NATO: 0.20}), a)] == [
        NATO
    ]
    assert run(spec, con, r, assessment("2022-01-15", {NATO: 0.19}), a) == []
    assert run(spec, con, r, assessment("2022-01-15", {NATO: 0.0}), a) == []  # down
    any_way = rules({"id": "jump", "kind": "move", "points": 10})
    assert len(run(spec, con, any_way, assessment("2022-01-15", {NATO: 0.0}), a)) == 1


def test_state_fires_on_a_change_with_its_evidence_and_blind_only_when_asked(spec, con):
    r = rules({"id": "rise", "kind": "state", "to": ["elevated", "high"]})
    a = assessment("2022-01-01", {NATO: 0.1}, {"russian_buildup": "normal",
                                              "joint_exercises": "high"})  # fmt: skip
    b = assessment("2022-01-15", {NATO: 0.1}, {"russian_buildup": "elevated"},
                   blind=["joint_exercises"])  # fmt: skip
    (alert,) = run(spec, con, r, b, a)
    assert alert.subject == "russian_buildup"
    assert (alert.evidence["before"]["state"], alert.evidence["after"]["state"]) == (
        "normal", "elevated",
    )  # fmt: skip
    assert alert.evidence["after"]["evidence"][0]["title"] == "russian_buildup item"
    assert run(spec, con, r, b, b) == []  # no change
    blind = rules({"id": "any", "kind": "state", "blind": True})
    assert {x.subject for x in run(spec, con, blind, b, a)} == {
        "russian_buildup", "joint_exercises",
    }  # fmt: skip
    down = rules({"id": "down", "kind": "state", "direction": "down"})
    assert run(spec, con, down, b, a) == []  # high→blind is no reading, not a fall
    # back: elevated→normal is a fall; blind→high is a reading again, not a fall
    assert [x.subject for x in run(spec, con, down, a, b)] == ["russian_buildup"]


def test_observed_fires_when_an_outcome_is_newly_under_way(spec, con):
    r = rules({"id": "seen", "kind": "observed"})
    seen = {NATO: {"outcome": NATO, "since": "2021-11-16", "probability": 0.6,
                   "evidence": [{"title": "border clash", "date": "2021-11-16"}] * 5}}  # fmt: skip
    a = assessment("2021-11-05", {NATO: 0.2})
    b = assessment("2021-11-19", {NATO: 0.63}, observed=seen)
    (alert,) = run(spec, con, r, b, a)
    assert alert.kind == "observed" and "since 2021-11-16" in alert.message
    assert len(alert.evidence["observed"]["evidence"]) == 3  # the first items, not all
    assert len(run(spec, con, r, b, None)) == 1  # no previous: still new
    c = assessment("2021-12-03", {NATO: 0.6}, observed=seen)
    assert run(spec, con, r, c, b) == []  # the same episode, still under way


def test_silent_on_real_data(spec, shared_data):
    # the real CIR and GPR files (the session's real store takes 10 s to build; these 2)
    con = connect(":memory:")
    try:
        for source, rel in {"cir": FILES["cir"], "gpr": FILES["gpr"]}.items():
            ingest_file(con, sources.get(source), shared_data / rel)
        r = rules({"id": "quiet", "kind": "silent", "sources": {"cir": 7, "gpr": 10, "rss": 3}})
        late = run(spec, con, r, assessment("2022-12-31", {NATO: 0.1}), None)
        # CIR's monitor ends in November 2022; no RSS here at all; GPR is daily
        assert [a.subject for a in late] == ["cir", "rss"]
        assert late[0].evidence["silent_days"] > 7
        assert late[1].evidence["last_record"] is None
        r = rules({"id": "quiet", "kind": "silent", "sources": {"cir": 7, "gpr": 10}})
        assert run(spec, con, r, assessment("2022-06-01", {NATO: 0.1}), None) == []
        # the same silence a week later is the same alert
        later = run(spec, con, r, assessment("2023-01-07", {NATO: 0.1}), None)
        assert later[0].alert_id == late[0].alert_id
    finally:
        con.close()


# ---------------------------------------------------------------- storage
def test_an_alert_fires_once_per_crossing(spec, con):
    r = rules({"id": "band", "kind": "band"})
    lo = lambda day: assessment(day, {NATO: 0.2})  # noqa: E731
    hi = lambda day: assessment(day, {NATO: 0.3})  # noqa: E731
    first = record(con, run(spec, con, r, hi("2022-01-15"), lo("2022-01-01")))
    assert len(first) == 1
    again = run(spec, con, r, hi("2022-01-15"), lo("2022-01-01"))  # re-assessed, re-run
    assert record(con, again) == []
    assert len(list_alerts(con, "belarus")) == 1
    back = record(con, run(spec, con, r, lo("2022-01-29"), hi("2022-01-15")))
    up = record(con, run(spec, con, r, hi("2022-02-12"), lo("2022-01-29")))
    assert len(back) == len(up) == 1
    listed = list_alerts(con, "belarus")
    assert [a["as_of"] for a in listed] == ["2022-02-12", "2022-01-29", "2022-01-15"]
    assert listed[0]["evidence"]["before"]["probability"] == 0.2
    assert [a["as_of"] for a in list_alerts(con, "belarus", since=dt.date(2022, 1, 20))] == [
        "2022-02-12", "2022-01-29",
    ]  # fmt: skip
    assert len(list_alerts(con, "belarus", limit=1)) == 1


# ---------------------------------------------------------------- sinks
def _alerts(spec, con, n: int = 3):
    """``n`` stored band alerts on successive dates."""
    r = rules({"id": "band", "kind": "band"})
    found = []
    for k in range(n):
        p0, p1 = (0.2, 0.3) if k % 2 == 0 else (0.3, 0.2)
        day = dt.date(2022, 1, 1) + dt.timedelta(days=14 * (k + 1))
        found += run(spec, con, r, assessment(day.isoformat(), {NATO: p1}),
                     assessment("2022-01-01", {NATO: p0}))  # fmt: skip
    return record(con, found)


def _sinks(tmp_path: Path, text: str) -> Sinks:
    path = tmp_path / "sinks.yaml"
    path.write_text(text)
    return load_sinks(path)


def test_a_json_lines_sink_gets_one_whole_line_per_alert(spec, con, tmp_path):
    alerts = _alerts(spec, con)
    sinks = _sinks(tmp_path, "sinks:\n  - {kind: jsonl, path: out/alerts.jsonl}\n")
    target = tmp_path / "out" / "alerts.jsonl"
    results = deliver(con, alerts, sinks)
    assert [r["status"] for r in results] == ["sent"] * 3
    lines = target.read_text().splitlines()
    assert [json.loads(x)["alert_id"] for x in lines] == [a.alert_id for a in alerts]
    assert deliver(con, alerts, sinks) == []  # sent once: never again
    assert len(target.read_text().splitlines()) == 3
    # a half line left by a crash is ended, never glued to the next alert
    with target.open("a") as fh:
        fh.write('{"half": ')
    more = _alerts(spec, con, 4)[-1:]
    deliver(con, more, sinks)
    last = target.read_text().splitlines()[-1]
    assert json.loads(last)["alert_id"] == more[0].alert_id
    rows = con.execute("SELECT status, attempts FROM alert_deliveries").fetchall()
    assert rows == [("sent", 1)] * 4


def test_a_webhook_receives_the_json_and_a_503_is_retried(spec, con, tmp_path, http_server):
    (alert,) = _alerts(spec, con, 1)
    http_server.route("/hook", Reply(503, "busy", {"Retry-After": "120"}), Reply(200, "ok"))
    sinks = _sinks(tmp_path, f"sinks:\n  - {{kind: webhook, url: '{http_server.url}/hook', "
                             "max_wait: 5}\n")  # fmt: skip
    waits: list[float] = []
    (result,) = deliver(con, [alert], sinks, sleep=waits.append)
    assert result["status"] == "sent" and result["attempts"] == 1
    assert waits == [5]  # Retry-After honoured up to the cap
    posts = [r for r in http_server.requests if r[0] == "POST"]
    assert len(posts) == 2
    body = json.loads(posts[-1][3])
    assert body["alert_id"] == alert.alert_id and body["evidence"]["after"]["band"]


def test_an_smtp_server_receives_the_mail(spec, con, tmp_path):
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    got = []

    class Keep(Message):
        def handle_message(self, message) -> None:
            got.append(message)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        (alert,) = _alerts(spec, con, 1)
        sinks = _sinks(
            tmp_path,
            f"sinks:\n  - {{kind: smtp, host: 127.0.0.1, port: {port}, "
            "from: vigil@example.org, to: [analyst@example.org]}\n",
        )
        (result,) = deliver(con, [alert], sinks)
    finally:
        controller.stop()
    assert result["status"] == "sent", result
    (mail,) = got
    assert mail["To"] == "analyst@example.org"
    assert NATO in mail["Subject"]
    assert alert.alert_id in mail["Message-ID"]
    assert "highly unlikely" in mail.get_payload()


def test_a_failing_sink_stops_no_other_and_is_retried(spec, con, tmp_path, http_server):
    alerts = _alerts(spec, con, 2)
    http_server.route("/hook", Reply(500, "down"))
    sinks = _sinks(
        tmp_path,
        f"sinks:\n  - {{name: hook, kind: webhook, url: '{http_server.url}/hook'}}\n"
        "  - {name: file, kind: jsonl, path: a.jsonl}\n",
    )
    waits: list[float] = []
    first = deliver(con, alerts, sinks, sleep=waits.append)
    assert {(r["sink"], r["status"]) for r in first} == {("hook", "failed"), ("file", "sent")}
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 2
    assert "HTTP 500" in first[0]["error"]
    http_server.route("/hook", Reply(200, "ok"))
    second = deliver(con, [], sinks, sleep=waits.append)  # nothing new: the retries only
    assert [(r["sink"], r["status"], r["attempts"]) for r in second] == [("hook", "sent", 2)] * 2
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 2  # not sent twice
    listed = list_alerts(con, "belarus")
    assert all({d["status"] for d in a["deliveries"]} == {"sent"} for a in listed)


def test_check_and_send_raises_stores_and_delivers_once(spec, con, tmp_path):
    folder = tmp_path / "theatre"
    folder.mkdir()
    (folder / "alerts.yaml").write_text("rules:\n  - {id: band, kind: band}\n")
    local = spec.model_copy(update={"folder": str(folder)})
    sinks = tmp_path / "sinks.yaml"
    sinks.write_text("sinks:\n  - {kind: jsonl, path: sent.jsonl}\n")
    a, b = assessment("2022-01-01", {NATO: 0.2}), assessment("2022-01-15", {NATO: 0.3})
    assert len(check_and_send(con, local, b, a, sinks, now=NOW)) == 1
    assert check_and_send(con, local, b, a, sinks, now=NOW) == []
    assert len((tmp_path / "sent.jsonl").read_text().splitlines()) == 1
    assert load_rules(spec.model_copy(update={"folder": str(tmp_path)})) == ()  # no file


# ---------------------------------------------------------------- bad files
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "rules:\n  - {id: a, kind: band}\n  - {id: a, kind: band}\n",
            "alerts.yaml:3: rules[1].id",
        ),
        ("rules:\n  - id: a\n    kind: move\n    pionts: 5\n", "did you mean 'points'?"),
        (
            "rules:\n  - id: a\n    kind: band\n    kind: move\n",
            "alerts.yaml:4: key 'rules[0].kind'",
        ),
        ("rules:\n  - {id: a, kind: state, indicators: [nope]}\n", "rules[0].indicators[0]"),
        ("rules:\n  - {id: a, kind: silent, sources: {gdlet: 2}}\n", "sources.gdlet: not a"),
        ("rules:\n  - {id: a, kind: loud}\n", "alerts.yaml:2: rules[0].kind: 'loud' is not a kind"),
        ("rules:\n  - {id: a, kind: move, points: true}\n", "rules[0].points: true is not a"),
        ("rules:\n  - {id: a, kind: silent, sources: {gdelt: true}}\n", "sources.gdelt: true"),
        ("rules:\x00\x01\n", "alerts.yaml:1: not a YAML text file"),
    ],
)
def test_bad_rules_name_the_file_and_key(spec, tmp_path, text, expected):
    path = tmp_path / "alerts.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as exc:
        load_rules_file(path, spec)
    assert expected in exc.value.message and "alerts.yaml" in exc.value.message


def test_an_unknown_outcome_in_a_filter_is_named(spec, con):
    r = rules({"id": "band", "kind": "band", "outcomes": ["belarus_nato_incidnet"]})
    a = assessment("2022-01-01", {NATO: 0.2})
    with pytest.raises(InputError, match=r"rules\[0\]\.outcomes\[0\]"):
        run(spec, con, r, a, a)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sinks:\n  - {kind: smtp, host: h, from: a@b.c, to: [d@e.f], password: x}\n",
         "a secret never goes in the file"),
        ("sinks:\n  - {kind: jsonl, pth: a.jsonl}\n", "did you mean 'path'?"),
        ("sinks:\n  - {kind: stdout}\n  - {kind: stdout}\n", "sinks.yaml:3: sinks[1].name"),
        ("sinks:\n  - {kind: webhook, url: 'ftp://x'}\n", "sinks.yaml:2: sinks[0].url"),
        ("sinks:\n  - {kind: webhook, url: 'https://u:p@h.org/x'}\n", "headers_env"),
        ("sinks:\n  - {kind: webhook, url: 'https://h.org', timeout: true}\n", "true is not"),
        ("sinks:\n  - {kind: jsonl, path: ''}\n", "sinks.yaml:2: sinks[0].path: '' is empty"),
        ("sinks:\n  - {kind: jsonl, path: .}\n", "sinks[0].path: '.' is a folder"),
        ("sinks:\x00\n", "sinks.yaml:1: not a YAML text file"),
    ],
)  # fmt: skip
def test_bad_sinks_name_the_file_and_key(tmp_path, text, expected):
    with pytest.raises(InputError) as exc:
        _sinks(tmp_path, text)
    assert expected in exc.value.message and "sinks.yaml" in exc.value.message


# ---------------------------------------------------------------- shells
def test_vigil_alerts_lists_them(spec, tmp_path):
    from vigil.cli import app

    db = tmp_path / "v.duckdb"
    con = connect(db)
    stored = _alerts(spec, con, 2)
    con.close()
    result = CliRunner().invoke(app, ["alerts", "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)["alerts"]
    assert {a["alert_id"] for a in listed} == {a.alert_id for a in stored}
    assert listed[0]["as_of"] > listed[1]["as_of"]
    text = CliRunner().invoke(app, ["alerts", "--db", str(db), "--limit", "1"])
    assert text.exit_code == 0 and NATO in text.stdout


def test_the_stdout_sink_prints_one_safe_line_per_alert(spec, con, tmp_path, capsys):
    alerts = _alerts(spec, con, 2)
    deliver(con, alerts, _sinks(tmp_path, "sinks:\n  - {kind: stdout}\n"))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.startswith("ALERT ") and NATO in line for line in lines)


def test_a_fifo_as_a_json_lines_path_is_refused_and_never_blocks(spec, con, tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(InputError, match=r"sinks\[0\]\.path: 'pipe' is a FIFO"):
        _sinks(tmp_path, "sinks:\n  - {kind: jsonl, path: pipe}\n")
    # a FIFO put there after loading fails the delivery (recorded) instead of hanging
    sinks = _sinks(tmp_path, "sinks:\n  - {kind: jsonl, path: later}\n")
    os.mkfifo(tmp_path / "later")
    alerts = _alerts(spec, con, 1)
    (result,) = deliver(con, alerts, sinks)
    assert result["status"] == "failed" and "later" in result["error"], result
    # with a reader waiting on it, the open succeeds: fstat refuses it before any write
    reader = os.open(tmp_path / "later", os.O_RDONLY | os.O_NONBLOCK)
    try:
        (result,) = deliver(con, [], sinks)
        assert result["status"] == "failed" and "FIFO" in result["error"], result
        assert os.read(reader, 10) == b""  # nothing was written (and no writer is left)
    finally:
        os.close(reader)


def _trickling_server(stop: threading.Event) -> str:
    """A raw HTTP server: it reads the request, sends a 200's headers, then one byte of body
    a second (httpx's per-read timeout never trips)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(0.1)

    def serve() -> None:
        conns = []
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except TimeoutError:
                continue
            conns.append(c)
            c.settimeout(2)
            with contextlib.suppress(OSError):
                c.recv(65536)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                while not stop.wait(1):
                    c.sendall(b"x")
        for c in conns:
            c.close()
        srv.close()

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{srv.getsockname()[1]}"


def test_a_webhook_that_trickles_its_answer_fails_at_the_deadline(spec, con, tmp_path):
    stop = threading.Event()
    try:
        url = _trickling_server(stop)
        sinks = _sinks(tmp_path, f"sinks:\n  - {{kind: webhook, url: '{url}/h', timeout: 1.5}}\n")
        (alert,) = _alerts(spec, con, 1)
        start = time.monotonic()
        (result,) = deliver(con, [alert], sinks, sleep=lambda s: None)
        took = time.monotonic() - start
    finally:
        stop.set()
    assert result["status"] == "failed" and "within 1.5 s" in result["error"], result
    assert took < 3, took  # the whole request's deadline, not one per byte
    row = con.execute("SELECT status, attempts FROM alert_deliveries").fetchall()
    assert row == [("failed", 1)]  # recorded: retried on the next call


def test_a_webhook_error_never_holds_the_urls_path_or_query(spec, con, tmp_path, http_server):
    http_server.route("/services/T0/B0/SECRETPATH", Reply(500, "down"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens here once closed
    sinks = _sinks(
        tmp_path,
        f"sinks:\n  - {{name: a, kind: webhook, url: '{http_server.url}/services/T0/B0/"
        "SECRETPATH?token=SECRETQUERY'}\n"
        f"  - {{name: b, kind: webhook, url: 'http://127.0.0.1:{closed}/SECRETPATH?k=SECRETQUERY'}}\n",
    )
    (alert,) = _alerts(spec, con, 1)
    results = deliver(con, [alert], sinks, sleep=lambda s: None)
    assert [r["status"] for r in results] == ["failed", "failed"]
    stored = [r[0] for r in con.execute("SELECT last_error FROM alert_deliveries").fetchall()]
    for error in [r["error"] for r in results] + stored:
        assert "SECRET" not in error and "services" not in error, error
    assert f"POST {http_server.url}: HTTP 500" in results[0]["error"]
    assert f"POST http://127.0.0.1:{closed}: " in results[1]["error"]


def test_check_rules_checks_every_filter_against_the_scenarios_now(spec, tmp_path):
    library = load_scenarios(spec)
    folder = tmp_path / "belarus"
    folder.mkdir()
    local = spec.model_copy(update={"folder": str(folder)})
    assert check_rules(local, library) == ()  # no file: no rules
    (folder / "alerts.yaml").write_text(
        f"rules:\n  - {{id: ok, kind: band, outcomes: [{NATO}]}}\n"
        "  - id: typo\n    kind: observed\n    outcomes:\n      - belarus_nato_incidnet\n"
    )
    with pytest.raises(InputError) as exc:
        check_rules(local, library)
    msg = exc.value.message
    assert "belarus/alerts.yaml:6: rules[1].outcomes[0]" in msg and "'typo'" in msg, msg
    assert NATO in exc.value.hint
    (folder / "alerts.yaml").write_text(f"rules:\n  - {{id: ok, kind: band, outcomes: [{NATO}]}}\n")
    assert [r.id for r in check_rules(local, library)] == ["ok"]
    (folder / "alerts.yaml").write_text("rules:\n  - {id: s, kind: state, indicators: [nope]}\n")
    with pytest.raises(InputError, match=r"rules\[0\]\.indicators\[0\]"):
        check_rules(local, library)

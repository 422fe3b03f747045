"""Hostile input corpus: dashboard probes, each case named after what it attacks.

Part of the hostile corpus that keeps the issue-13 defects fixed: the dashboard starved by
expensive timelines (defect 6), HEAD and OPTIONS refused on every route (defect 13), and
right-to-left overrides and control characters from stored headlines rendered as they are
(defect 11). The schema fuzzing of the API (defect 4) is in test_web_fuzz.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from served import serving
from vigil.store import connect
from vigil.web.app import create_app
from vigil.web.data import Dashboard
from vigil.web.work import BusyError, Computations

RLO, NUL = "\u202e", "\x00"
#: a headline that reads "invoice_exe.jpg" on screen when its override is obeyed
SPOOF = f"Leaked invoice_{RLO}gpj.exe{NUL} from Minsk spoofing"
SPOOF_SHOWN = "Leaked invoice_\\u202egpj.exe\\x00 from Minsk spoofing"


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def hostile_store(web_store, tmp_path_factory):
    """The web store plus a headline and a geolocated event carrying U+202E and NUL."""
    db = tmp_path_factory.mktemp("hostile_web") / "v.duckdb"
    shutil.copyfile(web_store["db"], db)
    con = connect(db)
    prov = "TIMESTAMP '2022-02-11 12:00:00', 'test', NULL, 'raw', 'md5', 0"
    con.execute(
        "INSERT INTO documents (source, source_id, published_at, doc_type, title, body, "
        "language, outlet, available_at, available_basis, url, raw, record_hash, batch_id) "
        "VALUES ('rss', 'spoof-1', TIMESTAMP '2022-02-11 09:00:00', 'news', ?, ?, 'en', "
        f"?, {prov})",
        [SPOOF, SPOOF, f"outlet{RLO}"],
    )
    con.execute(
        "INSERT INTO events (source, source_id, occurred_on, occurred_until, category, "
        "country, location, latitude, longitude, summary, available_at, available_basis, url, "
        f"raw, record_hash, batch_id) VALUES ('cir', 'spoof-1', DATE '2022-02-11', "
        f"DATE '2022-02-11', 'other', 'BLR', ?, 53.9, 27.56, ?, {prov})",
        [f"Minsk{RLO}", SPOOF],
    )
    con.close()
    return {**web_store, "db": db}


@pytest.fixture(scope="module")
def dash(hostile_store):
    d = Dashboard(
        hostile_store["db"],
        data_dir=hostile_store["data"],
        briefings=hostile_store["briefings"],
        work=Computations(wait_s=30),  # tests that probe the bound lower it themselves
    )
    yield d
    d.close()


@pytest.fixture(scope="module")
def base(dash):
    """The app on a free loopback port (no warm-up: the tests decide what is cached)."""
    with serving(create_app(dash, warm=False)) as url:
        yield url


@pytest.fixture(scope="module")
def client(base):
    with httpx.Client(base_url=base, timeout=60) as c:
        yield c


# ---------------------------------------------------------------- defect 11: bidi, controls
@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/evidence?q=invoice_", id="rlo-nul-in-evidence-table"),
        pytest.param("/map?start=2022-02-11&end=2022-02-11", id="rlo-nul-in-map-svg-tooltip"),
        pytest.param(f"/scenarios?set=x{RLO}y", id="rlo-echoed-in-error-page"),
        pytest.param(f"/evidence?q=x{RLO}y", id="rlo-echoed-in-search-box"),
    ],
)
def test_bidi_and_control_characters_are_shown_as_escapes(client, path) -> None:
    text = client.get(path).text
    assert RLO not in text and NUL not in text
    assert "\\u202e" in text  # visible, so the reader sees the source contained it


def test_rlo_headline_is_neutralised_where_it_is_stored_text_on_the_page(client) -> None:
    page = client.get("/evidence", params={"q": "invoice_"}).text
    assert SPOOF_SHOWN in page
    assert "outlet\\u202e" in page or "Minsk\\u202e" in page


def test_rlo_headline_stays_as_stored_in_the_json_api(client) -> None:
    """JSON is data: the API returns the text as stored; neutralising is the page's job."""
    items = client.get("/api/evidence", params={"q": "invoice_"}).json()["items"]
    assert {i["text"] for i in items} == {SPOOF}
    points = client.get("/api/map/events", params={"start": "2022-02-11", "end": "2022-02-11"})
    assert SPOOF in {p["title"] for p in points.json()["points"]}


# ---------------------------------------------------------------- defect 13: HEAD, OPTIONS
ROUTES = [
    "/", "/scenarios", "/ach", "/indicators", "/evidence", "/map", "/simulation", "/briefings",
    "/favicon.ico", "/static/style.css", "/api/health", "/api/overview", "/api/assessments",
    "/api/assessments/2022-02-16", "/api/changes", "/api/sets/belarus_role/history",
    "/api/sets/belarus_role/ach", "/api/indicators",
    "/api/indicators/russian_buildup/timeline?start=2022-02-01&end=2022-02-15",
    "/api/evidence?limit=3", "/api/map/events?limit=3", "/api/capability", "/api/simulation",
    "/api/briefings", "/api/openapi.json", "/briefings/belarus_2022-02-16/briefing.html",
    "/alerts", "/api/alerts",
]  # fmt: skip


def test_every_route_is_probed(dash) -> None:
    """The list above covers every route the app declares (a new route needs its probe)."""
    fill = {
        "{as_of}": "2022-02-16",
        "{set_id}": "belarus_role",
        "{indicator}": "russian_buildup",
        "{name}/{file}": "belarus_2022-02-16/briefing.html",
    }
    probed = {p.split("?")[0] for p in ROUTES}
    for route in create_app(dash, warm=False).routes:
        path = route.path
        for name, value in fill.items():
            path = path.replace(name, value)
        assert path in probed, route.path


@pytest.mark.parametrize("path", ROUTES)
def test_head_answers_like_get_without_a_body(client, path) -> None:
    get, head = client.get(path), client.head(path)
    assert get.status_code in (200, 204), get.text[:200]  # the favicon: no content
    assert head.status_code == get.status_code and head.content == b""
    drop = {"date"}
    assert {k: v for k, v in head.headers.items() if k not in drop} == {
        k: v for k, v in get.headers.items() if k not in drop
    }


@pytest.mark.parametrize("path", ROUTES)
def test_options_says_what_is_allowed(client, path) -> None:
    r = client.options(path)
    assert r.status_code == 204 and r.headers["allow"] == "GET, HEAD, OPTIONS"
    assert r.headers["x-content-type-options"] == "nosniff"  # the same hardening headers


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_writes_are_refused_with_a_correct_allow(client, method) -> None:
    r = client.request(method, "/api/overview")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize(
    ("method", "host", "status"),
    [
        pytest.param("OPTIONS", "evil.example", 400, id="options-from-rebound-host"),
        pytest.param("HEAD", "evil.example", 400, id="head-from-rebound-host"),
        pytest.param("OPTIONS", "127.0.0.1", 404, id="options-on-unknown-path"),
    ],
)
def test_head_and_options_keep_the_host_check_and_the_404(client, method, host, status):
    path = "/api/overview" if host != "127.0.0.1" else "/nowhere"
    assert client.request(method, path, headers={"Host": host}).status_code == status


# ---------------------------------------------------------------- defect 6: starvation
def _cold(day: int, indicator: str = "russian_buildup") -> str:
    start = dt.date(2021, 6, 1) + dt.timedelta(days=day)
    return f"/api/indicators/{indicator}/timeline?start={start}&end={start + dt.timedelta(days=90)}"


def _blocked(dash) -> threading.Event:
    """Occupy the worker until the returned event is set (as a long computation would)."""
    release = threading.Event()
    threading.Thread(
        target=lambda: _quiet(dash.work.run, ("block", time.monotonic()), "a test", release.wait),
        daemon=True,
    ).start()
    deadline = time.monotonic() + 5
    while dash.work.idle() and time.monotonic() < deadline:
        time.sleep(0.01)
    return release


def _quiet(fn, *args) -> None:
    with contextlib.suppress(BusyError):  # the test holding the worker expects it
        fn(*args)


def test_concurrent_requests_for_one_cold_timeline_compute_it_once(base, dash) -> None:
    before = dash.work.computed
    path = _cold(1)

    def get(_: int) -> int:
        with httpx.Client(base_url=base, timeout=60) as c:
            return c.get(path).status_code

    with ThreadPoolExecutor(10) as pool:
        codes = list(pool.map(get, range(10)))
    assert codes == [200] * 10
    assert dash.work.computed - before == 1  # single-flight


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(_cold(2), id="cold-timeline-while-worker-busy-api"),
        pytest.param("/indicators?id=russian_buildup&start=2021-07-01&end=2021-09-01",
                     id="cold-timeline-while-worker-busy-page"),
    ],
)  # fmt: skip
def test_expensive_request_past_its_wait_gets_503_with_retry_after(client, dash, path) -> None:
    dash.work.wait_s = 0.3
    release = _blocked(dash)
    try:
        t0 = time.monotonic()
        r = client.get(path)
        assert time.monotonic() - t0 < 5  # answered at once, not after the backlog
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
        assert "busy computing" in r.text and "retry in" in r.text
        if path.startswith("/api/"):
            assert r.json()["retry_after"] == int(r.headers["retry-after"])
        else:
            assert f'http-equiv="refresh" content="{r.headers["retry-after"]}"' in r.text
    finally:
        release.set()
        dash.work.wait_s = 30
    # the computation went on: the retry is answered from the cache
    deadline = time.monotonic() + 60
    while not dash.work.idle() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.get(path).status_code == 200


def test_cheap_pages_never_wait_behind_expensive_work(base, dash) -> None:
    """20 clients: the worker held, cold timelines asked for over and over, and the cached
    pages still answer at once; past the short queue a request is refused immediately."""
    dash.work.wait_s = 0.5
    release = _blocked(dash)
    cheap = ["/", "/api/overview", "/api/health", "/scenarios", "/api/assessments"]

    def client_(k: int) -> list[tuple[str, int, float]]:
        out = []
        with httpx.Client(base_url=base, timeout=60) as c:
            for i in range(10):
                kind, path = ("cold", _cold(100 + k * 10 + i)) if i % 3 == 0 else (
                    "cheap", cheap[(k + i) % len(cheap)])  # fmt: skip
                t0 = time.monotonic()
                out.append((kind, c.get(path).status_code, time.monotonic() - t0))
        return out

    try:
        with ThreadPoolExecutor(20) as pool:
            rows = [row for batch in pool.map(client_, range(20)) for row in batch]
    finally:
        release.set()
        dash.work.wait_s = 30
    assert {code for kind, code, _ in rows if kind == "cheap"} == {200}
    assert max(s for kind, _, s in rows if kind == "cheap") < 2.0
    assert {code for kind, code, _ in rows if kind == "cold"} == {503}
    assert max(s for kind, _, s in rows if kind == "cold") < 3.0


# ---------------------------------------------------------------- the bound, in isolation
@pytest.mark.parametrize(
    "attack",
    ["flood-of-distinct-keys", "flood-of-one-key", "more-waiters-than-allowed"],
)
def test_computations_stay_within_their_bounds(attack) -> None:
    work = Computations(wait_s=0.2, queue_max=2, waiters_max=3)
    release = threading.Event()
    try:
        if attack == "flood-of-one-key":
            slow = lambda: time.sleep(0.1) or 42  # noqa: E731
            with ThreadPoolExecutor(3) as pool:
                got = list(pool.map(lambda _: work.run("k", "k", slow), range(3)))
            assert got == [42] * 3 and work.computed == 1
            return
        _quiet_thread(work, "running", release.wait)
        if attack == "flood-of-distinct-keys":
            outcomes = []
            for i in range(6):
                try:
                    work.run(("k", i), f"job {i}", lambda: 1)
                except BusyError as exc:
                    outcomes.append(exc.retry_after)
            assert len(outcomes) == 6 and all(s >= 1 for s in outcomes)
            assert len(work._queued) <= 2  # the queue never grew past its bound
        else:
            with ThreadPoolExecutor(6) as pool:
                t0 = time.monotonic()
                errors = list(pool.map(lambda _: _busy(work, "running"), range(6)))
            assert all(errors) and time.monotonic() - t0 < 2
    finally:
        release.set()
        work.close()


def _quiet_thread(work: Computations, key, fn) -> None:
    threading.Thread(target=_quiet, args=(work.run, key, key, fn), daemon=True).start()
    while work.idle():
        time.sleep(0.01)


def _busy(work: Computations, key) -> bool:
    try:
        work.run(key, key, lambda: None)
    except BusyError:
        return True
    return False

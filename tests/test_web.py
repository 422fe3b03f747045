"""`vigil serve`: the JSON API, the pages' numbers, untrusted text kept inert, read-only,
and a bounded load on loopback. The browser tests are in test_web_e2e.py."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser

import httpx
import pytest
from typer.testing import CliRunner

from conftest import HOSTILE_TITLE, HOSTILE_URL
from vigil.briefing.document import pct
from vigil.cli import app
from vigil.web.data import Dashboard, NotFoundError

pytestmark = pytest.mark.slow
PAGES = [
    "/", "/scenarios", "/ach", "/indicators", "/evidence", "/map", "/simulation", "/briefings",
    "/alerts",
]  # fmt: skip


@pytest.fixture(scope="module")
def client(web_server):
    with httpx.Client(base_url=web_server, timeout=60) as c:
        yield c


def test_api_lists_the_stored_assessments_and_the_overview_is_the_latest(client) -> None:
    dates = client.get("/api/assessments").json()["dates"]
    assert dates == ["2022-01-19", "2022-02-02", "2022-02-16"]
    o = client.get("/api/overview").json()
    assert o["as_of"] == "2022-02-16" and o["previous_as_of"] == "2022-02-02"
    latest = client.get("/api/assessments/2022-02-16").json()
    before = client.get("/api/assessments/2022-02-02").json()
    for s_over, s_full, s_old in zip(
        o["sets"], latest["scenario_sets"], before["scenario_sets"], strict=True
    ):
        assert s_over["leading"] == s_full["leading"]
        assert abs(sum(sc["probability"] for sc in s_over["scenarios"]) - 1) < 1e-3
        for sc, full, old in zip(
            s_over["scenarios"], s_full["scenarios"], s_old["scenarios"], strict=True
        ):
            assert sc["probability"] == full["probability"]
            assert sc["change"] == pytest.approx(full["probability"] - old["probability"], abs=1e-4)
            assert [p["as_of"] for p in sc["trend"]] == dates
    assert {x["id"] for x in o["outcomes"]} == {x["id"] for x in latest["outcomes"]}


def test_api_history_ach_changes_and_indicators(client) -> None:
    h = client.get("/api/sets/belarus_role/history").json()
    latest = client.get("/api/assessments/2022-02-16").json()["scenario_sets"][0]
    assert [sc["points"][-1]["probability"] for sc in h["scenarios"]] == [
        sc["probability"] for sc in latest["scenarios"]
    ]
    ach = client.get("/api/sets/belarus_role/ach", params={"as_of": "2022-02-02"}).json()
    assert ach["as_of"] == "2022-02-02" and ach["rows"]
    assert set(ach["inconsistency"]) == {sc["id"] for sc in ach["scenarios"]}
    changes = client.get("/api/changes").json()
    assert changes["from"] == "2022-02-02" and changes["to"] == "2022-02-16"
    indicators = client.get("/api/indicators").json()
    assert {i["state"] for i in indicators} - {None} <= {"normal", "elevated", "high",
                                                         "insufficient", "stale"}  # fmt: skip
    t = client.get(
        "/api/indicators/russian_buildup/timeline",
        params={"start": "2022-01-01", "end": "2022-02-26", "step": 7},
    ).json()
    assert [p["as_of"] for p in t["points"]][:2] == ["2022-01-01", "2022-01-08"]
    assert len(t["points"]) == 9


def test_api_errors_name_what_to_do(client) -> None:
    r = client.get("/api/sets/nope/history")
    assert r.status_code == 404 and "belarus_role" in r.json()["hint"]
    r = client.get("/api/assessments/2020-01-01")
    assert r.status_code == 404 and "/api/assessments" in r.json()["hint"]
    assert client.get("/api/evidence", params={"limit": 999}).status_code == 422
    assert client.get("/api/indicators/nope/timeline").status_code == 404
    timeline = "/api/indicators/russian_buildup/timeline"
    r = client.get(timeline, params={"start": "2022-02-01", "end": "2022-01-01"})
    assert r.status_code == 422 and "2022-02-01" in r.json()["error"]
    r = client.get(timeline, params={"start": "1990-01-01", "end": "2024-01-01", "step": 1})
    assert r.status_code == 422 and "shorten the range" in r.json()["hint"]
    r = client.get(timeline, params={"start": "0001-01-01", "end": "9999-12-31", "step": 92})
    assert r.status_code == 200  # clamped to the data's span, not an overflow
    r = client.get("/api/changes", params={"as_of": "2022-01-19", "since": "2022-02-16"})
    assert r.status_code == 422
    first = client.get("/api/changes", params={"as_of": "2022-01-19"}).json()
    assert first == {"from": None, "to": "2022-01-19", "same_model": True, "sets": [],
                     "outcomes": []}  # fmt: skip
    assert client.get("/api/evidence", params={"offset": 2**63}).status_code == 422
    assert client.get("/api/evidence", params={"kind": "bogus"}).status_code == 422
    # a form submitted with blank dates means "no date"; a bad date is still refused
    blank = client.get("/api/evidence", params={"start": "", "end": "", "limit": 1}).json()
    assert blank["total"] == client.get("/api/evidence", params={"limit": 1}).json()["total"]
    assert client.get("/evidence", params={"q": "", "start": "", "end": ""}).status_code == 200
    assert client.get("/api/evidence", params={"start": "2022-13-01"}).status_code == 422
    page = client.get("/scenarios", params={"set": "<b>nope</b>"})
    assert page.status_code == 404 and "&lt;b&gt;nope&lt;/b&gt;" in page.text


def test_api_evidence_search_and_filters(client) -> None:
    everything = client.get("/api/evidence", params={"limit": 1}).json()["total"]
    drone = client.get("/api/evidence", params={"q": "drone", "limit": 200}).json()
    assert 0 < drone["total"] < everything
    assert all("drone" in (i["text"] or "").lower() for i in drone["items"])
    docs = client.get("/api/evidence", params={"kind": "document", "limit": 1}).json()["total"]
    events = client.get("/api/evidence", params={"kind": "event", "limit": 1}).json()["total"]
    assert docs + events == everything
    window = client.get(
        "/api/evidence",
        params={"start": "2022-02-24", "end": "2022-03-03", "kind": "event", "country": "BLR"},
    ).json()
    assert window["items"] and all(
        "2022-02-24" <= i["day"] <= "2022-03-03" and i["country"] == "BLR" for i in window["items"]
    )
    page1 = client.get("/api/evidence", params={"limit": 5}).json()["items"]
    page2 = client.get("/api/evidence", params={"limit": 5, "offset": 5}).json()["items"]
    assert not {i["source_id"] for i in page1} & {i["source_id"] for i in page2}
    # a literal % or _ in a search is text, not a wildcard
    percent = client.get("/api/evidence", params={"q": "%", "limit": 200}).json()
    assert percent["total"] < everything
    assert all("%" in i["text"] for i in percent["items"])
    matched = client.get(
        "/api/evidence", params={"indicator": "migration_pressure", "limit": 200}
    ).json()
    assert matched["items"] and all(
        "migration_pressure" in i["indicators"] for i in matched["items"]
    )


def test_api_map_simulation_and_briefings(client) -> None:
    m = client.get("/api/map/events", params={"start": "2022-02-01", "end": "2022-02-28"}).json()
    assert m["shown"] == len(m["points"]) <= m["total"]
    assert all(-180 <= p["lon"] <= 180 and "2022-02-01" <= p["date"] <= "2022-02-28"
               for p in m["points"])  # fmt: skip
    sim = client.get("/api/simulation").json()
    assert sim["as_of"] == "2022-02-16" and sim["paths"] == 20_000
    assert {s["id"] for s in sim["sets"]} == {"belarus_role", "martial_law", "nato_spillover"}
    briefings = client.get("/api/briefings").json()
    assert [b["as_of"] for b in briefings] == ["2022-02-16"]
    name = briefings[0]["name"]
    page = client.get(f"/briefings/{name}/briefing.html")
    assert page.status_code == 200 and "Bottom line" in page.text
    assert "unsafe-inline" in page.headers["content-security-policy"]
    for path in (f"/briefings/{name}/..%2F..%2Fv.duckdb", "/briefings/%2E%2E/briefing.html"):
        assert client.get(path).status_code == 404


def test_openapi_schema_lists_every_api_route(client) -> None:
    schema = client.get("/api/openapi.json").json()
    paths = set(schema["paths"])
    assert {
        "/api/overview", "/api/assessments", "/api/assessments/{as_of}", "/api/changes",
        "/api/sets/{set_id}/history", "/api/sets/{set_id}/ach", "/api/indicators",
        "/api/indicators/{indicator}/timeline", "/api/evidence", "/api/map/events",
        "/api/simulation", "/api/briefings", "/api/health", "/api/capability", "/api/alerts",
    } == paths  # fmt: skip
    assert all(set(ops) == {"get"} for ops in schema["paths"].values())  # read-only


class _Inert(HTMLParser):
    """Collects what a browser would execute or follow: scripts, handlers, links."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts, self.handlers, self.hrefs = 0, [], []

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        self.handlers += [k for k, _ in attrs if k.startswith("on")]
        self.hrefs += [v for k, v in attrs if k in ("href", "src", "action") and v]


@pytest.mark.parametrize(
    "path",
    [
        *PAGES,
        "/evidence?q=massing",
        "/map?start=2022-02-01&end=2022-02-28",
        "/indicators?id=russian_buildup",
    ],
)
def test_every_page_keeps_source_text_inert(client, path) -> None:
    r = client.get(path)
    assert r.status_code == 200, r.text[:300]
    assert "script-src" not in r.headers["content-security-policy"]  # no scripts at all
    assert r.headers["x-content-type-options"] == "nosniff"
    parser = _Inert()
    parser.feed(r.text)
    assert parser.scripts == 0 and parser.handlers == []
    assert not [h for h in parser.hrefs if h.lower().startswith(("javascript:", "data:"))]
    assert "alert(" not in "".join(parser.hrefs)


def test_hostile_headline_and_event_are_shown_escaped(client) -> None:
    found = client.get("/api/evidence", params={"q": "massing near Ukraine border <script>"})
    items = found.json()["items"]
    assert {(i["kind"], i["text"], i["url"]) for i in items} == {
        ("document", HOSTILE_TITLE, HOSTILE_URL),
        ("event", HOSTILE_TITLE, HOSTILE_URL),
    }  # the API returns the text as stored: JSON is data, escaping is the page's job
    page = client.get("/evidence", params={"q": "massing near Ukraine border"}).text
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in page
    assert "<script>" not in page and 'href="javascript' not in page
    assert "{{7*7}}" in page  # shown literally: never evaluated as a template
    drawing = client.get("/map", params={"start": "2022-02-10", "end": "2022-02-10"}).text
    assert "&lt;script&gt;" in drawing and "<script>" not in drawing


def test_requests_for_another_host_are_refused(client) -> None:
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 gets nothing."""
    assert client.get("/api/overview", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/api/overview", headers={"Host": "localhost:8000"}).status_code == 200


def test_briefing_archive_never_follows_links_or_leaves_its_folder(web_store, tmp_path) -> None:
    folder = tmp_path / "belarus_2022-02-16"
    folder.mkdir()
    (folder / "briefing.html").write_text("<p>ok</p>")
    (folder / "briefing.md").symlink_to(web_store["db"])  # a link out of the archive
    (tmp_path / "belarus_2022-02-02").symlink_to(folder, target_is_directory=True)
    dash = Dashboard(web_store["db"], data_dir=web_store["data"], briefings=tmp_path)
    try:
        assert dash.briefings() == [
            {"name": folder.name, "theatre": "belarus", "as_of": "2022-02-16",
             "files": ["briefing.html"]}
        ]  # fmt: skip
        for name, file in ((folder.name, "briefing.md"), ("..", "briefing.html")):
            with pytest.raises(NotFoundError):
                dash.briefing_file(name, file)
    finally:
        dash.close()


def test_the_server_is_read_only(client) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert client.request(method, "/api/overview").status_code == 405


def test_bounded_load_on_loopback(client, web_server) -> None:
    """20 clients × 10 requests each on the overview and the API: every one answered."""

    paths = [
        "/", "/api/overview", "/api/evidence?q=Belarus", "/api/map/events?limit=500",
        "/api/indicators/russian_buildup/timeline?start=2022-01-01&end=2022-02-26",
    ]  # fmt: skip

    def burst(k: int) -> list[int]:  # cached pages and fresh queries on their own cursors
        with httpx.Client(base_url=web_server, timeout=60) as c:
            return [c.get(paths[(k + i) % len(paths)]).status_code for i in range(10)]

    with ThreadPoolExecutor(20) as pool:
        codes = [code for batch in pool.map(burst, range(20)) for code in batch]
    assert codes == [200] * 200


def test_serve_refuses_a_public_address_without_public(web_store) -> None:
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--db", str(web_store["db"])])
    assert result.exit_code != 0 and "--public" in result.output


def test_where_the_war_stands_is_read_as_of_the_latest_assessment(client) -> None:
    c = client.get("/api/capability").json()
    assert c["as_of"] == "2022-02-16" and c["window_days"] == 90
    rows = {r["series"]: r for r in c["series"]}
    personnel = rows["losses.ua_claims.personnel"]
    assert personnel["latest"] is None  # the tally starts with the invasion: not yet
    assert rows["fires.war_fires_per_day"]["latest"] is None  # not in this store
    page = client.get("/").text
    assert 'data-testid="capability-losses.ua_claims.personnel"' in page
    assert "claimed by Ukraine&#39;s General Staff" in page


def test_numbers_on_pages_match_the_api(client) -> None:
    o = client.get("/api/overview").json()
    page = client.get("/").text
    for s in o["sets"]:
        for sc in s["scenarios"]:
            row = re.search(
                rf'data-testid="scenario-{s["id"]}-{sc["id"]}">.*?data-value="([^"]+)">([^<]+)<',
                page,
                re.S,
            )
            assert row and float(row.group(1)) == sc["probability"]
            assert row.group(2).strip() == pct(sc["probability"])

"""`vigil serve` in a real browser: headless Chromium (Debian's, driven by Playwright) clicks
through every view, checks the numbers it shows against the JSON API, and checks that
untrusted text stays inert and that nothing is fetched from anywhere but the server."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from conftest import HOSTILE_TITLE
from vigil.briefing.document import pct

pytestmark = pytest.mark.slow
VIEWS = ["overview", "scenarios", "ach", "indicators", "evidence", "map", "simulation", "briefings"]
SCRIPT = "<script>alert('xss')</script>"


@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("no chromium on PATH: `make install-browser` installs it")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def api(web_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web_server, timeout=60) as c:
        yield c


@dataclass
class Tab:
    """A page plus what it reported: console errors, page errors, dialogs, requests."""

    page: Page
    base: str
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def goto(self, path: str) -> Page:
        response = self.page.goto(self.base + path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        return self.page

    def submit(self, button: str) -> None:
        """Click a form's button and wait for the page it loads."""
        self.follow(self.page.get_by_role("button", name=button))

    def follow(self, locator) -> None:
        """Click a link or button and wait for the page it loads."""
        with self.page.expect_navigation() as nav:
            locator.click()
        response = nav.value
        status = response.status if response else None
        assert response is not None and response.ok, f"{status}: {self.page.url}"

    def foreign(self) -> list[str]:
        """Requests that went anywhere but the server (a data: URI stays in the page)."""
        return [u for u in self.requests if not u.startswith((self.base + "/", "data:"))]


@pytest.fixture
def tab(browser, web_server) -> Iterator[Tab]:
    """A fresh page; afterwards no console error, page error or dialog may have occurred,
    and no request may have left the server."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    t = Tab(page, web_server)

    def on_console(msg) -> None:
        if msg.type == "error":
            t.errors.append(f"console: {msg.text} ({msg.location.get('url')})")

    def on_dialog(dialog) -> None:
        t.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("console", on_console)
    page.on("pageerror", lambda exc: t.errors.append(f"pageerror: {exc}"))
    page.on("dialog", on_dialog)
    page.on("request", lambda request: t.requests.append(request.url))
    yield t
    context.close()
    assert not t.dialogs, f"a dialog opened: {t.dialogs}"
    assert not t.errors, f"the browser reported errors (CSP violations?): {t.errors}"
    assert not t.foreign(), f"requests away from the server: {t.foreign()}"


# ---------------------------------------------------------------------------- navigation
def test_every_nav_link_opens_its_view_and_marks_it_current(tab) -> None:
    page = tab.goto("/")
    for view in VIEWS:
        tab.follow(page.locator(f'nav a[data-view="{view}"]'))
        current = page.locator('nav a[aria-current="page"]')
        expect(current).to_have_count(1)
        expect(current).to_have_attribute("data-view", view)
        expect(page.locator("h1")).to_have_count(1)
        expect(page.locator("h1")).not_to_be_empty()
    assert page.url == tab.base + "/briefings"


# ---------------------------------------------------------------------------- numbers
def test_overview_numbers_are_the_api_numbers(tab, api) -> None:
    o = api.get("/api/overview").json()
    page = tab.goto("/")
    expect(page.get_by_test_id("as-of")).to_have_text(o["as_of"])
    rows = 0
    for s in o["sets"]:
        for sc in s["scenarios"]:
            cell = page.locator(f'[data-testid="scenario-{s["id"]}-{sc["id"]}"] td[data-testid=p]')
            assert float(cell.get_attribute("data-value")) == sc["probability"]
            expect(cell).to_have_text(pct(sc["probability"]))
            rows += 1
    expect(page.locator('tr[data-testid^="scenario-"]')).to_have_count(rows)
    for x in o["outcomes"]:
        cell = page.get_by_test_id(f"outcome-{x['id']}").get_by_test_id("outcome-p")
        assert float(cell.get_attribute("data-value")) == x["probability"]
        expect(cell).to_have_text(pct(x["probability"]))
    expect(page.locator('tr[data-testid^="outcome-"]')).to_have_count(len(o["outcomes"]))


def test_scenarios_page_shows_each_sets_history(tab, api) -> None:
    page = tab.goto("/scenarios")
    select = page.locator("select[name=set]")
    set_ids = select.locator("option").evaluate_all("os => os.map(o => o.value)")
    assert set_ids == [s["id"] for s in api.get("/api/overview").json()["sets"]]
    for set_id in reversed(set_ids):  # the first is the default: choose it last
        select.select_option(set_id)
        tab.submit("Show")
        assert f"set={set_id}" in page.url
        expect(select).to_have_value(set_id)
        h = api.get(f"/api/sets/{set_id}/history").json()
        last = h["scenarios"][0]["points"][-1]["as_of"]
        row = page.get_by_test_id(f"history-{last}")
        expect(row.locator("td[data-scenario]")).to_have_count(len(h["scenarios"]))
        for sc in h["scenarios"]:
            cell = row.locator(f'td[data-scenario="{sc["id"]}"]')
            assert float(cell.get_attribute("data-value")) == sc["points"][-1]["probability"]
            expect(cell).to_have_text(pct(sc["points"][-1]["probability"]))
        first_row = page.locator("table[data-testid=history] tbody tr").first
        expect(first_row).to_have_attribute("data-testid", f"history-{last}")


def test_ach_page_for_a_chosen_date_matches_the_api(tab, api) -> None:
    page = tab.goto("/ach")
    page.locator("select[name=set]").select_option("belarus_role")
    page.locator("select[name=as_of]").select_option("2022-02-02")
    tab.submit("Show")
    expect(page.get_by_test_id("ach-as-of")).to_have_text("2022-02-02")
    m = api.get("/api/sets/belarus_role/ach", params={"as_of": "2022-02-02"}).json()
    assert m["rows"]
    expect(page.locator('tr[data-testid^="ach-"]')).to_have_count(len(m["rows"]))
    for r in m["rows"]:
        cells = page.get_by_test_id(f"ach-{r['indicator']}").locator("td[data-scenario]")
        got = cells.evaluate_all(
            "cs => cs.map(c => [c.dataset.scenario, Number(c.dataset.value), c.innerText])"
        )
        assert {sc: (llr, mark) for sc, llr, mark in got} == {
            sc["id"]: (r["llr"][sc["id"]], r["marks"][sc["id"]]) for sc in m["scenarios"]
        }, r["indicator"]
    for sc in m["scenarios"]:
        cell = page.get_by_test_id(f"inconsistency-{sc['id']}")
        assert float(cell.get_attribute("data-value")) == m["inconsistency"][sc["id"]]


def test_indicators_page_follows_a_link_to_its_timeline(tab, api) -> None:
    page = tab.goto("/indicators")
    row = page.locator("table[data-testid=indicators] tbody tr").nth(1)
    indicator = row.get_attribute("data-testid").removeprefix("indicator-")
    name = row.locator("a").inner_text()
    assert page.get_by_test_id("timeline-name").inner_text() != name  # the first is shown
    tab.follow(row.locator("a"))
    expect(page.get_by_test_id("timeline-name")).to_have_text(name)
    expect(page.get_by_test_id(f"indicator-{indicator}")).to_have_class("chosen")
    start = page.locator("input[name=start]").input_value()
    end = page.locator("input[name=end]").input_value()
    t = api.get(f"/api/indicators/{indicator}/timeline", params={"start": start, "end": end}).json()
    assert t["name"] == name and t["points"]
    latest = page.get_by_test_id("timeline-latest")
    assert latest.get_attribute("data-value") == str(t["points"][-1]["score"])
    expect(latest).to_contain_text(t["points"][-1]["as_of"])


def test_evidence_explorer_search_filter_and_pages(tab, api) -> None:
    page = tab.goto("/evidence")
    page.locator("input[name=q]").fill("drone")
    page.locator("select[name=kind]").select_option("document")
    tab.submit("Filter")
    query = {"q": "drone", "kind": "document"}
    first = api.get("/api/evidence", params=query).json()
    assert first["total"] > 50, "the test needs a second page"
    total = page.get_by_test_id("evidence-total")
    assert int(total.get_attribute("data-value")) == first["total"]
    expect(total).to_have_text(f"{first['total']:,}")
    rows = page.get_by_test_id("evidence-row")
    shown = rows.evaluate_all("rs => rs.map(r => r.dataset.id)")
    assert shown == [f"{e['source']}:{e['source_id']}" for e in first["items"]]
    expect(page.get_by_test_id("prev")).to_have_count(0)
    tab.follow(page.get_by_test_id("next"))
    second = api.get("/api/evidence", params={**query, "offset": 50}).json()
    shown2 = rows.evaluate_all("rs => rs.map(r => r.dataset.id)")
    assert shown2 == [f"{e['source']}:{e['source_id']}" for e in second["items"]]
    assert not set(shown2) & set(shown)
    expect(page.locator("input[name=q]")).to_have_value("drone")
    expect(page.locator("select[name=kind]")).to_have_value("document")
    expect(page.get_by_test_id("prev")).to_have_count(1)


def test_map_draws_the_apis_events_from_local_data_only(tab, api) -> None:
    page = tab.goto("/map")
    m = api.get("/api/map/events", params={"limit": 2000}).json()
    shown = int(page.get_by_test_id("map-shown").get_attribute("data-value"))
    assert shown == m["shown"] > 0
    assert int(page.get_by_test_id("map-total").get_attribute("data-value")) == m["total"]
    circles = page.locator("figure.map svg circle.event")
    ids = circles.evaluate_all("cs => cs.map(c => [c.dataset.source, c.dataset.id])")
    drawn = {tuple(x) for x in ids}
    assert drawn <= {(p["source"], p["id"]) for p in m["points"]}
    # events outside the map's frame are counted in the caption, not drawn
    caption = page.locator("figure.map svg text.caption").text_content()
    outside = re.search(r"(\d+) outside the map", caption)
    assert len(ids) == len(drawn) == shown - (int(outside[1]) if outside else 0)
    assert caption.startswith(f"{len(drawn)} events shown")
    assert page.locator("figure.map svg path.country").count() > 0
    expect(page.locator("figure.map svg image")).to_have_count(0)
    tab.submit("Show")  # the form as it stands, empty dates included
    expect(page.get_by_test_id("map-shown")).to_have_attribute("data-value", str(shown))
    assert len(tab.requests) >= 2 and not tab.foreign(), tab.requests


def test_simulation_rungs_are_the_api_numbers(tab, api) -> None:
    sim = api.get("/api/simulation").json()
    page = tab.goto("/simulation")
    expect(page.get_by_test_id("sim-as-of")).to_have_text(sim["as_of"])
    count = 0
    for s in sim["sets"]:
        for r in s["rungs"][1:]:
            cell = page.get_by_test_id(f"rung-{s['id']}-{r['id']}").get_by_test_id("simulated")
            assert float(cell.get_attribute("data-value")) == r["simulated"]
            expect(cell).to_have_text(pct(r["simulated"]))
            count += 1
    assert count > 0
    expect(page.locator('tr[data-testid^="rung-"]')).to_have_count(count)


def test_briefing_link_opens_the_briefing(tab, api) -> None:
    rows = api.get("/api/briefings").json()
    assert rows and "briefing.html" in rows[0]["files"]
    page = tab.goto("/briefings")
    tab.follow(page.get_by_test_id(f"briefing-{rows[0]['name']}").get_by_text("briefing.html"))
    assert page.url == f"{tab.base}/briefings/{rows[0]['name']}/briefing.html"
    assert "Bottom line" in page.inner_text("body")


# ---------------------------------------------------------------------------- hostile text
def _inert(page) -> None:
    """Nothing on the page runs: no script elements, no javascript: links."""
    assert page.evaluate("document.querySelectorAll('script').length") == 0
    expect(page.locator('a[href^="javascript" i]')).to_have_count(0)
    expect(page.locator("[onerror], [onclick], [onload], [onmouseover]")).to_have_count(0)


def test_hostile_headline_is_shown_as_text_in_the_explorer(tab) -> None:
    page = tab.goto("/evidence?q=massing near Ukraine border")
    row = page.locator('tr[data-id="rss:hostile-1"]')
    expect(row).to_have_count(1)
    text = page.inner_text("body")
    assert SCRIPT in text and "{{7*7}}" in text
    assert HOSTILE_TITLE in row.inner_text()
    _inert(page)
    page.wait_for_timeout(300)  # time for a dialog, were one to open
    assert not tab.dialogs


def test_hostile_event_on_the_map_stays_inert_on_hover(tab) -> None:
    page = tab.goto("/map?start=2022-02-10&end=2022-02-10")
    circle = page.locator('circle[data-id="hostile-1"]')
    expect(circle).to_have_count(1)
    assert SCRIPT in circle.locator("title").text_content()
    circle.hover()
    page.wait_for_timeout(300)
    _inert(page)
    assert not tab.dialogs

"""The FastAPI app: HTML pages and the JSON API, both over :class:`~vigil.web.data.Dashboard`.

Read-only by construction: every route is a GET (HEAD and OPTIONS answered alongside: see
:class:`_HeadAndOptions`), the store is opened read-only. Pages are
rendered on the server from the same dicts the API returns, with Jinja2's autoescaping
on (every string from a source is untrusted) and charts as inline SVG built by
:mod:`vigil.web.svg`, so the dashboard works offline and needs no JavaScript. The
Content-Security-Policy forbids scripts altogether. Source text is shown with its control
and bidirectional characters made visible (:func:`vigil.display.neutralise`, applied to every
value a template prints and to every SVG label); the JSON API returns it as stored.

Expensive work (uncached timelines, the simulation) runs on one worker within bounds
(:mod:`vigil.web.work`); past them a request gets 503 with ``Retry-After`` at once, so cheap
pages never wait behind it.
"""

from __future__ import annotations

import datetime as dt
import json
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Query, Request
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from pydantic import BeforeValidator, WithJsonSchema
from starlette.routing import Match

from vigil import __version__
from vigil.briefing.document import number, pct
from vigil.briefing.render import safe_url
from vigil.display import neutralise
from vigil.errors import UsageError, VigilError
from vigil.web import LOOPBACK_HOSTS, models, svg
from vigil.web.data import BRIEFING_FILES, MAP_MAX, Dashboard, EvidenceQuery, NotFoundError
from vigil.web.work import BusyError

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
#: a stored briefing carries its own inline stylesheet and data-URI images
BRIEFING_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'"
MAP_DEFAULT = 2000  #: events on the map when no window is chosen (the most recent)
STATIC = Path(__file__).parent / "static"

#: the methods every route answers (GET; HEAD and OPTIONS by :class:`_HeadAndOptions`)
ALLOW = "GET, HEAD, OPTIONS"
_BLANK = {"type": "string", "maxLength": 0}


def _blank_is_none(value: object) -> object:
    return value or None


# An empty form field (a date input left blank, "any" kind) means "not set", on the pages and
# the API alike (the same filters serve both), and the schema says so; a bad date is a 422.
DateParam = Annotated[
    dt.date | None,
    BeforeValidator(_blank_is_none),
    WithJsonSchema({"anyOf": [{"type": "string", "format": "date"}, _BLANK]}),
    Query(description="YYYY-MM-DD, or empty for none"),
]
KindParam = Annotated[
    Literal["document", "event"] | None,
    BeforeValidator(_blank_is_none),
    WithJsonSchema({"anyOf": [{"type": "string", "enum": ["document", "event"]}, _BLANK]}),
    Query(description="document or event, or empty for both"),
]

# Error responses, documented per route so the schema lists every status a route can answer.
_NOT_FOUND = {404: {"model": models.ErrorBody, "description": "No such set, date or indicator"}}
_INVALID = {422: {"model": models.Invalid, "description": "A parameter is invalid"}}
_NO_ASSESSMENT = {409: {"model": models.ErrorBody, "description": "No stored assessment"}}
_BUSY = {
    503: {
        "model": models.BusyBody,
        "description": "Busy computing: retry after the seconds in Retry-After",
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
    }
}


def _evidence_query(
    q: str | None = None,
    kind: KindParam = None,
    source: str | None = None,
    indicator: str | None = None,
    country: str | None = None,
    start: DateParam = None,
    end: DateParam = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> EvidenceQuery:
    """The evidence explorer's filters, for the page and the API alike (blank means any)."""
    return EvidenceQuery(
        q or None, kind or None, source or None, indicator or None, country or None,
        start, end, limit, offset,
    )  # fmt: skip


EvidenceFilters = Annotated[EvidenceQuery, Depends(_evidence_query)]


def create_app(
    dash: Dashboard, allowed_hosts: list[str] | None = None, *, warm: bool = True
) -> FastAPI:
    """The app over one theatre's dashboard data, answering only requests addressed to
    ``allowed_hosts`` (default: loopback names): a page elsewhere that rebinds its own
    domain to 127.0.0.1 (DNS rebinding) is refused, so it cannot read the API.

    With ``warm``, the server's startup (ASGI lifespan) begins computing the caches in the
    background, requests first: the simulation and each indicator's default timeline, so
    the first visitors find them ready."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if warm:
            dash.work.warm(dash.warm_jobs)
            dash.warm_on_swap = True  # each new snapshot is warmed before it serves
        yield

    app = FastAPI(
        title="Vigil",
        version=__version__,
        description="Read-only API over a Vigil store: assessments, indicators, evidence.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # Swagger UI loads scripts from a CDN: not offline, not under our CSP
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.dash = dash
    # inside the host check: a rebinding page gets no OPTIONS answer either
    app.add_middleware(_HeadAndOptions, routes=app.router.routes)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or list(LOOPBACK_HOSTS))
    env = Environment(
        loader=PackageLoader("vigil.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_shown,
    )
    env.filters["pct"] = pct
    env.filters["number"] = number
    env.filters["safe_url"] = safe_url
    env.filters["query"] = _query

    @app.middleware("http")
    async def _pinned(request: Request, call_next):
        # one request, one view of the store: a snapshot swapped in meanwhile (`vigil watch`
        # publishing a cycle) serves the next requests; this one's stays open until it ends
        with dash.pinned():
            return await call_next(request)

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    @app.exception_handler(VigilError)
    async def _vigil_error(request: Request, exc: VigilError):
        # not there: 404; a bad parameter: 422 (as FastAPI's own validation); the store
        # lacks what the view needs (no assessments, no boundaries file): 409
        status = (
            404 if isinstance(exc, NotFoundError) else 422 if isinstance(exc, UsageError) else 409
        )
        body = {"error": exc.message, "hint": exc.hint}
        if request.url.path.startswith("/api/"):
            return JSONResponse(body, status_code=status)
        return page("error.html", status_code=status, **body)

    @app.exception_handler(BusyError)
    async def _busy(request: Request, exc: BusyError):
        # 503 at once rather than a request held for seconds: the computation goes on, and
        # the retry (the page refreshes itself, without script) finds it cached
        headers = {"Retry-After": str(exc.retry_after), "Cache-Control": "no-store"}
        body = {"error": exc.message, "hint": exc.hint, "retry_after": exc.retry_after}
        if request.url.path.startswith("/api/"):
            return JSONResponse(body, status_code=503, headers=headers)
        response = page("busy.html", status_code=503, **body)
        response.headers.update(headers)
        return response

    def page(template: str, status_code: int = 200, **context) -> HTMLResponse:
        html = env.get_template(template).render(
            theatre=dash.spec.theatre, version=__version__, **context
        )
        return HTMLResponse(html, status_code=status_code)

    _api_routes(app, dash)
    _page_routes(app, dash, page)
    return app


# ---------------------------------------------------------------------------- API
def _api_routes(app: FastAPI, dash: Dashboard) -> None:  # noqa: C901 (one per route)
    @app.get("/api/health", tags=["meta"], response_model=models.Health)
    def health() -> dict:
        """The theatre, the model and how many assessments are stored."""
        return {
            "status": "ok",
            "theatre": dash.spec.theatre.id,
            "model_hash": dash.model_hash,
            "horizon_days": dash.horizon_days,
            "stored_assessments": len(dash.stored),
            "freshness": dash.freshness(),
        }

    @app.get(
        "/api/overview",
        tags=["assessments"],
        response_class=Response,  # serialised once: documented by the model, checked once
        responses={200: {"model": models.Overview, "content": {"application/json": {}},
                         "description": "Successful Response"}, **_NO_ASSESSMENT},
    )  # fmt: skip
    def overview() -> Response:
        """The latest stored assessment: probabilities, yardstick words, change, trend."""
        key = ("overview", dash.generation)  # read-only store (or snapshot): serialised once
        if key not in encoded:
            data = dash.overview()
            models.Overview.model_validate(data)  # the schema's promise, kept
            encoded.clear()  # an older snapshot's
            encoded[key] = json.dumps(data).encode()
        return Response(encoded[key], media_type="application/json")

    encoded: dict[tuple, bytes] = {}

    @app.get("/api/assessments", tags=["assessments"], response_model=models.Assessments)
    def assessments() -> dict:
        """Dates of the stored assessments (current model and horizon), oldest first."""
        return {"horizon_days": dash.horizon_days, "dates": dash.dates()}

    @app.get(
        "/api/assessments/{as_of}",
        tags=["assessments"],
        response_model=models.Assessment,
        responses={**_NOT_FOUND, **_NO_ASSESSMENT, **_INVALID},
    )
    def assessment(as_of: dt.date) -> dict:
        """One stored assessment, whole: contributions with their evidence, ACH, sensitivity."""
        return dash.assessment(as_of.isoformat())

    @app.get(
        "/api/changes",
        tags=["assessments"],
        response_model=models.Changes,
        responses={**_NOT_FOUND, **_NO_ASSESSMENT, **_INVALID},
    )
    def changes(as_of: DateParam = None, since: DateParam = None) -> dict:
        """What changed between two stored assessments and which evidence moved it."""
        found = dash.changes(_iso(as_of), _iso(since))
        if found is None:  # nothing stored before: the same shape, nothing in it
            to = dash.assessment(_iso(as_of))["as_of"]
            return {"from": None, "to": to, "same_model": True, "sets": [], "outcomes": []}
        return found

    @app.get(
        "/api/sets/{set_id}/history",
        tags=["assessments"],
        response_model=models.History,
        responses={**_NOT_FOUND, **_INVALID},
    )
    def history(set_id: str) -> dict:
        """Each scenario's stored probabilities and intervals over time."""
        return dash.history(set_id)

    @app.get(
        "/api/sets/{set_id}/ach",
        tags=["assessments"],
        response_model=models.Ach,
        responses={**_NOT_FOUND, **_NO_ASSESSMENT, **_INVALID},
    )
    def ach(set_id: str, as_of: DateParam = None) -> dict:
        """Analysis of competing hypotheses: marks per indicator and scenario."""
        return dash.ach(set_id, _iso(as_of))

    @app.get("/api/indicators", tags=["indicators"], response_model=list[models.Indicator])
    def indicators() -> list[dict]:
        """The theatre's indicators with their latest assessed reading."""
        return dash.indicators()

    @app.get(
        "/api/indicators/{indicator}/timeline",
        tags=["indicators"],
        response_model=models.Timeline,
        responses={**_NOT_FOUND, **_INVALID, **_BUSY},
    )
    def timeline(
        indicator: str,
        start: DateParam = None,
        end: DateParam = None,
        step: Annotated[int, Query(ge=1, le=92)] = 7,
    ) -> dict:
        """Score and state as known on each date (no look-ahead). Uncached, it is computed
        on the server's one worker: 503 with Retry-After when that would take too long."""
        lo, hi = dash.default_window()
        return dash.timeline(indicator, start or lo, end or hi, step)

    @app.get("/api/evidence", tags=["evidence"], response_model=models.Evidence, responses=_INVALID)
    def evidence(f: EvidenceFilters) -> dict:
        """Documents and events, newest first; ``total`` counts all that match."""
        return dash.evidence(f)

    @app.get(
        "/api/map/events", tags=["evidence"], response_model=models.MapEvents, responses=_INVALID
    )
    def map_events(
        start: DateParam = None,
        end: DateParam = None,
        source: str | None = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 5000,
    ) -> dict:
        """Geolocated events in the theatre's countries, newest first."""
        return dash.events_map(start, end, source, limit)

    @app.get("/api/capability", tags=["assessments"], response_model=models.Capability)
    def capability() -> dict:
        """Where the war stands on the latest assessment's date: territory, activity, claimed
        losses over two windows, each with whose figure it is."""
        return dash.capability()

    @app.get(
        "/api/simulation",
        tags=["simulation"],
        response_model=models.Simulation,
        responses={**_NO_ASSESSMENT, **_BUSY},
    )
    def simulation() -> dict:
        """Monte Carlo escalation chains and consequences from the latest assessment
        (computed once, on the worker: 503 with Retry-After until it is ready)."""
        return dash.simulation()

    @app.get("/api/briefings", tags=["briefings"], response_model=list[models.Briefing])
    def briefings() -> list[dict]:
        """Stored briefings, newest first."""
        return dash.briefings()

    @app.get("/api/alerts", tags=["alerts"], response_model=models.Alerts)
    def alerts() -> dict:
        """Alerts the theatre's rules raised (`vigil watch`), newest first."""
        return dash.alerts()


# ---------------------------------------------------------------------------- pages
def _page_routes(app: FastAPI, dash: Dashboard, page) -> None:  # noqa: C901 (one per view)
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def overview_page():
        # The store is read-only while served, so the busiest page is rendered once (per
        # snapshot, when a watcher publishes them)
        key = ("overview", dash.generation)
        if key not in rendered:
            body = overview_html().body
            rendered.clear()  # an older snapshot's
            rendered[key] = body
        return HTMLResponse(rendered[key])

    rendered: dict[tuple, bytes] = {}

    def overview_html() -> HTMLResponse:
        o = dash.overview()
        charts = {
            s["id"]: Markup(
                svg.line_chart(
                    [
                        {"name": sc["name"], "points": _points(sc["trend"], "probability")}
                        for sc in s["scenarios"]
                    ],
                    height=180,
                    percent=True,
                    y_min=0,
                    y_max=1,
                    title=f"{s['name']}: recent assessments",
                )
            )
            for s in o["sets"]
        }
        return page(
            "overview.html", view="overview", o=o, charts=charts, changes=dash.changes(),
            capability=dash.capability(), fresh=dash.freshness(),
        )  # fmt: skip

    @app.get("/scenarios", response_class=HTMLResponse, include_in_schema=False)
    def scenarios_page(set: str | None = None):
        set_id = set or dash.library.sets[0].id
        h = dash.history(set_id)
        chart = svg.line_chart(
            [
                {
                    "name": sc["name"],
                    "points": _points(sc["points"], "probability"),
                    "interval": [
                        (dt.date.fromisoformat(p["as_of"]), *p["interval"]) for p in sc["points"]
                    ],
                    "marked": [
                        dt.date.fromisoformat(p["as_of"]) for p in sc["points"] if p["observed"]
                    ],
                }
                for sc in h["scenarios"]
            ],
            percent=True,
            y_min=0,
            y_max=1,
            width=1200,
            height=420,
            title=f"{set_id}: probability over {dash.horizon_days} days",
        )
        return page(
            "scenarios.html", view="scenarios", h=h, chart=Markup(chart), sets=dash.library.sets
        )

    @app.get("/ach", response_class=HTMLResponse, include_in_schema=False)
    def ach_page(set: str | None = None, as_of: DateParam = None):
        set_id = set or dash.library.sets[0].id
        m = dash.ach(set_id, _iso(as_of))
        return page("ach.html", view="ach", m=m, sets=dash.library.sets, dates=dash.dates())

    @app.get("/indicators", response_class=HTMLResponse, include_in_schema=False)
    def indicators_page(id: str | None = None, start: DateParam = None, end: DateParam = None):
        rows = dash.indicators()
        chosen = id or rows[0]["id"]
        lo, hi = dash.default_window()
        start, end = start or lo, end or max(hi, start or hi)
        t = dash.timeline(chosen, start, end)
        scores = [p["score"] for p in t["points"] if p["score"] is not None]
        chart = svg.line_chart(
            [{"name": t["name"], "points": _points(t["points"], "score")}],
            height=260,
            # the state zones stay in view even when the score never reaches them
            y_min=min([0.0, *scores]),
            y_max=max([t["high"] * 1.15, *scores]),
            y_label="score (z)",
            bands=[
                {"from": t["elevated"], "to": t["high"], "class": "elevated", "label": "elevated"},
                {"from": t["high"], "to": max(t["high"] * 2, 8), "class": "high", "label": "high"},
            ],
            title=f"{t['name']}: score as known on each date",
        )
        return page(
            "indicators.html",
            view="indicators",
            rows=rows,
            t=t,
            chart=Markup(chart),
            start=t["points"][0]["as_of"] if t["points"] else start,
            end=end,
        )

    @app.get("/evidence", response_class=HTMLResponse, include_in_schema=False)
    def evidence_page(f: EvidenceFilters):
        return page("evidence.html", view="evidence", r=dash.evidence(f), f=f, facets=dash.facets())

    @app.get("/map", response_class=HTMLResponse, include_in_schema=False)
    def map_page(start: DateParam = None, end: DateParam = None, source: str | None = None):
        # Event sources end at different dates, so no fixed window suits all: by default
        # the most recent events, whenever they fell.
        limit = MAP_DEFAULT if start is None and end is None else MAP_MAX
        m = dash.events_map(start, end, source or None, limit)
        dates = [p["date"] for p in m["points"]]
        span = f"{min(dates)} to {max(dates)}" if dates else "none in this window"
        drawing = svg.map_svg(
            dash.outlines(), m["points"], bbox=dash.focus_bbox(), title=f"Geolocated events, {span}"
        )
        return page(
            "map.html", view="map", m=m, drawing=Markup(drawing), start=start, end=end, span=span,
            source=source or "", facets=dash.facets(),
        )  # fmt: skip

    @app.get("/simulation", response_class=HTMLResponse, include_in_schema=False)
    def simulation_page():
        sim = dash.simulation()
        charts = {
            s["id"]: Markup(
                svg.line_chart(
                    [
                        {"name": r["id"], "points": _reach(sim["as_of"], r["reach_by_day"])}
                        for r in s["rungs"][1:]
                    ],
                    percent=True,
                    y_min=0,
                    height=220,
                    title=f"{s['id']}: probability of reaching each rung by day",
                )
            )
            for s in sim["sets"]
        }
        return page("simulation.html", view="simulation", sim=sim, charts=charts)

    @app.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
    def alerts_page():
        return page("alerts.html", view="alerts", r=dash.alerts(), fresh=dash.freshness())

    @app.get("/briefings", response_class=HTMLResponse, include_in_schema=False)
    def briefings_page():
        return page("briefings.html", view="briefings", rows=dash.briefings())

    @app.get("/briefings/{name}/{file}", include_in_schema=False)
    def briefing_file(name: str, file: str):
        path = dash.briefing_file(name, file)
        response = FileResponse(path, media_type=BRIEFING_FILES[file])
        response.headers["Content-Security-Policy"] = BRIEFING_CSP
        return response

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():  # browsers ask for one; no icon, and no 404 in their console
        return Response(status_code=204)

    @app.get("/static/style.css", include_in_schema=False)
    def style():
        return Response((STATIC / "style.css").read_bytes(), media_type="text/css")


def _shown(value: Any) -> Any:
    """Every value a template prints (Jinja2's ``finalize``), before autoescaping: text with
    its control and bidi characters made visible. Markup passes as is: it is the charts and
    macros, built here from text already neutralised, not data."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return neutralise(value)
    return value


class _HeadAndOptions:
    """HEAD answered as GET without the body (same status and headers, Content-Length
    included), and OPTIONS with the methods allowed (204 and ``Allow``; 404 for a path no
    route has). The routes are declared GET only, so that the OpenAPI schema lists what
    the API does; Starlette would otherwise answer 405 to both. A 405 (POST and the like)
    gets the same ``Allow``."""

    def __init__(self, app, routes: list) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "OPTIONS":
            get = {**scope, "method": "GET"}
            known = any(route.matches(get)[0] == Match.FULL for route in self.routes)
            headers = {"Allow": ALLOW} if known else {}
            await Response(status_code=204 if known else 404, headers=headers)(scope, receive, send)
            return

        async def answer(message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                message = {**message, "headers": [*kept, (b"allow", ALLOW.encode())]}
            elif message["type"] == "http.response.body" and method == "HEAD":
                message = {**message, "body": b""}
            await send(message)

        inner = {**scope, "method": "GET"} if method == "HEAD" else scope
        await self.app(inner, receive, answer)


def _query(params: dict, **override) -> str:
    """A query string of the filters that are set, with ``override`` applied."""
    merged = {k: v for k, v in {**params, **override}.items() if v not in (None, "")}
    return urlencode({k: str(v) for k, v in merged.items()})


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _points(rows: list[dict], key: str) -> list[tuple[dt.date, float | None]]:
    return [(dt.date.fromisoformat(r["as_of"]), r[key]) for r in rows]


def _reach(as_of: str, values: list[float]) -> list[tuple[dt.date, float]]:
    start = dt.date.fromisoformat(as_of)
    return [(start + dt.timedelta(days=i), v) for i, v in enumerate(values)]  # day 0 = as-of

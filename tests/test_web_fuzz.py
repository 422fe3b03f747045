"""The JSON API fuzzed from its own OpenAPI schema (schemathesis): every generated request,
valid or not, gets a documented status, never a 5xx, and a body the schema describes.

Part of the hostile corpus that keeps the issue-13 defects fixed (defect 4): undocumented
404s and 422s, an empty date the schema did not allow, ``kind`` free in the schema but an
enum in the code, and responses typed as "any object". Bounded: a few examples per route,
over the in-process ASGI app (no socket), well under a minute in all.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from vigil.web.app import create_app
from vigil.web.data import Dashboard
from vigil.web.work import Computations

pytestmark = pytest.mark.slow
HOST = "testserver"  # what schemathesis' ASGI client sends as Host


@pytest.fixture(scope="module")
def dashboard(web_store):
    # a long wait: the fuzzer asks for cold timelines one after another, and a 503 (busy)
    # is a server error to it; the bound itself is tested in test_hostile_web.py
    dash = Dashboard(
        web_store["db"],
        data_dir=web_store["data"],
        briefings=web_store["briefings"],
        work=Computations(wait_s=120),
    )
    yield dash
    dash.close()


@pytest.fixture(scope="module")
def api_schema(dashboard):
    app = create_app(dashboard, [HOST], warm=False)  # no background work under the fuzzer
    return schemathesis.openapi.from_asgi("/api/openapi.json", app)


ROUTES = [
    "/api/health", "/api/overview", "/api/assessments", "/api/assessments/{as_of}",
    "/api/changes", "/api/sets/{set_id}/history", "/api/sets/{set_id}/ach", "/api/indicators",
    "/api/indicators/{indicator}/timeline", "/api/evidence", "/api/map/events",
    "/api/capability", "/api/simulation", "/api/briefings", "/api/alerts",
]  # fmt: skip
POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
#: routes with a parameter that can be invalid (a set id or an indicator is any text)
NEGATIVE_ROUTES = [
    "/api/assessments/{as_of}", "/api/changes", "/api/sets/{set_id}/ach",
    "/api/indicators/{indicator}/timeline", "/api/evidence", "/api/map/events",
]  # fmt: skip
CASES = [(r, POSITIVE) for r in ROUTES] + [(r, NEGATIVE) for r in NEGATIVE_ROUTES]
EXAMPLES = {"/api/indicators/{indicator}/timeline": 6}  # each cold one costs about a second


def test_the_fuzzed_routes_are_the_schema(api_schema) -> None:
    assert sorted(api_schema.raw_schema["paths"]) == sorted(ROUTES)


# schemathesis.pytest.from_fixture would parametrize by itself, but 4.32 sets a node attribute
# pytest 9 no longer has; so each route and mode is a case here, driven through Hypothesis
@pytest.mark.parametrize(("route", "mode"), CASES, ids=[f"{r}-{m}" for r, m in CASES])
def test_api_honours_its_schema(api_schema, route, mode) -> None:
    operation = api_schema[route]["GET"]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES.get(route, 10),
        deadline=None,  # a cold timeline takes a second or two; max_examples is the bound
        derandomize=True,  # the same cases every run: a failure is reproducible
        suppress_health_check=list(HealthCheck),
        database=None,  # nothing written to .hypothesis/ by the suite
    )
    def check(case) -> None:
        case.call_and_validate()

    check()

"""Shared fixtures: an in-memory store, the real data folder, and a local HTTP server."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from vigil import sources
from vigil.ingest import ingest_file
from vigil.sources.http import Fetcher
from vigil.store import connect

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _shared_data() -> Path:
    return Path(os.environ.get("VIGIL_DATA") or ROOT.parent / "shared" / "data").resolve()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch) -> None:
    """Tests see defaults, whatever VIGIL_*/credential variables the developer exported."""
    for name in list(os.environ):
        if name.startswith("VIGIL_") and name != "VIGIL_DATA":
            monkeypatch.delenv(name)
    for name in ("ACLED_USERNAME", "ACLED_PASSWORD", "UCDP_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def con():
    """A fresh, migrated in-memory store."""
    connection = connect(":memory:")
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder (``../shared/data``); tests that need it fail loudly if absent."""
    path = _shared_data()
    if not path.is_dir():
        pytest.fail(f"real data folder {path} is missing: set VIGIL_DATA or check out shared/")
    return path


FILES = {
    "cir": "cir_russia_ukraine_monitor_2022/events.csv.gz",
    "frontex": "frontex_irregular_border_crossings/"
    "frontex_ibc_monthly_route_nationality_2009-01_2025-04.csv",
    "gpr": "geopolitical_risk_gpr/gpr_daily_1985_to_2025-10-20.csv",
}


@pytest.fixture(scope="session")
def real_store(tmp_path_factory, shared_data: Path) -> Path:
    """A file store of real CIR, Frontex, GPR and RSS data, built once per test session."""
    db = tmp_path_factory.mktemp("real_store") / "v.duckdb"
    con = connect(db)
    for source, rel in FILES.items():
        ingest_file(con, sources.get(source), shared_data / rel)
    rss = shared_data / "news_rss_headlines_2021_2023"
    for path in sorted(rss.iterdir()):
        if path.suffix in (".parquet", ".gz"):
            ingest_file(con, sources.get("rss"), path)
    con.close()
    return db


@pytest.fixture(scope="session")
def forecast_store(tmp_path_factory, shared_data: Path) -> Path:
    """A file store of ACLED country-month counts, GPR monthly and Frontex (the forecaster)."""
    db = tmp_path_factory.mktemp("forecast_store") / "v.duckdb"
    con = connect(db)
    files = {
        "acled": "acled_aggregates/"
        "acled_political_violence_events_country_month_asof_2025-12-12.csv",
        "gpr": "geopolitical_risk_gpr/gpr_monthly_export_to_2024-07.csv",
        "frontex": FILES["frontex"],
    }
    for source, rel in files.items():
        ingest_file(con, sources.get(source), shared_data / rel)
    con.close()
    return db


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)


class LocalServer:
    """Routes: path (without query) → list of Replies, served in order; the last repeats.

    ``requests`` records (method, path-with-query, headers, body) for assertions.
    """

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, path: str, *replies: Reply) -> None:
        self.routes[path] = list(replies)

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                server.requests.append((self.command, self.path, dict(self.headers), body))
                replies = server.routes.get(self.path.split("?", 1)[0])
                if not replies:
                    reply = Reply(404, b"not found")
                else:
                    reply = replies.pop(0) if len(replies) > 1 else replies[0]
                data = reply.body.encode() if isinstance(reply.body, str) else reply.body
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve  # noqa: N815 - http.server's naming

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        return Handler


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    """A loopback HTTP server; tests register routes and replies."""
    server = LocalServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def fetcher(tmp_path: Path) -> Fetcher:
    """A Fetcher with a temporary cache that records back-off waits instead of sleeping."""
    waits: list[float] = []
    f = Fetcher(tmp_path / "cache", sleep=waits.append, retries=3, backoff=0.5)
    f.waits = waits  # type: ignore[attr-defined]
    return f


#: hostile text from a "source": it must stay inert on every page and in every API answer
HOSTILE_TITLE = (
    "Belarus troops massing near Ukraine border <script>alert('xss')</script>"
    '<img src=x onerror="alert(1)"> {{7*7}}'
)
HOSTILE_URL = "javascript:alert(document.cookie)"


@pytest.fixture(scope="session")
def web_store(real_store, shared_data: Path, tmp_path_factory) -> dict[str, Path]:
    """A copy of the real store with a hostile headline and event, claimed losses, assessments
    stored by `vigil replay` on three dates and a briefing from `vigil brief`: what `vigil
    serve` shows."""
    from typer.testing import CliRunner

    from vigil.cli import app

    root = tmp_path_factory.mktemp("web")
    db = root / "v.duckdb"
    shutil.copyfile(real_store, db)
    con = connect(db)
    for table in ("assessment_contributions", "assessments"):  # other tests' assessments
        con.execute(f"DELETE FROM {table}")
    _insert_hostile(con)
    # a capability series (claimed personnel losses) for the overview's "where the war stands"
    losses = shared_data / "ukraine_war_losses" / "petroivaniuk_russia_losses_personnel.json"
    ingest_file(con, sources.get("losses"), losses)
    con.close()
    runner = CliRunner()
    common = ["--db", str(db), "--data", str(shared_data)]
    for args in (
        ["replay", "--from", "2022-01-19", "--to", "2022-02-16", "--step", "14", "--out",
         str(root / "out")],
        ["brief", "--as-of", "2022-02-16", "--out", str(root / "briefings"), "--no-pdf"],
    ):  # fmt: skip
        result = runner.invoke(app, [*args, *common])
        assert result.exit_code == 0, result.output
    return {"db": db, "briefings": root / "briefings", "data": shared_data}


def _insert_hostile(con) -> None:
    """One RSS headline and one geolocated CIR event carrying hostile text and a link."""
    prov = "TIMESTAMP '2022-02-10 12:00:00', 'test', ?, 'raw', 'md5', 0"
    con.execute(
        "INSERT INTO documents (source, source_id, published_at, doc_type, title, body, "
        "language, outlet, available_at, available_basis, url, raw, record_hash, batch_id) "
        f"VALUES ('rss', 'hostile-1', TIMESTAMP '2022-02-10 09:00:00', 'news', ?, ?, 'en', "
        f"'evil.example', {prov})",
        [HOSTILE_TITLE, HOSTILE_TITLE, HOSTILE_URL],
    )
    con.execute(
        "INSERT INTO events (source, source_id, occurred_on, occurred_until, category, "
        "country, location, latitude, longitude, summary, available_at, available_basis, url, "
        f"raw, record_hash, batch_id) VALUES ('cir', 'hostile-1', DATE '2022-02-10', "
        f"DATE '2022-02-10', 'other', 'BLR', ?, 53.9, 27.56, ?, {prov})",
        [HOSTILE_TITLE, HOSTILE_TITLE, HOSTILE_URL],
    )


@pytest.fixture(scope="session")
def web_server(web_store) -> Iterator[str]:
    """`vigil serve`'s app on a free loopback port, in a thread; yields its base URL."""
    from served import serving
    from vigil.web.app import create_app
    from vigil.web.data import Dashboard

    dash = Dashboard(web_store["db"], data_dir=web_store["data"], briefings=web_store["briefings"])
    with serving(create_app(dash)) as base:
        yield base
    dash.close()

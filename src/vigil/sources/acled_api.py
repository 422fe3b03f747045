"""ACLED's live API: OAuth token, paged reads per country and month, deletions list.

What the API returns is written to the cache as CSV files in the export's own column
layout (``acled_events_<country>_<from>_<to>.csv``, ``acled_deleted_since_<unix>.csv``),
so API pages and downloaded exports go through the same readers and the same checks.
Pitfalls handled here (SOURCES.md §4.2):

* since May 2026 ``count``/``total_count`` are not returned, so paging stops on a short
  or empty page, never on a total;
* large unfiltered calls come back empty, so requests are split by country and month;
* an authenticated account without API access can get 0 rows, so a window that returned
  rows before and 0 now is an error, not "no events";
* events are deleted upstream: the deletions list becomes tombstones;
* a run's files can be written but never ingested (the ingest, or an earlier batch,
  fails), while the deletions watermark has already moved on: so every run also
  returns the events-window and deletions files already in the cache (deletions last).
  Re-offering is idempotent: the ingest skips a file whose checksum is already loaded.
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
from calendar import monthrange
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from vigil.errors import FetchError, InputError
from vigil.sources.http import Fetched, Fetcher

BASE_URL = "https://acleddata.com"
TOKEN_PATH = "/oauth/token"
READ_PATH = "/api/acled/read"
DELETED_PATH = "/api/deleted/read"
DEFAULT_COUNTRIES = "Ukraine,Belarus,Poland,Lithuania,Latvia,Russia"
PAGE_LIMIT = "5000"  # the API's own maximum page size
# A larger --option limit is clamped to PAGE_LIMIT: the server caps every page at 5000 rows,
# and paging stops on the first page shorter than `limit`, so a larger limit would end the
# read after the first (capped) page and silently drop the rest of the window.
MAX_PAGES = 1000  # 5 M rows per country-month: only a server ignoring `page` gets here
# Deletions are re-requested from a day before the last run: tombstones are idempotent,
# and the overlap covers clock skew and deletions stamped while that run was paging.
DELETION_OVERLAP_S = 86_400
STATE_FILE = "deleted_watermark.txt"
ENV_USER, ENV_PASSWORD = "ACLED_USERNAME", "ACLED_PASSWORD"
CREDENTIAL_HINT = (
    f"check {ENV_USER} and {ENV_PASSWORD} (your acleddata.com login); a valid login still "
    "needs an account tier that includes API access"
)

EVENT_COLUMNS = (
    "event_id_cnty",
    "event_date",
    "year",
    "time_precision",
    "disorder_type",
    "event_type",
    "sub_event_type",
    "actor1",
    "assoc_actor_1",
    "inter1",
    "actor2",
    "assoc_actor_2",
    "inter2",
    "interaction",
    "civilian_targeting",
    "iso",
    "region",
    "country",
    "admin1",
    "admin2",
    "admin3",
    "location",
    "latitude",
    "longitude",
    "geo_precision",
    "source",
    "source_scale",
    "notes",
    "fatalities",
    "tags",
    "timestamp",
)
DELETED_COLUMNS = ("event_id_cnty", "deleted_timestamp")


def fetch(fetcher: Fetcher, source: str, options: dict[str, str]) -> list[Fetched]:
    """Fetch every country × month window and the deletions; return the files to ingest."""
    started = int(time.time())
    base = options.get("base_url", BASE_URL).rstrip("/")
    limit = min(_positive_int(options.get("limit") or PAGE_LIMIT, "limit"), int(PAGE_LIMIT))
    until = _day(options.get("until"), "until") or datetime.now(UTC).date()
    since = _day(options.get("since"), "since") or _first_of_previous_month(until)
    if since > until:
        raise InputError(f"since {since} is after until {until}", "swap or fix the dates")
    names = [c.strip() for c in (options.get("countries") or DEFAULT_COUNTRIES).split(",")]
    headers = {"Authorization": f"Bearer {_token(fetcher, base)}"}
    cache = fetcher.cache_dir / source
    out: list[Fetched] = []
    for country in filter(None, names):
        for start, end in month_windows(since, until):
            params = {
                "_format": "json",
                "country": country,
                "event_date": f"{start}|{end}",
                "event_date_where": "BETWEEN",
            }
            rows = read_pages(fetcher, base + READ_PATH, params, headers, limit)
            target = cache / f"acled_events_{_slug(country)}_{start}_{end}.csv"
            if not rows:
                _check_not_vanished(target, country, start, end)
                continue
            write_csv(target, rows, EVENT_COLUMNS)
            out.append(Fetched(target, _url(base + READ_PATH, params)))
    watermark = _watermark(options, cache, since)
    params = {
        "_format": "json",
        "deleted_timestamp": str(watermark),
        "deleted_timestamp_where": ">=",
    }
    deleted = read_pages(fetcher, base + DELETED_PATH, params, headers, limit)
    if deleted:
        target = cache / f"acled_deleted_since_{watermark}.csv"
        write_csv(target, deleted, DELETED_COLUMNS)
        out.append(Fetched(target, _url(base + DELETED_PATH, params)))
    # Recorded only once everything succeeded, so a failed run is retried from the old mark.
    cache.mkdir(parents=True, exist_ok=True)
    (cache / STATE_FILE).write_text(f"{started}\n", encoding="utf-8")
    return with_cached(out, cache)


def with_cached(out: list[Fetched], cache: Path) -> list[Fetched]:
    """``out`` plus every events-window and deletions file already in ``cache``.

    The watermark moves on when the fetch succeeds, before anything is ingested; a run
    whose ingest failed would otherwise orphan its deletions file for good. Events files
    come first and deletions last (oldest watermark first), so a deletion is never undone
    by an events file loaded after it.
    """
    returned = {f.path for f in out}
    extra = [
        Fetched(path, path.resolve().as_uri())
        for pattern in ("acled_events_*.csv", "acled_deleted_*.csv")
        for path in sorted(cache.glob(pattern))
        if path.is_file() and path not in returned
    ]
    files = out + extra
    deleted = [f for f in files if f.path.name.startswith("acled_deleted_")]
    events = [f for f in files if not f.path.name.startswith("acled_deleted_")]
    return events + sorted(deleted, key=lambda f: _deleted_order(f.path))


def _deleted_order(path: Path) -> tuple[int, str]:
    """Deletions files by their watermark (``acled_deleted_since_<unix>.csv``), then name."""
    match = re.search(r"(\d+)\.csv$", path.name)
    return (int(match.group(1)) if match else -1, path.name)


def _token(fetcher: Fetcher, base: str) -> str:
    """An access token from the OAuth password grant (credentials from the environment)."""
    username, password = os.environ.get(ENV_USER), os.environ.get(ENV_PASSWORD)
    if not username or not password:
        missing = [n for n, v in ((ENV_USER, username), (ENV_PASSWORD, password)) if not v]
        raise FetchError(
            f"ACLED live fetch needs {' and '.join(missing)} set",
            f"export {ENV_USER}=<your acleddata.com login e-mail> and "
            f"{ENV_PASSWORD}=<its password>",
        )
    form = {
        "username": username,
        "password": password,
        "grant_type": "password",
        "client_id": "acled",
        "scope": "authenticated",
    }
    url = base + TOKEN_PATH
    reply = _call(fetcher, "POST", url, data=form)
    token = reply.get("access_token") if isinstance(reply, dict) else None
    if not isinstance(token, str) or not token:
        raise FetchError(f"POST {url}: the reply has no access_token", CREDENTIAL_HINT)
    return token


def read_pages(
    fetcher: Fetcher, url: str, params: dict[str, str], headers: dict[str, str], limit: int
) -> list[dict[str, Any]]:
    """All rows of one query, page by page until a page has fewer than ``limit`` rows."""
    limit = min(limit, int(PAGE_LIMIT))  # a larger page is capped by the server
    rows: list[dict[str, Any]] = []
    previous: list[dict[str, Any]] | None = None
    for page in range(1, MAX_PAGES + 1):
        query = {**params, "limit": str(limit), "page": str(page)}
        data = _rows(_call(fetcher, "GET", url, params=query, headers=headers), url)
        if data and data == previous:
            # A server that ignores `page` would otherwise be paged forever.
            raise FetchError(
                f"GET {url}: page {page} repeats page {page - 1}",
                "the API ignored the page parameter; report it and retry later",
            )
        rows.extend(data)
        if len(data) < limit:
            return rows
        previous = data
    raise FetchError(
        f"GET {url}: more than {MAX_PAGES} pages of {limit} rows",
        "narrow the request with --option since=… / until=…",
    )


def _call(fetcher: Fetcher, method: str, url: str, **kwargs: Any) -> Any:
    """One request through the fetcher's retries, with ACLED's credential hint on 401/403."""
    try:
        response = fetcher.request(method, url, **kwargs)
    except FetchError as exc:
        # The fetcher puts the status only in its message; 401/403 need ACLED's variables.
        if re.search(r"HTTP 40[13]\b", exc.message):
            raise FetchError(exc.message, CREDENTIAL_HINT) from exc
        raise
    try:
        return response.json()
    except ValueError as exc:
        raise FetchError(
            f"{method} {url}: the reply is not JSON ({exc})",
            "the service may be down or the base URL wrong",
        ) from exc


def _rows(reply: Any, url: str) -> list[dict[str, Any]]:
    """The ``data`` list of a read reply, or a FetchError quoting what came instead."""
    if isinstance(reply, dict) and reply.get("success") is False:
        error = reply.get("error") or reply.get("message") or reply
        raise FetchError(
            f"GET {url}: ACLED refused the request: {str(error)[:200]}", CREDENTIAL_HINT
        )
    data = reply.get("data") if isinstance(reply, dict) else None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise FetchError(
            f"GET {url}: the reply has no 'data' list of rows: {str(reply)[:200]}",
            "the API format may have changed; check the base URL",
        )
    return data


def _check_not_vanished(target: Path, country: str, start: date, end: date) -> None:
    """0 rows for a window that had rows before means lost access, not a quiet month."""
    if not target.exists():
        return
    with target.open(encoding="utf-8", newline="") as fh:
        before = sum(1 for _ in csv.reader(fh)) - 1
    if before > 0:
        raise FetchError(
            f"ACLED returned 0 events for {country} {start}..{end}, but an earlier fetch "
            f"returned {before} ({target})",
            "the account may have lost API access or the API failed silently; the cached "
            "file was kept; check the account and run the command again later",
        )


def write_csv(target: Path, rows: list[dict[str, Any]], columns: tuple | list) -> None:
    """Rows as CSV: the known columns in order, then any others sorted (deterministic)."""
    extra = sorted({k for row in rows for k in row} - set(columns))
    names = [c for c in columns if any(c in row for row in rows)] + extra
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow(["" if row.get(n) is None else str(row[n]) for n in names])
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    part.write_text(buffer.getvalue(), encoding="utf-8")
    part.replace(target)


def month_windows(since: date, until: date) -> Iterator[tuple[date, date]]:
    """Calendar months covering since..until, clipped at both ends."""
    start = since
    while start <= until:
        end = date(start.year, start.month, monthrange(start.year, start.month)[1])
        yield start, min(end, until)
        start = end + timedelta(days=1)


def _watermark(options: dict[str, str], cache: Path, since: date) -> int:
    """Unix time from which to list deletions: option, else last run minus overlap, else since."""
    if options.get("deleted_since"):
        return _positive_int(options["deleted_since"], "deleted_since")
    state = cache / STATE_FILE
    if state.exists():
        text = state.read_text(encoding="utf-8").strip()
        if text.isdigit():
            return max(int(text) - DELETION_OVERLAP_S, 0)
    return int(datetime(since.year, since.month, since.day, tzinfo=UTC).timestamp())


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{name} {value!r} is not a date", "use YYYY-MM-DD") from None


def _positive_int(value: str, name: str) -> int:
    if not str(value).strip().isdigit() or int(value) <= 0:
        raise InputError(
            f"{name} {value!r} is not a positive integer", f"give --option {name}=<a whole number>"
        )
    return int(value)


def _first_of_previous_month(day: date) -> date:
    first = day.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "all"


def _url(url: str, params: dict[str, str]) -> str:
    return url + "?" + "&".join(f"{k}={v}" for k, v in params.items())

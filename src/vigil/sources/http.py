"""Live downloads: a local cache, published checksums, retries with back-off, clear errors.

One :class:`Fetcher` serves every adapter. Files are written to ``<cache>/<source>/``
through a ``.part`` file renamed only after the checksum matched, so the cache never
holds a half-written or corrupt file. Tests point adapters at a local HTTP server.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from vigil import __version__
from vigil.errors import ChecksumError, FetchError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Fetched:
    """A file now in the cache, with the URL it came from and its published MD5 if any."""

    path: Path
    url: str
    md5: str | None = None


class Fetcher:
    """HTTP client with caching and retries. ``sleep`` is injectable so tests need not wait."""

    def __init__(
        self,
        cache_dir: str | Path,
        *,
        client: httpx.Client | None = None,
        retries: int = 4,
        backoff: float = 1.0,
        max_wait: float = 60.0,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.client = client or httpx.Client(
            timeout=timeout,
            follow_redirects=True,
            headers={"User-Agent": f"vigil/{__version__} (+early-warning research)"},
        )
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.sleep = sleep
        #: problems that did not stop the fetch (one feed of several failing): the CLI
        #: prints them after loading what did arrive
        self.warnings: list[str] = []

    def request(
        self, method: str, url: str, *, retry_on: frozenset[int] = RETRY_STATUSES, **kwargs: Any
    ) -> httpx.Response:
        """Send a request, retrying transport errors and ``retry_on`` statuses with back-off.

        The wait doubles each attempt (``backoff``, 2×, 4×…) unless the server sends
        ``Retry-After``, which is honoured up to ``max_wait`` seconds.
        """
        last = ""
        for attempt in range(self.retries + 1):
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
                response = None
            if response is not None:
                if response.status_code < 400:
                    return response
                last = f"HTTP {response.status_code}"
                if response.status_code not in retry_on:
                    raise FetchError(
                        f"{method} {url} failed: {last}{_detail(response)}",
                        _status_hint(response.status_code),
                    )
            if attempt < self.retries:
                self.sleep(self._wait(response, attempt))
        raise FetchError(
            f"{method} {url} failed after {self.retries + 1} attempts: {last}",
            "the server is unavailable or rate-limiting; try again later",
        )

    def _wait(self, response: httpx.Response | None, attempt: int) -> float:
        if response is not None and "retry-after" in response.headers:
            try:
                wait = float(response.headers["retry-after"])
            except ValueError:
                wait = math.nan
            if math.isfinite(wait):  # a hostile or broken header must not crash or stall us
                return min(max(wait, 0.0), self.max_wait)
        return min(self.backoff * 2**attempt, self.max_wait)

    def get_text(self, url: str, **kwargs: Any) -> str:
        """A small text resource (an index file), always fetched fresh."""
        return self.request("GET", url, **kwargs).text

    def get_json(self, url: str, **kwargs: Any) -> Any:
        response = self.request("GET", url, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise FetchError(
                f"GET {url}: the reply is not JSON ({exc})",
                "the service may be down or the URL wrong",
            ) from exc

    def download(
        self,
        url: str,
        source: str,
        *,
        md5: str | None = None,
        size: int | None = None,
        name: str | None = None,
        refresh: bool = False,
    ) -> Fetched:
        """Fetch ``url`` into the cache; verify ``md5``/``size`` when the source publishes them.

        A cached copy whose checksum still matches is reused without a request
        (``refresh`` forces one — for files that change under the same name).
        """
        target = self.cache_dir / source / (name or url.rstrip("/").rsplit("/", 1)[-1])
        if target.exists() and not refresh and (md5 is None or _md5(target) == md5.lower()):
            return Fetched(target, url, md5)
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        response = self.request("GET", url)
        part.write_bytes(response.content)
        got_size = part.stat().st_size
        if size is not None and got_size != size:
            part.unlink()
            raise ChecksumError(
                f"{url}: size mismatch: expected {size} bytes, got {got_size}",
                "the download was cut short or the file changed; run the command again",
            )
        if md5 is not None and (got := _md5(part)) != md5.lower():
            part.unlink()
            raise ChecksumError(
                f"{url}: checksum mismatch: published MD5 {md5}, downloaded file has {got}",
                "the download is corrupt or the file changed upstream; nothing was loaded, "
                "run the command again later",
            )
        part.replace(target)
        return Fetched(target, url, md5)


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _detail(response: httpx.Response) -> str:
    text = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
    return f" ({text})" if text else ""


def _status_hint(status: int) -> str:
    if status in (401, 403):
        return "check the credentials (see `vigil sources` for the variables each source needs)"
    if status == 404:
        return "the URL does not exist (yet); check the date range or the base URL"
    return "check the URL and options"

"""Where alerts go: sinks the user configures in a YAML file (``sinks.yaml``, docs/ALERTS.md).

Four kinds: ``stdout`` (one line per alert), ``jsonl`` (one JSON line per alert appended to a
file), ``webhook`` (a JSON POST) and ``smtp`` (an e-mail). Each sink's :meth:`send` delivers
one alert or raises; :mod:`vigil.alerts.deliver` records the outcome and retries later, so a
sink never has to remember anything itself.

Secrets never go in the file: an SMTP login names the environment variables that hold it,
and a webhook's extra headers may be read from environment variables the same way.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import os
import smtplib
import ssl
import stat
import sys
import threading
import time
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from vigil import __version__
from vigil.alerts.files import load_items
from vigil.display import neutralise
from vigil.errors import InputError

if TYPE_CHECKING:
    from vigil.alerts.evaluate import Alert

DOC = "docs/ALERTS.md"
#: HTTP statuses worth one more try: the server is busy or briefly broken
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: keys that would put a secret in the file
_SECRET_KEYS = {"password", "pass", "secret", "token", "api_key"}


class SinkError(Exception):
    """A delivery that failed (the message is stored as the delivery's last error)."""


def not_bool(value):
    """Refuse ``true``/``false`` where a number is meant (pydantic would read it as 1/0)."""
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is not a number")
    return value


#: a number, never a boolean
Number = BeforeValidator(not_bool)


class _Sink(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: the name deliveries are recorded under (default: the kind); unique in the file
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data):
        if isinstance(data, dict):
            for key in _SECRET_KEYS & set(data):
                raise ValueError(
                    f"{key}: a secret never goes in the file; name the environment variable "
                    f"that holds it (e.g. password_env: VIGIL_SMTP_PASSWORD)"
                )
        return data

    @property
    def label(self) -> str:
        return self.name or self.kind  # type: ignore[attr-defined]


class StdoutSink(_Sink):
    """One line per alert on standard output (for a terminal or a service's log)."""

    kind: Literal["stdout"]

    def send(self, alert: Alert, *, base: Path, sleep=time.sleep) -> None:
        line = f"ALERT {alert.as_of} {alert.theatre} [{alert.rule}] {alert.message}"
        # source text may carry terminal escapes or bidi overrides: shown, never obeyed
        sys.stdout.write(neutralise(line).replace("\n", "\\n") + "\n")
        sys.stdout.flush()


class JsonlSink(_Sink):
    """One JSON object per line, appended to ``path`` (relative to the sinks file)."""

    kind: Literal["jsonl"]
    path: str

    def send(self, alert: Alert, *, base: Path, sleep=time.sleep) -> None:
        append_line(base / self.path, json.dumps(alert.to_dict(), ensure_ascii=False))


def check_jsonl_path(path: str, base: Path) -> str | None:
    """Why ``path`` (relative to ``base``) cannot take JSON lines, or None: empty, or an
    existing thing that is not a regular file (a folder, a FIFO that would block the
    writer, a device)."""
    if not path.strip():
        return "is empty"
    try:
        mode = os.stat(base / path).st_mode
    except FileNotFoundError:
        return None  # created on the first delivery
    except OSError as exc:
        return f"cannot be checked ({exc.strerror})"
    if stat.S_ISREG(mode):
        return None
    return "is a folder" if stat.S_ISDIR(mode) else f"is {_kind(mode)}, not a regular file"


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):  # fmt: skip
        if test(mode):
            return name
    return "not a plain file"


def append_line(path: Path, line: str) -> None:
    """Append ``line`` to ``path`` whole: one write of the full line with O_APPEND (so
    concurrent writers do not interleave), then fsync (so a crash after a successful
    delivery cannot lose it). If an earlier crash left a partial last line, a newline first
    ends it, so the new line is never glued to it.

    Only a regular file is written: the open never waits (``O_NONBLOCK``: a FIFO without a
    reader would block it forever) and the opened file is checked (``fstat``) before any
    write, so a FIFO or device put there after the sinks were loaded fails the delivery."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (line.replace("\n", "\\n") + "\n").encode()
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        raise SinkError(f"{path}: cannot open it for appending ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            what = "a folder" if stat.S_ISDIR(st.st_mode) else _kind(st.st_mode)
            raise SinkError(f"{path}: is {what}, not a regular file; give a file path")
        size = st.st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        written = os.write(fd, data)
        if written != len(data):  # a full disk: say so rather than leave half a line
            raise SinkError(f"{path}: only {written} of {len(data)} bytes written")
        os.fsync(fd)
    finally:
        os.close(fd)


class WebhookSink(_Sink):
    """A JSON POST of the alert to ``url``; one retry on 429 or 5xx, after the server's
    Retry-After (capped at ``max_wait`` seconds) or 1 second.

    ``timeout`` bounds each POST as a whole (connecting, sending, the answer to its last
    byte), not each read: a server trickling its answer fails the delivery at the deadline.
    The URL may hold a secret in its path or query (a Slack-style hook): errors name it as
    ``scheme://host`` only. Credentials in it (``user:pass@``) are refused: they go in
    ``headers_env``."""

    kind: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    timeout: Annotated[float, Number] = Field(default=10.0, gt=0, le=300)
    max_wait: Annotated[float, Number] = Field(default=30.0, ge=0, le=600)
    #: header name → environment variable holding its value (e.g. an Authorization token)
    headers_env: dict[str, str] = {}

    @field_validator("url")
    @classmethod
    def _no_credentials(cls, value: str) -> str:
        try:
            parts = urlsplit(value)
            host = parts.hostname
        except ValueError:
            raise ValueError("not a valid URL") from None
        if "@" in parts.netloc:
            raise ValueError(
                "credentials in the URL (user:password@) are refused: a secret never goes in "
                "the file; send them in a header read from an environment variable "
                "(headers_env: {Authorization: VIGIL_HOOK_AUTH})"
            )
        if not host:
            raise ValueError("the URL names no host")
        return value

    @property
    def site(self) -> str:
        """The URL as errors and logs name it: ``scheme://host[:port]``, never its path or
        query (where a hook's secret often is)."""
        return safe_url(self.url)

    def send(self, alert: Alert, *, base: Path, sleep=time.sleep) -> None:
        headers = {"User-Agent": f"vigil/{__version__}"}
        headers |= {h: _env(var, f"webhook {self.label}") for h, var in self.headers_env.items()}
        body = alert.to_dict()
        for attempt in (1, 2):
            status, retry = post_within(self.url, body, headers, self.timeout)
            if 200 <= status < 300:
                return
            if status in RETRY_STATUSES and attempt == 1:
                sleep(retry_after(retry, self.max_wait))
                continue
            raise SinkError(f"POST {self.site}: HTTP {status}")


def safe_url(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: no user info, path, query or fragment."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "?", parts.port
    except ValueError:
        return "(invalid URL)"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}"


def _scrub(text: str, url: str) -> str:
    """``text`` without ``url`` or its path and query (an exception may quote them)."""
    parts = urlsplit(url)
    secret = [url, parts.path + (f"?{parts.query}" if parts.query else ""), parts.path,
              parts.query]  # fmt: skip
    for s in sorted((s for s in secret if len(s) > 1), key=len, reverse=True):
        text = text.replace(s, safe_url(url) if s == url else "…")
    return text


def post_within(url: str, body: dict, headers: dict, timeout: float) -> tuple[int, str | None]:
    """POST ``body`` as JSON to ``url`` and read the whole answer within ``timeout`` seconds
    in all; return its status and Retry-After header. Raises :class:`SinkError` (naming the
    URL as ``scheme://host`` only) on any failure, the deadline included.

    httpx's timeout is per operation (a server sending a byte a second never trips it), so
    the request runs in a worker thread the caller waits on for ``timeout`` at most; at the
    deadline the client is closed, which ends the worker's next read."""
    deadline = time.monotonic() + timeout
    client = httpx.Client(timeout=timeout)
    box: dict = {}

    def work() -> None:
        try:
            with client.stream("POST", url, json=body, headers=headers) as r:
                for _ in r.iter_raw():
                    if time.monotonic() > deadline:
                        return  # the caller has given up already
                box["answer"] = (r.status_code, r.headers.get("retry-after"))
        except Exception as exc:  # handed to the caller
            box["error"] = exc

    worker = threading.Thread(target=work, name="vigil-webhook", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    with contextlib.suppress(Exception):  # best effort: the outcome is decided
        client.close()
    site = safe_url(url)
    if "answer" in box:
        return box["answer"]
    if "error" in box:
        exc = box["error"]
        detail = _scrub(f"{type(exc).__name__}: {exc}", url)
        raise SinkError(f"POST {site}: {detail}")
    raise SinkError(f"POST {site}: no complete answer within {timeout:g} s (timeout)")


def retry_after(value: str | None, cap: float, default: float = 1.0) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), at most ``cap``."""
    if value is None:
        return min(default, cap)
    try:
        wait = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return min(default, cap)
        wait = when.timestamp() - time.time()
    return max(0.0, min(wait, cap))


class SmtpSink(_Sink):
    """An e-mail per alert through an SMTP server (STARTTLS and a login optional; the login
    comes from the environment variables named here)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    kind: Literal["smtp"]
    host: str
    port: Annotated[int, Number] = Field(default=25, ge=1, le=65535)
    sender: str = Field(alias="from", pattern=r"^[^@\s]+@[^@\s]+$")
    to: tuple[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")], ...] = Field(min_length=1)
    starttls: bool = False
    user_env: str | None = None
    password_env: str | None = None
    timeout: Annotated[float, Number] = Field(default=30.0, gt=0, le=300)
    subject_prefix: str = "[Vigil]"

    @model_validator(mode="after")
    def _login_pair(self):
        if (self.user_env is None) != (self.password_env is None):
            raise ValueError("user_env and password_env go together (a login needs both)")
        return self

    def send(self, alert: Alert, *, base: Path, sleep=time.sleep) -> None:
        msg = EmailMessage()
        subject = f"{self.subject_prefix} {alert.theatre}: {alert.message}"
        msg["Subject"] = neutralise(subject).replace("\n", " ")[:200]
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to)
        msg["Date"] = email.utils.formatdate(localtime=False)
        msg["Message-ID"] = f"<{alert.alert_id}@vigil>"
        msg.set_content(
            f"{alert.message}\n\nrule: {alert.rule} ({alert.kind})\nsubject: {alert.subject}\n"
            f"assessment of: {alert.as_of}\nraised at: {alert.raised_at} UTC\n\n"
            "evidence:\n" + json.dumps(alert.evidence, indent=2, ensure_ascii=False, default=str)
        )
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user_env:
                    where = f"smtp sink {self.label}"
                    smtp.login(_env(self.user_env, where), _env(self.password_env, where))
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise SinkError(f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}") from None


def _env(var: str, where: str) -> str:
    value = os.environ.get(var)
    if value is None:
        raise SinkError(f"{where}: environment variable {var} is not set")
    return value


Sink = Annotated[StdoutSink | JsonlSink | WebhookSink | SmtpSink, Field(discriminator="kind")]


class SinksFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sinks: tuple[Sink, ...] = ()


class Sinks(tuple):
    """The configured sinks, and the folder relative paths in them start from."""

    base: Path

    def __new__(cls, sinks=(), base: Path | str = "."):
        obj = super().__new__(cls, sinks)
        obj.base = Path(base)
        return obj


def load_sinks(path: Path | str) -> Sinks:
    """The sinks configured in ``path``; errors name the file, line and key path."""
    path = Path(path)
    where = str(path)
    kinds = {"stdout": StdoutSink, "jsonl": JsonlSink, "webhook": WebhookSink, "smtp": SmtpSink}
    sinks, lines = load_items(path, where, "sinks", kinds, DOC)
    seen: set[str] = set()
    for i, s in enumerate(sinks):
        if s.label in seen:
            raise InputError(
                f"{where}:{lines.get(('sinks', i), '?')}: sinks[{i}].name: {s.label!r} is used "
                "twice",
                "give each sink its own name (deliveries are recorded under it)",
            )
        seen.add(s.label)
        if isinstance(s, JsonlSink):
            why = check_jsonl_path(s.path, path.parent)
            if why is not None:
                line = lines.get(("sinks", i, "path"), lines.get(("sinks", i), "?"))
                raise InputError(
                    f"{where}:{line}: sinks[{i}].path: {s.path!r} {why}",
                    "name a regular file to append JSON lines to (created if missing; "
                    "relative to the sinks file's folder)",
                )
    return Sinks(sinks, path.parent)

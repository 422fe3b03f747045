"""Where alerts go: sinks the user configures in a YAML file (``sinks.yaml``, docs/ALERTS.md).

Four kinds: ``stdout`` (one line per alert), ``jsonl`` (one JSON line per alert appended to a
file), ``webhook`` (a JSON POST) and ``smtp`` (an e-mail). Each sink's :meth:`send` delivers
one alert or raises; :mod:`vigil.alerts.deliver` records the outcome and retries later, so a
sink never has to remember anything itself.

Secrets never go in the file: an SMTP login names the environment variables that hold it,
and a webhook's extra headers may be read from environment variables the same way.
"""

from __future__ import annotations

import email.utils
import json
import os
import smtplib
import ssl
import sys
import time
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

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


def append_line(path: Path, line: str) -> None:
    """Append ``line`` to ``path`` whole: one write of the full line with O_APPEND (so
    concurrent writers do not interleave), then fsync (so a crash after a successful
    delivery cannot lose it). If an earlier crash left a partial last line, a newline first
    ends it, so the new line is never glued to it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (line.replace("\n", "\\n") + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size:
            with open(path, "rb") as fh:
                fh.seek(size - 1)
                if fh.read(1) != b"\n":
                    data = b"\n" + data
        written = os.write(fd, data)
        if written != len(data):  # a full disk: say so rather than leave half a line
            raise SinkError(f"{path}: only {written} of {len(data)} bytes written")
        os.fsync(fd)
    finally:
        os.close(fd)


class WebhookSink(_Sink):
    """A JSON POST of the alert to ``url``; one retry on 429 or 5xx, after the server's
    Retry-After (capped at ``max_wait`` seconds) or 1 second."""

    kind: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    timeout: float = Field(default=10.0, gt=0, le=300)
    max_wait: float = Field(default=30.0, ge=0, le=600)
    #: header name → environment variable holding its value (e.g. an Authorization token)
    headers_env: dict[str, str] = {}

    def send(self, alert: Alert, *, base: Path, sleep=time.sleep) -> None:
        headers = {"User-Agent": f"vigil/{__version__}"}
        headers |= {h: _env(var, f"webhook {self.label}") for h, var in self.headers_env.items()}
        body = alert.to_dict()
        for attempt in (1, 2):
            try:
                r = httpx.post(self.url, json=body, headers=headers, timeout=self.timeout)
            except httpx.HTTPError as exc:
                raise SinkError(f"POST {self.url}: {type(exc).__name__}: {exc}") from None
            if r.is_success:
                return
            if r.status_code in RETRY_STATUSES and attempt == 1:
                sleep(retry_after(r.headers.get("retry-after"), self.max_wait))
                continue
            raise SinkError(f"POST {self.url}: HTTP {r.status_code}")


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
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = Field(alias="from", pattern=r"^[^@\s]+@[^@\s]+$")
    to: tuple[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")], ...] = Field(min_length=1)
    starttls: bool = False
    user_env: str | None = None
    password_env: str | None = None
    timeout: float = Field(default=30.0, gt=0, le=300)
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
    return Sinks(sinks, path.parent)

"""Metadata of an analyst's document: where it comes from, what it may say, how it is checked.

A document is evidence only from the day it could have been read, so ``published`` is
required and a date known only to the month (or year) is stored as the LAST day of that
month (or year): a backtest must never see a report before it existed. Creation dates in
PDF or Word properties are when a file was made, not when the text was published, so they
are never used.

Layers, later overriding earlier: what the file itself says (HTML meta, PDF /Title, Word
title/author), YAML front matter at the top of a .txt/.md file, a sidecar YAML file next to
it (``<filename>.yaml`` or ``<stem>.meta.yaml``), and the caller's overrides (a manifest
entry). Unknown keys are errors: a typo such as ``publshed:`` must not silently do nothing.
"""

from __future__ import annotations

import calendar
import codecs
import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from vigil.errors import InputError
from vigil.yamlload import load_yaml, read_text, suggest

KEYS = (
    "id",
    "title",
    "published",
    "date_basis",
    "outlet",
    "source",
    "url",
    "language",
    "author",
    "reliability",
    "credibility",
    "encoding",
    "sha256",
    "doc_type",
    "notes",
)
PUBLISHED_LINE = "published: YYYY-MM-DD"
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


class DocumentError(InputError):
    """A document file or its metadata cannot be turned into text and metadata."""


@dataclasses.dataclass(frozen=True)
class DocumentMeta:
    """The checked metadata of one document; every field is final (fallbacks applied)."""

    title: str
    published: dt.date
    date_precision: str  # 'day' | 'month' | 'year': how much of ``published`` is known
    date_basis: str | None
    outlet: str | None
    url: str | None
    language: str
    language_detected: bool  # True when guessed from the letters, not stated
    author: str | None
    reliability: str | None  # Admiralty source reliability A–F
    credibility: int | None  # Admiralty information credibility 1–6
    doc_type: str
    id: str | None
    notes: str | None

    def to_dict(self) -> dict:
        """JSON-ready (the date as ISO text), so a loader can store it as it is."""
        out = dataclasses.asdict(self)
        out["published"] = self.published.isoformat()
        return out


def parse_published(value: object) -> tuple[dt.date, str]:
    """``(date, precision)`` from YAML's date, ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``."""
    if isinstance(value, dt.datetime):
        return value.date(), "day"
    if isinstance(value, dt.date):
        return value, "day"
    scalar = isinstance(value, str | int) and not isinstance(value, bool)
    text = str(value).strip() if scalar else ""
    m = _DATE.match(text)
    try:
        if m and m.group(3):
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))), "day"
        if m and m.group(2):
            year, month = int(m.group(1)), int(m.group(2))
            return dt.date(year, month, calendar.monthrange(year, month)[1]), "month"
        if m:
            return dt.date(int(m.group(1)), 12, 31), "year"
    except (ValueError, calendar.IllegalMonthError):
        pass
    raise ValueError(f"{value!r} is not a date: write YYYY-MM-DD, YYYY-MM or YYYY")


def _check_encoding(value: object) -> object:
    if isinstance(value, str):
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"{value!r} is not an encoding Python knows (e.g. cp1251)") from None
    return value


Text = str | None


class MetaModel(BaseModel):
    """Validation of the merged layers; all optional here, ``published`` checked after."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    id: Annotated[str, Field(min_length=1)] | None = None
    title: Text = None
    published: Annotated[tuple[dt.date, str], BeforeValidator(parse_published)] | None = None
    date_basis: Text = None
    outlet: Text = None
    url: Text = None
    language: Annotated[str, Field(pattern=r"^[a-z]{2}$")] | None = None
    author: Text = None
    reliability: Annotated[str, Field(pattern=r"^[A-F]$")] | None = None
    credibility: Annotated[int, Field(ge=1, le=6, strict=True)] | None = None
    encoding: Annotated[str, BeforeValidator(_check_encoding)] | None = None
    sha256: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")] | None = None
    doc_type: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")] = "analysis"
    notes: Text = None


_HINTS = {
    "language": "use a two-letter ISO 639-1 code such as en, ru, uk, pl, be",
    "reliability": "use an Admiralty source-reliability letter A (reliable) to F",
    "credibility": "use an Admiralty credibility number 1 (confirmed) to 6",
    "doc_type": "use one short lower-case word, e.g. analysis, report, statement",
    "sha256": "use the 64 hex digits of `sha256sum <file>`",
}


def check_keys(layer: Mapping[str, object], where: str) -> dict[str, object]:
    """``layer`` with the ``source`` alias renamed to ``outlet``; unknown keys are errors."""
    allowed = ", ".join(KEYS)
    for key in layer:
        if key not in KEYS:
            close = suggest(str(key), KEYS)
            hint = close if close.startswith("did you") else ""
            raise DocumentError(
                f"{where}: unknown metadata key {key!r}" + (f"; {hint}" if hint else ""),
                f"the allowed keys are: {allowed}",
            )
    out = dict(layer)
    if "source" in out:
        if "outlet" in out:
            raise DocumentError(
                f"{where}: both `outlet` and `source` are given", "they mean the same: keep one"
            )
        out["outlet"] = out.pop("source")
    return out


def validate(layer: Mapping[str, object], where: str) -> MetaModel:
    """``layer`` checked on its own, so an error names the one place to fix."""
    return _validate(check_keys(layer, where), dict.fromkeys(layer, where))


def _validate(data: dict[str, object], origin: dict[str, str]) -> MetaModel:
    try:
        return MetaModel.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = str(err["loc"][0]) if err["loc"] else ""
        msg = err["msg"].removeprefix("Value error, ")
        where = origin.get(key, origin.get("source", "metadata"))
        hint = _HINTS.get(key, "fix the value")
        raise DocumentError(f"{where}: {key}: {msg}", hint) from None


def merge(layers: list[tuple[str, Mapping[str, object]]]) -> MetaModel:
    """The layers merged, later over earlier, and validated; errors name the layer's place.

    A later ``published`` without its own ``date_basis`` drops the earlier ``date_basis``:
    the reason given for one date must not be shown as the reason for another.
    """
    data: dict[str, object] = {}
    origin: dict[str, str] = {}
    for where, raw in layers:
        layer = check_keys(raw, where)
        if "published" in layer and "date_basis" not in layer:
            data.pop("date_basis", None)
        data.update(layer)
        origin.update(dict.fromkeys(layer, where))
    return _validate(data, origin)


def load_yaml_mapping(text: str, where: str) -> dict[str, object]:
    """A YAML mapping (empty text gives ``{}``); bad syntax, a key given twice or another
    shape is an error. Dates stay text: YAML itself would crash on ``2025-02-30`` instead
    of letting :func:`parse_published` name the key and the file."""
    data, _ = load_yaml(text, where, error=DocumentError, dates_as_text=True)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DocumentError(
            f"{where}: expected a mapping of metadata keys, got {type(data).__name__}",
            f"write one `key: value` a line, e.g. `{PUBLISHED_LINE}`",
        )
    return {str(k): v for k, v in data.items()}


def find_sidecar(path: Path) -> Path | None:
    """``<filename>.yaml`` or ``<stem>.meta.yaml`` next to ``path``; both at once is an error
    (which one should win would be a guess)."""
    found = [
        p
        for p in (path.with_name(path.name + ".yaml"), path.with_name(path.stem + ".meta.yaml"))
        if p.is_file()
    ]
    if len(found) > 1:
        raise DocumentError(
            f"{path}: two sidecar files, {found[0].name} and {found[1].name}",
            "merge them into one",
        )
    return found[0] if found else None


def read_sidecar(sidecar: Path) -> dict[str, object]:
    text = read_text(sidecar, error=DocumentError, encoding="utf-8-sig")
    return load_yaml_mapping(text, str(sidecar))

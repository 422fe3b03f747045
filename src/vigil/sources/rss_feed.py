"""Live feeds: conditional GET, and RSS 2.0 / RSS 1.0 (RDF) / Atom parsed into item dicts.

XML goes through ``defusedxml`` because feeds are untrusted input: a document that
declares entities (billion laughs, external entities) is refused, not expanded.
Descriptions and titles are HTML fragments in practice (escaped or in CDATA); they are
reduced to text with ``html.parser`` so entities are unescaped and tags dropped.
ETag / Last-Modified of each feed are kept in ``<cache>/rss/feeds_state.json``.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from xml.etree.ElementTree import Element

import defusedxml
import defusedxml.ElementTree as SafeET

from vigil.errors import FetchError
from vigil.files import write_atomic
from vigil.sources.http import Fetched, Fetcher

ATOM = "{http://www.w3.org/2005/Atom}"
RSS1 = "{http://purl.org/rss/1.0/}"
DC = "{http://purl.org/dc/elements/1.1/}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
STATE_FILE = "feeds_state.json"

# expat decodes only these; Polish feeds still ship ISO-8859-2 / windows-1250.
_EXPAT_ENCODINGS = {"utf-8", "utf8", "utf-16", "us-ascii", "ascii", "iso-8859-1", "latin-1"}
_DECLARED = re.compile(rb"""^(\s*<\?xml[^>]*?encoding\s*=\s*["'])([A-Za-z0-9._-]+)(["'])""")


@dataclass
class Feed:
    """One parsed feed document: its format, channel title and language, and items."""

    format: str
    title: str | None
    language: str | None
    items: list[dict] = field(default_factory=list)


def parse_feed(data: bytes, url: str) -> Feed:
    """Parse a feed document fetched from ``url``; FetchError (naming it) if unusable."""
    try:
        root = SafeET.fromstring(_as_expat_encoding(data, url))
    except defusedxml.DefusedXmlException as exc:
        raise FetchError(
            f"{url}: feed refused: the XML declares entities or external references "
            f"({type(exc).__name__})",
            "feeds never need entity declarations; this document may be hostile — "
            "remove the URL from --option feeds",
        ) from exc
    except SafeET.ParseError as exc:
        raise FetchError(
            f"{url}: the feed is not well-formed XML ({exc})",
            "the server may have sent an error page; check the URL in a browser",
        ) from exc
    tag = root.tag
    if tag == "rss":
        channel = root.find("channel")
        if channel is None:
            raise FetchError(f"{url}: RSS document has no <channel>", "check the feed URL")
        lang = _text(channel.find("language")) or _text(channel.find(DC + "language"))
        feed = Feed("rss2", _clean(_text(channel.find("title"))), lang)
        feed.items = [_rss_item(i, lang) for i in channel.findall("item")]
    elif tag == ATOM + "feed":
        lang = root.get(XML_LANG)
        feed = Feed("atom", _clean(_text(root.find(ATOM + "title"))), lang)
        feed.items = [_atom_entry(e, lang) for e in root.findall(ATOM + "entry")]
    elif tag == RDF + "RDF":
        channel = root.find(RSS1 + "channel")
        lang = _text(channel.find(DC + "language")) if channel is not None else None
        title = _text(channel.find(RSS1 + "title")) if channel is not None else None
        feed = Feed("rss1", _clean(title), lang)
        feed.items = [_rdf_item(i, lang) for i in root.findall(RSS1 + "item")]
    else:
        raise FetchError(
            f"{url}: not an RSS or Atom feed (root element <{tag}>)", "check the feed URL"
        )
    return feed


def _as_expat_encoding(data: bytes, url: str) -> bytes:
    """Re-encode a document declaring an encoding expat lacks (ISO-8859-2…) as UTF-8."""
    match = _DECLARED.match(data[:200])
    if not match or match.group(2).decode().lower() in _EXPAT_ENCODINGS:
        return data
    encoding = match.group(2).decode()
    try:
        text = data.decode(encoding)
    except (LookupError, UnicodeDecodeError) as exc:
        raise FetchError(
            f"{url}: cannot decode the feed as its declared {encoding} ({exc})",
            "the feed's encoding declaration is wrong",
        ) from exc
    return _DECLARED.sub(rb"\g<1>utf-8\g<3>", text.encode("utf-8"), count=1)


def _item(guid, link, title, description, date_raw, language) -> dict:
    published = parse_date(date_raw) if date_raw else None
    return {
        "guid": guid or None,
        "link": link or None,
        "title": _clean(title),
        "description": _clean(description),
        "published": published.isoformat().replace("+00:00", "Z") if published else None,
        "published_raw": date_raw or None,
        "language": language or None,
    }


def _rss_item(item: Element, lang: str | None) -> dict:
    guid_el = item.find("guid")
    guid = _text(guid_el)
    link = _text(item.find("link"))
    # A guid is the item's permalink unless it says isPermaLink="false" (RSS 2.0 spec).
    if not link and guid and (guid_el.get("isPermaLink") or "true").lower() != "false":
        link = guid
    description = _text(item.find("description")) or _text(item.find(CONTENT + "encoded"))
    date_raw = _text(item.find("pubDate")) or _text(item.find(DC + "date"))
    return _item(
        guid,
        link,
        _text(item.find("title")),
        description,
        date_raw,
        _text(item.find(DC + "language")) or lang,
    )


def _atom_entry(entry: Element, lang: str | None) -> dict:
    links = [(e.get("rel"), e.get("href")) for e in entry.findall(ATOM + "link") if e.get("href")]
    link = next((h for r, h in links if r in (None, "alternate")), links[0][1] if links else None)
    description = _text(entry.find(ATOM + "summary")) or _text(entry.find(ATOM + "content"))
    # ``published`` is the first release; ``updated`` moves with every edit, so it is
    # only the fallback for feeds that omit ``published``.
    date_raw = _text(entry.find(ATOM + "published")) or _text(entry.find(ATOM + "updated"))
    return _item(
        _text(entry.find(ATOM + "id")),
        link,
        _text(entry.find(ATOM + "title")),
        description,
        date_raw,
        entry.get(XML_LANG) or lang,
    )


def _rdf_item(item: Element, lang: str | None) -> dict:
    return _item(
        item.get(RDF + "about"),
        _text(item.find(RSS1 + "link")),
        _text(item.find(RSS1 + "title")),
        _text(item.find(RSS1 + "description")),
        _text(item.find(DC + "date")),
        _text(item.find(DC + "language")) or lang,
    )


def _text(element: Element | None) -> str | None:
    """Element text including children (Atom xhtml content), stripped; None if empty."""
    if element is None:
        return None
    text = "".join(element.itertext()).strip()
    return text or None


def parse_date(text: str) -> datetime | None:
    """An RFC 822 (RSS) or ISO 8601 (Atom, dc:date) time in UTC; None if unparseable.

    A time without a zone is taken as UTC: RSS requires a zone, so a feed that omits
    it gives no better evidence, and guessing the server's zone would be worse.
    """
    value = text.strip()
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class _TextOnly(HTMLParser):
    """Collects the text of an HTML fragment; block tags become spaces."""

    BLOCK = frozenset(
        {
            "p",
            "br",
            "div",
            "li",
            "ul",
            "ol",
            "tr",
            "td",
            "th",
            "table",
            "blockquote",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "hr",
        }
    )
    SKIP = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCK:
            self.parts.append(" ")

    def handle_data(self, data) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(fragment: str | None) -> str | None:
    """Plain text of an HTML fragment: tags dropped, entities unescaped, spaces collapsed."""
    if not fragment:
        return None
    parser = _TextOnly()
    parser.feed(fragment)
    parser.close()
    text = " ".join("".join(parser.parts).split())
    return text or None


_clean = html_to_text


def outlet_key(url: str) -> str:
    """The feed key the 2021-2023 snapshot uses (``http://a.b/c/d.xml`` → ``http.a.bcd.xml``).

    Live items carry the same key so per-feed series continue across snapshot and live.
    """
    return url.replace("://", ".", 1).replace("/", "").replace("?", ".").replace("=", ".")


# ------------------------------------------------------------- conditional fetch
def _utcnow() -> datetime:
    return datetime.now(UTC)


def fetch_feed(fetcher: Fetcher, url: str, folder: Path, state: dict) -> Fetched | None:
    """GET one feed; on 304 return its last fetch file (the ingest skips it if loaded).

    Returning the previous file rather than nothing means items are never lost when a
    fetch succeeded but its ingest did not: the next 304 hands the file over again.
    """
    prior = state.get(url, {})
    previous = folder / prior["file"] if prior.get("file") else None
    headers = {}
    if previous is not None and previous.exists():
        if prior.get("etag"):
            headers["If-None-Match"] = prior["etag"]
        if prior.get("last_modified"):
            headers["If-Modified-Since"] = prior["last_modified"]
    response = fetcher.request("GET", url, headers=headers)
    if response.status_code == 304:
        if not headers:
            raise FetchError(
                f"{url}: 304 Not Modified to an unconditional request",
                "the server or a proxy misbehaves; try again later",
            )
        return Fetched(previous, url)
    fetched_at = _utcnow()
    feed = parse_feed(response.content, url)
    if not feed.items:
        return None  # nothing to load; no state kept, so the next run asks afresh
    key = outlet_key(url)
    slug = "".join(c if c.isalnum() or c in "._-" else "_" for c in key)[:80]
    digest = hashlib.md5(url.encode(), usedforsecurity=False).hexdigest()[:8]
    name = f"{slug}-{digest}-{fetched_at.strftime('%Y%m%dT%H%M%S.%fZ')}.rss.jsonl"
    header = {
        "feed_url": url,
        "fetched_at": fetched_at.isoformat(),
        "format": feed.format,
        "title": feed.title,
        "language": feed.language,
        "outlet": key,
    }
    lines = [json.dumps(header, ensure_ascii=False)]
    lines += [json.dumps(item, ensure_ascii=False) for item in feed.items]
    write_atomic(folder / name, "\n".join(lines) + "\n")
    state[url] = {
        "etag": response.headers.get("etag"),
        "last_modified": response.headers.get("last-modified"),
        "file": name,
    }
    return Fetched(folder / name, url)


def load_state(folder: Path) -> dict:
    """Per-feed validators and last fetch file, by feed URL."""
    path = folder / STATE_FILE
    try:
        return json.loads(path.read_text("utf-8")) if path.exists() else {}
    except ValueError:
        return {}  # a damaged state only costs one unconditional fetch per feed


def save_state(folder: Path, state: dict) -> None:
    """Write the state atomically, so an interrupted run never leaves half a file."""
    write_atomic(folder / STATE_FILE, json.dumps(state, indent=1, sort_keys=True))

"""Country polygons and shared land borders, built by code from Natural Earth and cached.

The theatre names its borders (``BLR-UKR``) and a Natural Earth admin-0 countries file
(``theatre.boundaries``, relative to the data folder). A border A-B is the part of A's
boundary within :data:`TOLERANCE_DEG` of B (B buffered by the tolerance, so the two
polygons' slightly different vertices along the same border still meet), with the pieces
merged into as few lines as possible.

Reading and parsing the GeoJSON takes ~0.13 s; the polygons a theatre needs and its border
lines are therefore cached as GeoJSON under ``<cache_dir>/geo/<sha256 of the input
file>-<key>.geojson`` (``key`` = ISO3 or border id). The sha256 in the name means a changed
input is never served from an old cache; the properties record :data:`VERSION` and the
tolerance, so a changed algorithm rebuilds too. Files are written atomically (temporary
file + ``os.replace``) so a concurrent reader never sees half a file.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import shapely
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

from vigil.errors import InputError
from vigil.files import write_atomic
from vigil.theatre import Theatre

#: Distance (degrees, ≈ 0.35–0.55 km here) within which A's boundary counts as shared with B.
TOLERANCE_DEG = 0.005
#: Bump when the way borders are built changes: older cache files are then rebuilt.
VERSION = 1
#: Natural Earth's own code for Kosovo; vigil's country table uses the user-assigned XKX.
NE_CODES = {"KOS": "XKX"}

Area = Polygon | MultiPolygon
Line = LineString | MultiLineString


def read_countries(path: Path, codes: Iterable[str]) -> dict[str, Area]:
    """Polygons of the countries ``codes`` from a Natural Earth admin-0 countries file.

    A feature's code is ``ISO_A3``, or ``ADM0_A3`` where ``ISO_A3`` is ``-99`` (France,
    Norway, Kosovo…). Codes missing from the file are simply absent from the result.

    Raises
    ------
    InputError
        If the file is not a readable GeoJSON FeatureCollection.
    """
    wanted = set(codes)
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            features = json.load(fh)["features"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"{path}: not a GeoJSON FeatureCollection ({exc})",
            "point theatre.boundaries at a Natural Earth admin-0 countries file",
        ) from exc
    found: dict[str, Area] = {}
    for feature in features:
        props = feature.get("properties") or {}
        code = props.get("ISO_A3")
        if code in (None, "-99"):
            code = NE_CODES.get(props.get("ADM0_A3"), props.get("ADM0_A3"))
        if code in wanted and feature.get("geometry"):
            geom = shape(feature["geometry"])
            # a country split over two features (none in v4.0, but cheap to allow) is joined
            found[code] = shapely.union(found[code], geom) if code in found else geom
    return found


def shared_border(a: BaseGeometry, b: BaseGeometry, tolerance_deg: float = TOLERANCE_DEG) -> Line:
    """The part of polygon ``a``'s boundary within ``tolerance_deg`` of polygon ``b``.

    ``b`` is first clipped to ``a``'s bounding box (plus a margin) so buffering Russia costs
    no more than buffering its neighbourhood. Points where the boundaries merely touch are
    dropped; the result is an empty ``LineString`` when the two share no border.
    """
    x0, y0, x1, y1 = a.bounds
    m = 10 * tolerance_deg
    near_b = shapely.buffer(shapely.clip_by_rect(b, x0 - m, y0 - m, x1 + m, y1 + m), tolerance_deg)
    shared = shapely.intersection(a.boundary, near_b)
    parts = [
        g for g in shapely.get_parts(shared) if g.geom_type in ("LineString", "MultiLineString")
    ]
    if not parts:
        return LineString()
    return shapely.line_merge(shapely.union_all(parts))


def boundaries_file(data_dir: Path, theatre: Theatre) -> Path:
    """The theatre's boundaries file under ``data_dir``; InputError if it is missing."""
    path = Path(data_dir) / theatre.boundaries
    if not path.is_file():
        raise InputError(
            f"theatre {theatre.id}: boundaries file {path} not found",
            "set theatre.boundaries to a Natural Earth admin-0 countries file "
            "relative to the data folder",
        )
    return path


def country_polygons(data_dir: Path, theatre: Theatre, cache_dir: Path) -> dict[str, Area]:
    """Polygons of the theatre's countries and of every country in its borders, by ISO3.

    Raises
    ------
    InputError
        If the boundaries file is missing or unreadable, or lacks one of the countries.
    """
    codes = list(
        dict.fromkeys([*theatre.countries, *(c for b in theatre.borders for c in b.countries)])
    )
    path = boundaries_file(data_dir, theatre)
    return _countries(path, _sha256(path), codes, theatre, Path(cache_dir))


def border_lines(data_dir: Path, theatre: Theatre, cache_dir: Path) -> dict[str, Line]:
    """The theatre's border segments (lon/lat lines), by border id, in declaration order.

    Raises
    ------
    InputError
        If the boundaries file is missing or unreadable, lacks a country, or a declared
        pair shares no land border in it (the message names the border id).
    """
    path = boundaries_file(data_dir, theatre)
    sha, cache = _sha256(path), Path(cache_dir)
    lines: dict[str, Line] = {}
    for border in theatre.borders:
        cached = _read_cache(cache, sha, border.id)
        if cached is not None:
            lines[border.id] = cached
    missing = [b for b in theatre.borders if b.id not in lines]
    if missing:
        codes = list(dict.fromkeys(c for b in missing for c in b.countries))
        polygons = _countries(path, sha, codes, theatre, cache)
        for border in missing:
            a, b = border.countries
            line = shared_border(polygons[a], polygons[b])
            if line.is_empty:
                raise InputError(
                    f"border {border.id}: {a} and {b} share no land border in {theatre.boundaries}",
                    "remove the border from theatre.yaml or correct its country codes",
                )
            _write_cache(cache, sha, border.id, line, theatre.boundaries)
            lines[border.id] = line
    return {b.id: lines[b.id] for b in theatre.borders}


def _countries(
    path: Path, sha: str, codes: list[str], theatre: Theatre, cache: Path
) -> dict[str, Area]:
    polygons = {c: g for c in codes if (g := _read_cache(cache, sha, c)) is not None}
    missing = [c for c in codes if c not in polygons]
    if missing:
        read = read_countries(path, missing)
        absent = [c for c in missing if c not in read]
        if absent:
            raise InputError(
                f"theatre {theatre.id}: no country {', '.join(absent)} in {theatre.boundaries}",
                "use ISO 3166 alpha-3 codes (Natural Earth ISO_A3, or ADM0_A3 where that is -99)",
            )
        for code, geom in read.items():
            _write_cache(cache, sha, code, geom, theatre.boundaries)
        polygons.update(read)
    return {c: polygons[c] for c in codes}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cache_path(cache: Path, sha: str, key: str) -> Path:
    return cache / "geo" / f"{sha}-{key}.geojson"


def _meta(sha: str, key: str) -> dict:
    return {"key": key, "sha256": sha, "version": VERSION, "tolerance_deg": TOLERANCE_DEG}


def _read_cache(cache: Path, sha: str, key: str) -> BaseGeometry | None:
    """The cached geometry, or None when absent, unreadable or built differently."""
    try:
        feature = json.loads(_cache_path(cache, sha, key).read_text(encoding="utf-8"))
        props = feature["properties"]
        if any(props.get(k) != v for k, v in _meta(sha, key).items()):
            return None
        return shape(feature["geometry"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, shapely.errors.GEOSException):
        return None  # a damaged cache file is rebuilt, never trusted


def _write_cache(cache: Path, sha: str, key: str, geom: BaseGeometry, source: str) -> None:
    target = _cache_path(cache, sha, key)
    # json.dumps writes floats with repr(): coordinates round-trip bit for bit
    text = json.dumps(
        {
            "type": "Feature",
            "properties": {**_meta(sha, key), "source": source},
            "geometry": mapping(geom),
        }
    )
    write_atomic(target, text)

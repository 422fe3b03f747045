"""Land adjacency between countries, from the Natural Earth admin-0 polygons, cached.

Violence spills over land borders (refugee flows, cross-border insurgents, shared
ethnic groups), so a country's neighbours' recent violence is a standard predictor of
its own (the ViEWS and Hegre et al. conflict-forecasting feature sets). The neighbours
are computed here from the same Natural Earth admin-0 countries file that
:mod:`vigil.geo` draws the theatre borders from (``Theatre.boundaries``' default), with
the same reading code (:func:`vigil.geo.read_countries`, ISO3 codes as vigil uses them).

Two countries are neighbours when their polygons touch or come within
:data:`WITHIN_KM` of each other. The tolerance is needed because the 1:50m polygons of
two countries draw their common border with slightly different vertices (see
:mod:`vigil.geo`), leaving slivers of a few hundred metres; 1 km closes them without
joining countries across sea straits (the narrowest, Gibraltar and the Øresund, are
wider). The gap is measured in kilometres (:func:`vigil.geo.length_km` of the shortest
line), not degrees, so the tolerance means the same at 60°N as at the equator.
Consequences of the source: Kaliningrad is part of RUS, so POL and LTU border RUS; an
island state (Iceland, Japan, Madagascar…) has no neighbours; a state absent from the
file (some small territories ACLED codes) is absent from the result (unknown, not
"no neighbours").

Building reads and parses the whole file (~0.3 s; a spatial index narrows the ~29,000
pairs to the few hundred within :data:`CANDIDATE_DEG`), so the result is cached as JSON under
``<cache_dir>/geo/<sha256 of the input file>-adjacency.json``, like the border lines of
:mod:`vigil.geo`: a changed input file, algorithm (:data:`VERSION`) or tolerance is
never served from an old cache, and a damaged cache file is rebuilt.
"""

from __future__ import annotations

import json
from itertools import product
from pathlib import Path
from string import ascii_uppercase

import numpy as np
import shapely

from vigil.errors import InputError
from vigil.files import write_atomic
from vigil.geo import length_km, read_countries
from vigil.geo.borders import _sha256
from vigil.theatre import Theatre

#: Polygons closer than this (km) are neighbours (slivers of the 1:50m generalisation).
WITHIN_KM = 1.0
#: Pairs further apart than this in degrees are not measured: 0.05° ≥ 1 km up to 80° N/S.
CANDIDATE_DEG = 0.05
#: Bump when the way adjacency is computed changes: older cache files are then rebuilt.
VERSION = 1
#: The Natural Earth file of a theatre that names none (``Theatre.boundaries``' default).
BOUNDARIES = Theatre.model_fields["boundaries"].default
# Every code read_countries can return (ISO_A3 or ADM0_A3 are three capital letters): asking
# for all of them reads every country of the file.
_ALL_CODES = frozenset("".join(c) for c in product(ascii_uppercase, repeat=3))


def neighbours(
    data_dir: Path, cache_dir: Path, boundaries: str = BOUNDARIES
) -> dict[str, tuple[str, ...]]:
    """Land neighbours of every country in the Natural Earth file, ISO3 → sorted ISO3s.

    Parameters
    ----------
    data_dir : Path
        The data folder; ``boundaries`` is relative to it.
    cache_dir : Path
        The cache folder (the result goes under ``<cache_dir>/geo``).
    boundaries : str
        The admin-0 countries file, relative to ``data_dir``.

    Returns
    -------
    dict
        Every country of the file, islands included (with ``()``); symmetric.

    Raises
    ------
    InputError
        If the file is missing or is not a GeoJSON FeatureCollection.
    """
    path = Path(data_dir) / boundaries
    if not path.is_file():
        raise InputError(
            f"boundaries file {path} not found",
            "give the data folder that holds natural_earth_admin0/ (Natural Earth admin-0)",
        )
    sha = _sha256(path)
    target = Path(cache_dir) / "geo" / f"{sha}-adjacency.json"
    cached = _read(target, sha)
    if cached is not None:
        return cached
    result = adjacency(read_countries(path, _ALL_CODES))
    _write(target, sha, result, boundaries)
    return result


def adjacency(polygons: dict, within_km: float = WITHIN_KM) -> dict[str, tuple[str, ...]]:
    """Pairs of ``polygons`` (code → polygon) that touch or lie within ``within_km``."""
    codes = sorted(polygons)
    geoms = np.array([polygons[c] for c in codes], dtype=object)
    left, right = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=CANDIDATE_DEG)
    found: dict[str, set[str]] = {c: set() for c in codes}
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:  # each unordered pair once; a country is not its own neighbour
            continue
        a, b = geoms[i], geoms[j]
        if shapely.intersects(a, b) or length_km(shapely.shortest_line(a, b)) <= within_km:
            found[codes[i]].add(codes[j])
            found[codes[j]].add(codes[i])
    return {c: tuple(sorted(found[c])) for c in codes}


def _meta(sha: str) -> dict:
    return {"sha256": sha, "version": VERSION, "within_km": WITHIN_KM}


def _read(target: Path, sha: str) -> dict[str, tuple[str, ...]] | None:
    """The cached adjacency, or None when absent, unreadable or built differently."""
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
        if any(data.get(k) != v for k, v in _meta(sha).items()):
            return None
        return {str(c): tuple(str(n) for n in nb) for c, nb in data["neighbours"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # a damaged cache file is rebuilt, never trusted


def _write(target: Path, sha: str, result: dict[str, tuple[str, ...]], source: str) -> None:
    text = json.dumps({**_meta(sha), "source": source, "neighbours": result}, sort_keys=True)
    write_atomic(target, text)  # a concurrent reader never sees half a file

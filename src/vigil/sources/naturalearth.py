"""Natural Earth admin-0 countries (v4.0, 1:50m and 1:110m): population and GDP estimates.

Each country feature of ``ne_{50m,110m}_admin_0_countries.geojson[.gz]`` gives two
observations: ``ne.pop_est`` (persons, period = ``POP_YEAR``) and ``ne.gdp_md_est``
(million US$, period = ``GDP_YEAR``), freq Y, geo = ``ISO_A3``; where that is ``-99``
(France, Norway, Kosovo, N. Cyprus, Somaliland, …) the Natural Earth ``ADM0_A3`` code,
with Kosovo's ``KOS`` written ``XKX`` as in vigil's country table; codes that are not
ISO 3166 (``CYN``, ``SOL``, ``KAS``…) are kept and flagged in attrs. Both scales are kept,
told apart by attrs ``scale`` and the source_id. A GDP of 0 with ``GDP_YEAR`` 0 is
Natural Earth's "no estimate" (Vatican) and is skipped, counted in the notes. Each
observation's ``raw`` is the feature's identifying properties and its own value (the
geometry is not copied). ``available_at`` is a constant: the date of this Natural Earth
file, 2017-11-09.

Geometry files are *not* read here: ``ne_50m_admin_0_boundary_lines_land``,
``ne_50m_admin_0_countries_region_subset`` (a derived 14-country extract) and
``shared_land_borders_region_50m_derived`` hold boundaries and shared borders, read in
place by the geography features; ``vigil ingest --data`` lists them as not loaded.
"""

from __future__ import annotations

import re
from pathlib import Path

from vigil.reference import countries
from vigil.sources.base import Adapter, Reject
from vigil.sources.http import Fetched, Fetcher
from vigil.sources.series import (
    Parsed,
    RecordReader,
    cell_select,
    dumps,
    json_array,
    q,
    value_range,
)
from vigil.sources.tabular import MAX_COUNT

# Date of the v4.0 countries file in the mirror (README): the values were public then.
PUBLISHED = "2017-11-09"
# Years the v4.0 estimates refer to, for a file that lacks POP_YEAR / GDP_YEAR.
DEFAULT_YEAR = {"POP_EST": 2017, "GDP_MD_EST": 2016}
VALUES = {
    "POP_EST": ("ne.pop_est", "persons", "POP_YEAR"),
    "GDP_MD_EST": ("ne.gdp_md_est", "million USD", "GDP_YEAR"),
}
# Natural Earth's own code for Kosovo; ISO has none, vigil uses the user-assigned XKX.
NE_CODES = {"KOS": "XKX"}
KEYS = ("ADM0_A3", "ISO_A3", "NAME")

_YEAR = "make_date(TRY_CAST(TRY_CAST(src.period AS DOUBLE) AS INTEGER), 1, 1)"


class CountriesReader(RecordReader):
    """ne_*_admin_0_countries.geojson[.gz]: a FeatureCollection of country polygons."""

    label = "Natural Earth ne_{50m,110m}_admin_0_countries.geojson[.gz] (country features)"
    pattern = re.compile(r"^ne_(10|50|110)m_admin_0_countries\.(geo)?json(\.gz)?$")

    def parse(self, path: Path) -> Parsed:
        scale = "1:" + self.pattern.match(path.name).group(1) + "m"
        iso3 = {c["iso3"] for c in countries.countries()}
        parsed = Parsed()
        features = json_array(path, self.label, key="features")
        no_estimate, assumed = [], 0
        for line, feature in features:
            props = feature.get("properties") if isinstance(feature, dict) else None
            if not isinstance(props, dict):
                parsed.rejects.append(
                    Reject(
                        line,
                        "parse",
                        "feature has no properties object",
                        dumps({"feature": str(feature)[:200]}),
                    )
                )
                continue
            ident = {k: props.get(k) for k in KEYS}
            geo, problem = _geo(props, iso3)
            for col, (series, unit, year_col) in VALUES.items():
                value, year = props.get(col), props.get(year_col)
                if col == "GDP_MD_EST" and value == 0 and year == 0:
                    no_estimate.append(str(props.get("NAME")))
                    continue
                attrs = {"scale": scale, "name": props.get("NAME")}
                if year is None:
                    year, attrs["year_assumed"] = DEFAULT_YEAR[col], True
                    assumed += 1
                if geo and geo not in iso3:
                    attrs["geo_scheme"] = "Natural Earth ADM0_A3 (not ISO 3166)"
                parsed.add(
                    line,
                    period=str(year),
                    col=col,
                    cell=None if value is None else str(value),
                    series=series,
                    geo=geo,
                    unit=unit,
                    attrs=dumps(attrs),
                    problem=problem,
                    aux=f"{scale}|{props.get('ADM0_A3')}",
                    raw=dumps({**ident, col: value, year_col: props.get(year_col)}),
                )
        parsed.notes.append(f"{len(features)} features → {len(parsed.records)} observations")
        if no_estimate:
            parsed.notes.append(
                "GDP 0 with GDP_YEAR 0 (no estimate) skipped: " + ", ".join(no_estimate)
            )
        if assumed:
            parsed.notes.append(f"{assumed} values without a year dated by DEFAULT_YEAR")
        return parsed

    def select(self, parsed: Parsed) -> str:
        return cell_select(
            period=_YEAR,
            period_end=f"last_day({_YEAR} + INTERVAL 11 MONTH)",
            freq="Y",
            id_period="%Y",
            lag_days=0,
            period_name="year",
            period_format="YYYY",
            available=f"TIMESTAMP '{PUBLISHED}'",
            # people and GDP are never negative; people never more than everyone alive
            ranges=[
                value_range(0, None),
                value_range(None, MAX_COUNT, where="src.unit = 'persons'"),
            ],
            checks=[
                (
                    f"year({_YEAR}) NOT BETWEEN 1800 AND 2100",
                    f"'year ' || {q('src.period')} || ' is not a plausible year'",
                )
            ],
            basis=f"constant {PUBLISHED} (date of this Natural Earth v4.0 file)",
            key="src.series || '|' || src.aux",
        )


def _geo(props: dict, iso3: set[str]) -> tuple[str | None, str | None]:
    """ISO3 of a feature, or Natural Earth's ADM0_A3 when it has none; else a reason."""
    code = str(props.get("ISO_A3") or "").strip()
    if code in iso3:
        return code, None
    adm0 = str(props.get("ADM0_A3") or "").strip()
    if adm0:
        return NE_CODES.get(adm0, adm0), None
    return None, f"ISO_A3 '{code}' is not a country code and ADM0_A3 is empty"


class NaturalEarthAdapter(Adapter):
    """Downloads the two countries files from the GeoJSON mirror, pinned to one version."""

    def fetch_live(self, fetcher: Fetcher, **options: str) -> list[Fetched]:
        opts = {**self.options, **options}
        return [
            fetcher.download(opts[key], self.name, refresh=True)
            for key in ("url_50m", "url_110m")
            if opts.get(key)
        ]


# Pinned: the constant publication date above belongs to this version of the files.
_MIRROR = (
    "https://raw.githubusercontent.com/martynafford/natural-earth-geojson/"
    "0b9a6ceb0a7032713abd9460ac1e995a9c60cd1e/"
)

ADAPTER = NaturalEarthAdapter(
    name="naturalearth",
    description="Natural Earth v4.0 admin-0 countries: population and GDP estimates per "
    "country (ne.pop_est, ne.gdp_md_est). The folder's geometry files (boundary "
    "lines, region subset, derived shared borders) are read in place by the "
    "geography features, not loaded",
    readers=[CountriesReader()],
    folders=("natural_earth_admin0",),
    live_help="ne_50m/ne_110m_admin_0_countries.json from the natural-earth-geojson mirror "
    "at a pinned commit (--option url_50m=…, url_110m=…); no credentials",
    options={
        "url_50m": _MIRROR + "50m/cultural/ne_50m_admin_0_countries.json",
        "url_110m": _MIRROR + "110m/cultural/ne_110m_admin_0_countries.json",
    },
)

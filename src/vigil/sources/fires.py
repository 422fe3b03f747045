"""The Economist's war-fire model for Ukraine: daily strike counts, Russian-held area, deaths model.

Wide daily CSVs (newest first); every value cell becomes one observation, geo ``UKR``,
so rows_in counts cells and the notes give the input rows (see :mod:`vigil.sources.gpr`).
``NA`` and empty cells mean "no value" and are skipped, counted in the notes.

* ``strikes_by_location_and_day.csv``: every column but ``date`` → ``fires.<column>``
  (counts, cloud cover shares, 7-day means). ``…_archive.csv`` is an older vintage of the
  same series, kept beside it as ``fires.<column>.archive`` with attrs
  ``{"vintage": "archive"}`` (about a fifth of its war-fire counts were later revised).
* ``area_assessed_as_controlled_by_russia.csv``: area in m² → ``fires.area_russia_controlled_km2``
  and its daily/7-day/30-day changes (km²), plus the share of Ukraine in percent. The
  file repeats 2026-04-04 (same area, different changes): the identical cells count as
  duplicates, the differing ones are rejected (the ingest's one key rule, see
  :mod:`vigil.store.merge`), and the date is named in the notes.
* ``meta-estimate-deaths.csv``: *model output*, not data (the README warns against using it
  as ground truth) → ``economist_model.<type>.<column>`` (estimate, ci_*, pi_*), geo from
  ``country``, attrs ``{"model_output": true}``; ``days_since_invasion`` is a day counter,
  not loaded.

``available_at``: FIRMS satellite detections of day d are complete a few hours after d ends
and the Economist's pipeline runs daily, so a day's counts are taken as known at the end of
d + 1 day. The model re-estimates its whole history on each run, so every estimate is
dated to the file's vintage: the last date in it + 1 day.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections import Counter
from datetime import date
from pathlib import Path

from vigil.reference import countries
from vigil.sources.base import Adapter
from vigil.sources.http import Fetched, Fetcher
from vigil.sources.series import (
    Parsed,
    RecordReader,
    cell_select,
    cells_note,
    csv_rows,
    dumps,
    value_range,
)

# FIRMS data for a day are complete hours after it ends; the Economist updates daily.
LAG_DAYS = 1
MISSING = ("", "NA")
UKR = "UKR"

# Area columns → (series, unit, factor): the source gives m², km² is the usable scale.
AREA = {
    "area_assessed_as_russia_controlled": ("fires.area_russia_controlled_km2", "km2", 1e-6),
    "change_in_area_assessed_as_russia_controlled": (
        "fires.area_russia_controlled_change_km2",
        "km2",
        1e-6,
    ),
    "change_in_area_assessed_as_russia_controlled_in_past_7_days": (
        "fires.area_russia_controlled_change_7d_km2",
        "km2",
        1e-6,
    ),
    "change_in_area_assessed_as_russia_controlled_in_past_30_days": (
        "fires.area_russia_controlled_change_30d_km2",
        "km2",
        1e-6,
    ),
    "area_assessed_as_russia_controlled_percent": (
        "fires.area_russia_controlled_pct",
        "percent of Ukraine",
        1.0,
    ),
}
MODEL_VALUES = ("estimate", "ci_lower", "ci_upper", "pi_low", "pi_high")

_DATE = "try_strptime(src.period, '%Y-%m-%d')::DATE"
_BASIS = "end of day + 1d (war-fire counts: FIRMS day complete after it ends; daily update)"
# The area comes from daily front-line assessments published the evening of the day.
AREA_BASIS = "end of day + 1d (area: daily control-map assessments, published that evening)"


# Ukraine's area, 603,628 km², in the file's m²: no held area or change can exceed it.
UKRAINE_M2 = 603_628e6
RANGES = [
    # fires and their means are counts: never negative
    value_range(0, None, where="src.unit LIKE 'fires per day%'"),
    # a share of the area under cloud
    value_range(0, 1, where="src.unit = 'share of area under cloud'"),
    # the held area: none of it to all of Ukraine
    value_range(0, UKRAINE_M2, where="src.col = 'area_assessed_as_russia_controlled'"),
    # a change of the held area: at most all of Ukraine either way
    value_range(-UKRAINE_M2, UKRAINE_M2, where="src.col LIKE 'change_in_area%'"),
    # a percentage of Ukraine
    value_range(0, 100, where="src.unit = 'percent of Ukraine'"),
]
# The war-fire model counts from the invasion (its files start 2022-02-22); January 2022
# leaves room for a pre-invasion baseline.
EARLIEST = date(2022, 1, 1)


def _daily(available: str | None = None, basis: str = _BASIS) -> str:
    return cell_select(
        earliest=EARLIEST,
        ranges=RANGES,
        period=_DATE,
        period_end=_DATE,
        freq="D",
        id_period="%Y-%m-%d",
        lag_days=LAG_DAYS,
        basis=basis,
        period_name="date",
        period_format="YYYY-MM-DD",
        available=available,
    )


def _strike_unit(col: str) -> str:
    if col.startswith("cloud_cover"):
        return "share of area under cloud"
    return "fires per day (7-day mean)" if col.endswith("7dma") else "fires per day"


class _WideReader(RecordReader):
    """A daily CSV with a ``date`` column; subclasses say what each value column becomes."""

    required: tuple[str, ...] = ("date",)
    #: columns kept in each observation's raw besides date and its own cell
    context: tuple[str, ...] = ()

    def columns(self, header: list[str]) -> list[str]:
        return [c for c in header if c != "date"]

    @abstractmethod
    def cell(self, col: str, fields: dict[str, str]) -> dict[str, str | None]:
        """The observation fields (series, geo, unit, attrs…) of column ``col``."""

    def parse(self, path: Path) -> Parsed:
        header, rows, rejects = csv_rows(path, self.label, self.required)
        parsed = Parsed(rejects=rejects)
        values = self.columns(header)
        skipped = 0
        for line, row in rows:
            fields = dict(zip(header, row, strict=True))
            for col in values:
                cell = fields[col].strip()
                if cell in MISSING:
                    skipped += 1
                    continue
                raw = {k: fields[k] for k in ("date", *self.context, col)}
                parsed.add(
                    line,
                    period=fields["date"].strip(),
                    col=col,
                    cell=cell,
                    raw=dumps(raw),
                    **self.cell(col, fields),
                )
        parsed.notes.append(cells_note(len(rows), len(parsed.records), skipped, "NA or empty"))
        seen = Counter(row[header.index("date")] for _, row in rows)
        repeated = sorted(d for d, n in seen.items() if n > 1)
        if repeated:
            parsed.notes.append(
                "dates repeated (identical values counted as duplicates, differing values "
                f"rejected): {', '.join(repeated)}"
            )
        return parsed

    def select(self, parsed: Parsed) -> str:
        return _daily()


class StrikesReader(_WideReader):
    """strikes_by_location_and_day[_archive].csv: daily war-fire counts."""

    label = "Economist strikes_by_location_and_day[_archive].csv (date, war_fires_per_day, …)"
    pattern = re.compile(r"^strikes_by_location_and_day(_archive)?\.csv$")
    required = ("date", "fires_per_day", "war_fires_per_day")

    def parse(self, path: Path) -> Parsed:
        self._archive = "_archive" in path.name  # one reader, two vintages
        return super().parse(path)

    def cell(self, col: str, fields: dict[str, str]) -> dict[str, str | None]:
        if self._archive:
            return {
                "series": f"fires.{col}.archive",
                "geo": UKR,
                "unit": _strike_unit(col),
                "attrs": dumps({"vintage": "archive"}),
            }
        return {"series": f"fires.{col}", "geo": UKR, "unit": _strike_unit(col)}


class AreaReader(_WideReader):
    """area_assessed_as_controlled_by_russia.csv: Russian-held area of Ukraine."""

    label = "Economist area_assessed_as_controlled_by_russia.csv (date, area_…)"
    pattern = re.compile(r"^area_assessed_as_controlled_by_russia\.csv$")
    required = ("date", "area_assessed_as_russia_controlled")

    def cell(self, col: str, fields: dict[str, str]) -> dict[str, str | None]:
        if col not in AREA:
            return {
                "series": f"fires.{col}",
                "geo": UKR,
                "unit": "as given",
                "problem": f"column {col} is not a known area column",
            }
        series, unit, _ = AREA[col]
        return {"series": series, "geo": UKR, "unit": unit}

    def select(self, parsed: Parsed) -> str:
        factors = " ".join(f"WHEN '{col}' THEN {f}" for col, (_, _, f) in AREA.items())
        return _daily(basis=AREA_BASIS).replace(
            "TRY_CAST(src.cell AS DOUBLE) AS value",
            f"TRY_CAST(src.cell AS DOUBLE) * CASE src.col {factors} ELSE 1 END AS value",
        )


class ModelReader(_WideReader):
    """meta-estimate-deaths.csv: the Economist's modelled deaths (model output)."""

    label = "Economist meta-estimate-deaths.csv (date, estimate, ci_lower, …, type, country)"
    pattern = re.compile(r"^meta-estimate-deaths\.csv$")
    required = ("date", *MODEL_VALUES, "type", "country")
    context = ("type", "country")

    def columns(self, header: list[str]) -> list[str]:
        return [c for c in header if c in MODEL_VALUES]

    def parse(self, path: Path) -> Parsed:
        parsed = super().parse(path)
        parsed.notes.append("model output, not data; days_since_invasion (a counter) not loaded")
        return parsed

    def cell(self, col: str, fields: dict[str, str]) -> dict[str, str | None]:
        kind = re.sub(r"[^a-z0-9]+", "_", fields["type"].strip().lower()).strip("_")
        geo = countries.iso3_from_name(fields["country"])
        problem = None
        if not kind:
            problem = "type is empty"
        elif geo is None:
            problem = f"country '{fields['country']}' is not a known country"
        return {
            "series": f"economist_model.{kind}.{col}",
            "geo": geo or "",
            "unit": "deaths",
            "attrs": dumps({"model_output": True}),
            "problem": problem,
        }

    def select(self, parsed: Parsed) -> str:
        # The whole history is re-estimated each run: all rows date from the last one.
        return _daily(
            available=f"(max({_DATE}) OVER () + INTERVAL {1 + LAG_DAYS} DAY)::TIMESTAMP",
            basis="file vintage: end of its last day + 1d (the model re-estimates its "
            "whole history on each run)",
        )


class FiresAdapter(Adapter):
    """The Economist's files, downloaded fresh from the repository's default branch."""

    def fetch_live(self, fetcher: Fetcher, **options: str) -> list[Fetched]:
        base = (options.get("base_url") or self.options["base_url"]).rstrip("/") + "/"
        return [fetcher.download(base + path, self.name, refresh=True) for path in FILES]


FILES = (
    "source-data/deaths-and-casualties-data/strikes_by_location_and_day.csv",
    "source-data/deaths-and-casualties-data/strikes_by_location_and_day_archive.csv",
    "source-data/deaths-and-casualties-data/area_assessed_as_controlled_by_russia.csv",
    "output-data/tracker/meta-estimate-deaths.csv",
)

ADAPTER = FiresAdapter(
    name="fires",
    description="The Economist's war-fire model for Ukraine: daily satellite-detected (war) "
    "fires, Russian-held area, and its modelled deaths (economist_model.*, "
    "labelled model output)",
    readers=[StrikesReader(), AreaReader(), ModelReader()],
    folders=("economist_war_fires",),
    live_help="the four CSVs from TheEconomist/the-economist-ukraine-war-dead-and-wounded-"
    "estimates on GitHub (--option base_url=… to change); no credentials",
    options={
        "base_url": "https://raw.githubusercontent.com/TheEconomist/"
        "the-economist-ukraine-war-dead-and-wounded-estimates/HEAD/"
    },
)

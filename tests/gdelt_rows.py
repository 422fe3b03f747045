"""Synthetic GDELT 2.0 export rows that follow the codebook exactly (61 tab-separated fields)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from vigil.sources.gdelt import COLUMNS

BASE = {
    "GLOBALEVENTID": "900000001",
    "SQLDATE": "20220220",
    "MonthYear": "202202",
    "Year": "2022",
    "FractionDate": "2022.1370",
    "Actor1Code": "RUSMIL",
    "Actor1Name": "RUSSIA",
    "Actor1CountryCode": "RUS",
    "Actor1Type1Code": "MIL",
    "Actor2Code": "BLR",
    "Actor2Name": "BELARUS",
    "Actor2CountryCode": "BLR",
    "IsRootEvent": "1",
    "EventCode": "154",
    "EventBaseCode": "154",
    "EventRootCode": "15",
    "QuadClass": "4",
    "GoldsteinScale": "-7.2",
    "NumMentions": "10",
    "NumSources": "2",
    "NumArticles": "10",
    "AvgTone": "-3.5",
    "ActionGeo_Type": "4",
    "ActionGeo_FullName": "Asipovichy, Mahilyowskaya Voblasts', Belarus",
    "ActionGeo_CountryCode": "BO",
    "ActionGeo_ADM1Code": "BO06",
    "ActionGeo_Lat": "53.3",
    "ActionGeo_Long": "28.6333",
    "ActionGeo_FeatureID": "-2000000",
    "DATEADDED": "20220220101500",
    "SOURCEURL": "https://example.org/news/1",
}


def row(**fields: str) -> str:
    """One export line; keyword arguments override codebook fields by name."""
    values = {**BASE, **fields}
    unknown = set(values) - set(COLUMNS)
    assert not unknown, unknown
    return "\t".join(values.get(c, "") for c in COLUMNS)


def rows(n: int, start: int = 900000001) -> list[str]:
    """``n`` valid rows with consecutive event ids."""
    return [row(GLOBALEVENTID=str(start + i)) for i in range(n)]


def write(path: Path, lines: list[str] | list[bytes]) -> Path:
    """Write lines with GDELT's ``\\n`` endings (bytes allowed, for encoding tests)."""
    data = b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines)
    if path.name.lower().endswith(".zip"):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(path.name[: -len(".zip")], data)
    else:
        path.write_bytes(data)
    return path

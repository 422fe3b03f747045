"""Guards against silent loss that counts alone cannot see: stray quotes, wide files."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.errors import InputError, RejectThresholdError
from vigil.ingest import ingest_file
from vigil.sources import frontex, gpr


def _frontex(tmp_path: Path, shared_data: Path, mutate) -> Path:
    src = shared_data / "frontex_irregular_border_crossings"
    (real,) = src.glob("*.csv")
    lines = real.read_text(encoding="utf-8").splitlines()
    mutate(lines)
    path = tmp_path / real.name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_unterminated_quote_fails_instead_of_swallowing_the_rest(con, tmp_path, shared_data):
    def stray(lines):
        lines[34_001] = '"' + lines[34_001]

    path = _frontex(tmp_path, shared_data, stray)
    with pytest.raises(InputError) as exc:
        ingest_file(con, frontex.ADAPTER, path)
    assert str(exc.value).startswith(f"{path}: line 34002: a quoted field is never closed")
    assert "would swallow every line from there to the end of the file" in str(exc.value)
    assert con.execute("SELECT count(*) FROM observations").fetchone()[0] == 0


def test_two_stray_quotes_merging_lines_fail(con, tmp_path, shared_data):
    def merge(lines):
        lines[10] = lines[10].rsplit(",", 1)[0] + ',"5'
        lines[12] = lines[12].rsplit(",", 1)[0] + ',7"'

    path = _frontex(tmp_path, shared_data, merge)
    with pytest.raises(InputError, match=r"hold a line break inside a field"):
        ingest_file(con, frontex.ADAPTER, path)
    assert con.execute("SELECT count(*) FROM batches").fetchone()[0] == 0


def test_wide_file_share_is_judged_over_lines(con, tmp_path, shared_data):
    src = shared_data / "geopolitical_risk_gpr" / "gpr_monthly_export_to_2024-07.csv"
    lines = src.read_text(encoding="utf-8").splitlines()
    for i in range(200, 230):  # 30 broken lines of 1,495: 2 %, above the 1 % default
        lines[i] = lines[i] + ",extra"
    path = tmp_path / src.name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RejectThresholdError) as exc:
        ingest_file(con, gpr.ADAPTER, path)
    assert "rejects on 30 of" in str(exc.value) and "input lines" in str(exc.value)


def test_series_csv_with_merged_lines_fails(con, tmp_path, shared_data):
    src = shared_data / "geopolitical_risk_gpr" / "gpr_daily_1985_to_2025-10-20.csv"
    lines = src.read_text(encoding="utf-8").splitlines()
    lines[100] = lines[100] + '"'
    lines[110] = '"' + lines[110]
    path = tmp_path / src.name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 101: a quoted field runs on to line"):
        ingest_file(con, gpr.ADAPTER, path)

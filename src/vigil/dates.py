"""Dates a user types: one parser, one range, for every command, route and API call."""

from __future__ import annotations

import datetime as dt
import re

from vigil.errors import UsageError

#: the dates a command accepts: no evidence predates 1900, and pandas, which every
#: computation goes through, ends its timestamps in 1677 and 2262 (far dates crashed)
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2200, 12, 31)
_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(value: str, what: str = "--as-of") -> dt.date:
    """An ISO date between EARLIEST and LATEST, or a one-line error naming the option."""
    # YYYY-MM-DD only: fromisoformat also takes "20220220" and week dates ("2022-W08-1"
    # is 21 February), which would shift a mistyped day silently
    if not isinstance(value, str) or not _ISO.fullmatch(value):
        raise UsageError(f"{what} {value!r} is not a date", "use YYYY-MM-DD")
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{what} {value!r} is not a date", "use YYYY-MM-DD") from None
    if not EARLIEST <= day <= LATEST:
        raise UsageError(
            f"{what} {value} is outside the dates Vigil covers ({EARLIEST} to {LATEST})"
        )
    return day

"""The NATO Admiralty grading of reports, and the weight a graded note gets.

A grade has two independent parts (AJP-2.1): the **source's reliability** (A–F: how often
it has been right before) and the **information's credibility** (1–6: how well this report
agrees with itself and with what else is known). A note's weight multiplies its reading's
log-likelihood ratio in the scenario model, the same way a text rule's ``strength`` does,
so it says what share of a feed reading the note is worth: a geolocated event reading
counts 1, a news-text reading 0.5 (the rules' default strength).

The weight is the product of the two factors below. Each factor is roughly the chance
that a report so graded is right, read from the grade's own definition:

* A and 1 (completely reliable / confirmed by other sources) count fully: 1.
* B and 2 (usually reliable / probably true) 0.8: usually is most of the time, not always.
* C and 3 (fairly reliable / possibly true) 0.6: better than even, no more.
* D and 4 (not usually reliable / doubtful) 0.3: more often wrong than right.
* E and 5 (unreliable / improbable) 0: the note is kept and shown, never weighed;
  counting a report its own analyst calls improbable would let noise move the odds.
* F and 6 (cannot be judged) 0.5: nothing is known either way, so a coin's weight.

So a B2 note (0.64) counts a little more than a news-text reading, an F3 note from an
analysis of unknown provenance (0.3) a little more than half of one, and A1 as much as a
geolocated event. These were fixed from the definitions, before any note was weighed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RELIABILITY = {
    "A": ("completely reliable", 1.0),
    "B": ("usually reliable", 0.8),
    "C": ("fairly reliable", 0.6),
    "D": ("not usually reliable", 0.3),
    "E": ("unreliable", 0.0),
    "F": ("reliability cannot be judged", 0.5),
}
CREDIBILITY = {
    1: ("confirmed by other sources", 1.0),
    2: ("probably true", 0.8),
    3: ("possibly true", 0.6),
    4: ("doubtful", 0.3),
    5: ("improbable", 0.0),
    6: ("truth cannot be judged", 0.5),
}
_GRADE = re.compile(r"^\s*([A-Fa-f])\s*[-/ ]?\s*([1-6])\s*$")


@dataclass(frozen=True)
class Grade:
    reliability: str  #: A–F
    credibility: int  #: 1–6

    @classmethod
    def parse(cls, text: str) -> Grade:
        """``B2``, ``b-2``, ``B/2`` → Grade('B', 2); ValueError naming the format otherwise."""
        m = _GRADE.match(str(text))
        if not m:
            raise ValueError(
                f"{text!r} is not an Admiralty grade: a letter A–F (source reliability) and a "
                "digit 1–6 (information credibility), e.g. B2"
            )
        return cls(m.group(1).upper(), int(m.group(2)))

    @property
    def code(self) -> str:
        return f"{self.reliability}{self.credibility}"

    @property
    def weight(self) -> float:
        """The note's weight in the scenario model (see the module docstring)."""
        return round(RELIABILITY[self.reliability][1] * CREDIBILITY[self.credibility][1], 4)

    def describe(self) -> str:
        """``B2 (usually reliable source, probably true; weight 0.64)``."""
        return (
            f"{self.code} ({RELIABILITY[self.reliability][0]} source, "
            f"{CREDIBILITY[self.credibility][0]}; weight {self.weight:.2g})"
        )

    def __str__(self) -> str:
        return self.code

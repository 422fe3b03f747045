"""Words of estimative probability: the UK Professional Head of Intelligence Assessment
(PHIA) probability yardstick.

The yardstick's seven terms cover published ranges with deliberate gaps between them (so a
reader never has to split hairs at a boundary). A computed probability that falls in a gap
takes the nearer term: the cut points below are the gaps' midpoints.

| term | published range |
|---|---|
| remote chance | ≤ 5 % |
| highly unlikely | 10–20 % |
| unlikely | 25–35 % |
| realistic possibility | 40–50 % |
| likely or probable | 55–75 % |
| highly likely | 80–90 % |
| almost certain | ≥ 95 % |
"""

from __future__ import annotations

#: (upper cut point, term, published range)
YARDSTICK = (
    (0.075, "remote chance", "≤ 5 %"),
    (0.225, "highly unlikely", "10–20 %"),
    (0.375, "unlikely", "25–35 %"),
    (0.525, "realistic possibility", "40–50 %"),
    (0.775, "likely", "55–75 %"),
    (0.925, "highly likely", "80–90 %"),
    (1.000001, "almost certain", "≥ 95 %"),
)


def term(p: float) -> str:
    """The yardstick term for probability ``p`` (0 ≤ p ≤ 1)."""
    if not 0 <= p <= 1:
        raise ValueError(f"{p} is not a probability")
    return next(word for cut, word, _ in YARDSTICK if p < cut)

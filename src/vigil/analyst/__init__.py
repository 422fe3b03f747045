"""What an analyst adds to the feeds: graded notes on indicators (:mod:`.notes`), weighted
by their Admiralty grade (:mod:`.grades`), loaded into the store (:mod:`.store`).
Documents the notes rest on are loaded by :mod:`vigil.documents`."""

from vigil.store import ANALYST_SOURCE

__all__ = ["ANALYST_SOURCE"]

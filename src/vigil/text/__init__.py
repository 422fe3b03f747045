"""Text evidence: documents matched to indicators by multilingual rules, tagged occurrence
or claim, normalised by feed volume; semantic matching is the optional ``[embed]`` extra
(:mod:`vigil.text.embed`, not imported here). See docs/TEXT.md."""

from vigil.text.claims import LEXICON_VERSION, classify
from vigil.text.match import DailyRate, IndicatorMatch, MatchReport, daily_rates, match_documents
from vigil.text.rules import CompiledRule, compile_rule, normalise, rule_hash

__all__ = [
    "LEXICON_VERSION",
    "CompiledRule",
    "DailyRate",
    "IndicatorMatch",
    "MatchReport",
    "classify",
    "compile_rule",
    "daily_rates",
    "match_documents",
    "normalise",
    "rule_hash",
]

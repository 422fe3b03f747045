"""Text rules: normalisation, semantics, spans, hashes, literal prefilter == naive loop."""

from __future__ import annotations

import random
import re

import pyarrow.parquet as pq
import pytest

from vigil.text import claims
from vigil.text.rules import (
    LiteralIndex,
    compile_rule,
    normalise,
    required_literals,
    rule_hash,
    text_classes,
)
from vigil.theatre import TextRule, load_theatre

RULE = TextRule(
    all=(
        {"en": (r"\btroops\b", r"\btanks?\b"), "pl": (r"wojsk",), "ru": (r"войск",)},
        {"en": (r"\bbelarus",), "pl": (r"białoru",), "ru": (r"белорус", r"беларус")},
        {"en": (r"\b(arriv|deploy)\w*",), "pl": (r"przerzu\w*",), "ru": (r"переброс\w*",)},
    ),
    exclude={"en": (r"\bminsk[- ]mazowiecki",), "pl": (r"mińsk mazowiecki",)},
)


def naive(rule: TextRule, text: str) -> bool:
    """The semantics, spelled out: every group has a pattern that occurs, no exclusion does."""
    norm = normalise(text)

    def occurs(group) -> bool:
        return any(re.search(p, norm, re.IGNORECASE) for ps in group.values() for p in ps)

    return all(occurs(g) for g in rule.all) and not (rule.exclude and occurs(rule.exclude))


# --------------------------------------------------------------------- normalisation
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Russian TROOPS arrive", "russian troops arrive"),
        ("BIAŁORUŚ i ŁUKASZENKA", "białoruś i łukaszenka"),  # diacritics kept
        ("Ｂｅｌａｒｕｓ ﬁghts", "belarus fights"),  # NFKC: full-width letters, ligature
        ("Russia’s build‑up", "russia's build-up"),  # typographic apostrophe and hyphen
        ("БЕЛАРУСЬ Ў", "беларусь ў"),
        ("Straße", "strasse"),  # case folding, not lower()
    ],
)
def test_normalise(raw, expected):
    assert normalise(raw) == expected


def test_normalise_is_idempotent_and_keeps_offsets_of_separators():
    samples = ["Russia’s ﬁrst", "ΣΊΣΥΦΟΣ", "İstanbul ı", "Białoruś\u00ad", "ẞ Ǆ ﬃ", "Ё ё"]
    for s in samples:
        once = normalise(s)
        assert normalise(once) == once
        # title + ' ' + body and title + '\n' + body normalise to equal lengths, so a span
        # found by the matcher is valid in the text the claim tagger reads.
        assert len(normalise(f"{s} {s}")) == len(normalise(f"{s}\n{s}"))


# ------------------------------------------------------------------------- semantics
@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("Russian troops arrive in Belarus", True),
        ("RUSSIAN TROOPS ARRIVE IN BELARUS", True),
        ("Tanks deployed near the Belarusian border", True),
        ("Russian troops arrive in Poland", False),  # the place group fails
        ("Belarus hosts troops", False),  # the movement group fails
        ("Rosja przerzuca wojska na Białoruś", True),  # Polish patterns, any language
        ("Troops arrive in Minsk-Mazowiecki, Belarus", False),  # excluded
        ("Россия перебросила войска в Белоруссию", True),
        ("Mixed: troops перебросили to Belarus", True),  # groups may use other languages
    ],
)
def test_semantics(text, matches):
    rule = compile_rule(RULE)
    assert rule.match(text) is matches
    assert naive(RULE, text) is matches


def test_span_is_first_match_of_last_group():
    rule = compile_rule(RULE)
    text = "Belarus: tanks deployed, troops arriving"
    norm = normalise(text)
    start, end = rule.span(text)
    assert norm[start:end] == "deployed"
    assert rule.span("Troops in Belarus") is None  # no match, no span
    # leftmost across patterns of several languages
    assert rule.span("Troops w Belarus przerzucone, arrive")[0] == normalise(
        "Troops w Belarus przerzucone, arrive"
    ).index("przerzucone")


def test_match_many_respects_idx_and_shared_index():
    rule = compile_rule(RULE)
    texts = [normalise(t) for t in ("troops arrive in belarus", "nothing", "tanks deploy belarus")]
    index = LiteralIndex(texts)
    assert rule.match_many(texts, None, index) == [0, 2]
    assert rule.match_many(texts, [1, 2], index) == [2]
    assert rule.match_many([]) == []


def test_rule_hash(monkeypatch):
    h = rule_hash(RULE)
    assert len(h) == 64 and h == rule_hash(TextRule.model_validate(RULE.model_dump()))
    assert rule_hash(RULE.model_copy(update={"weight": 3.0})) == h  # weight does not match
    changed = RULE.model_copy(update={"exclude": {}})
    assert rule_hash(changed) != h
    monkeypatch.setattr(claims, "LEXICON_VERSION", "claims-test")
    assert rule_hash(RULE) != h  # a new cue lexicon re-tags every match


# --------------------------------------------------------------- literal prefilter
@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\bbelarus", {"belarus"}),
        (r"(wojsk|sprzęt)\w*", {"wojsk", "sprzęt"}),
        (r"\bMinsk\b", {"minsk"}),
        (r"\w+ing", {"ing"}),
        (r"\w+\d", None),
        (r"a?bcd", {"bcd"}),
        (r"(?:foo|)bar", {"bar"}),
        (r"(?:ab){2,}c", {"ab"}),
        (r"(?=troops)", None),
        (r"x*", None),
        (r"russia\w*.{0,60}(troops|forces)", {"russia"}),  # longest shortest string
        (r"\w{0,3}.{0,60}(troops|forces)", {"troops", "forces"}),
    ],
)
def test_required_literals(pattern, expected):
    assert required_literals(pattern) == expected


def test_text_classes():
    assert text_classes(["abc", "łódź", "войска", "łódź войска"]) == [0, 1, 2, 2]


def test_prefilter_equals_naive_on_random_texts():
    """Tricky patterns (inline flags, \\b and \\B next to any script, empty branches);
    look-arounds and back-references are refused (tests/test_hostile_specs.py)."""
    tricky = TextRule(
        all=(
            {
                "en": (r"(?:aa|bb)\b", r"(?x) t r o o p s", r"re\Bdeploy", r"(?:x|)yz"),
                "pl": (r"wojsk[^o]",),
            },
            {"en": (r"\bbel(?:arus|orus)", r"min(sk)?\b"), "ru": (r"(?i)беЛарус",)},
        ),
        exclude={"en": (r"\bno\b.{0,5}troops",)},
    )
    rule = compile_rule(tricky)
    words = [
        "aa",
        "ab",
        "troops",
        "TROOPS",
        "redeploy",
        "deploy",
        "yz",
        "xyz",
        "wojsko",
        "wojska",
        "belarus",
        "belorus",
        "min",
        "minsk",
        "беларусь",
        "no",
        "the",
        "-",
    ]
    rng = random.Random(20240229)
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 8))) for _ in range(4000)]
    norm = [normalise(t) for t in texts]
    expected = [i for i, t in enumerate(texts) if naive(tricky, t)]
    assert 100 < len(expected) < 3900  # the sample exercises both outcomes
    assert rule.match_many(norm) == expected


@pytest.mark.slow
def test_compiled_equals_naive_on_real_headlines(shared_data):
    """Every indicator of the Belarus theatre, on every 80th real headline."""
    path = (
        shared_data
        / "news_rss_headlines_2021_2023"
        / "rss_headlines_region_filtered_2021_2023.parquet"
    )
    table = pq.read_table(path, columns=["title", "description"])
    titles, bodies = table.column("title").to_pylist(), table.column("description").to_pylist()
    texts = [f"{t or ''} {b or ''}" for t, b in zip(titles, bodies, strict=True)][::80]
    norm = [normalise(t) for t in texts]
    index = LiteralIndex(norm)
    theatre = load_theatre("belarus")
    total = 0
    for ind in theatre.indicators:
        if ind.evidence.text is None:
            continue
        got = compile_rule(ind.evidence.text).match_many(norm, None, index)
        assert got == [i for i, t in enumerate(texts) if naive(ind.evidence.text, t)], ind.id
        total += len(got)
    assert total > 0

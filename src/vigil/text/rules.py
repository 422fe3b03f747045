"""Compile an indicator's :class:`~vigil.theatre.TextRule` into a fast document matcher.

Semantics (``specs.TextRule``): a document matches when, for **every** group in ``all``, at
least one of the group's patterns (in any language) occurs, and no ``exclude`` pattern
occurs. Patterns are case-insensitive regular expressions in Python's syntax and with
its Unicode meaning of ``\\w``, ``\\b``, ``\\s``, ``\\d``, searched in
``normalise(title + ' ' + body)`` by RE2 (:func:`vigil.patterns.compile_pattern`): matching
takes time linear in the text whatever the pattern, and what RE2 cannot run
(look-arounds, back-references, …) is refused when the spec is loaded.

Normalisation (:func:`normalise`) is NFKC, then Unicode case folding, then NFKC again (the
``NFKC_Casefold`` idea), then a one-to-one character map that unifies typographic
apostrophes and hyphens (``’`` → ``'``, ``‑`` → ``-``) and the Turkish dotless ``ı``
(``re.IGNORECASE`` treats it as ``i``). Diacritics are kept: ``ł``, ``ó``, ``ё``, ``ў``
are letters of the languages the patterns are written in. Write patterns in lower case.

Speed: a rule is evaluated on a batch of documents (:meth:`CompiledRule.match_many`):

1. *literals*: every pattern is parsed (``re._parser``) for strings one of which must occur
   in any text it matches (``\\bbelarus`` → ``{"belarus"}``, ``(wojsk|sprzęt)\\w*`` →
   ``{"wojsk", "sprzęt"}``); a group's literals are the union over its patterns;
2. *prefilter*: groups run cheapest first (literals per text over the share of a sample
   they remove), each keeping the texts holding one of its literals (``str.__contains__``,
   C speed; a literal is only looked for in texts of a script that can hold it). The first
   group's look-ups go through a :class:`LiteralIndex` shared by all rules of a batch,
   since most indicators share the theatre's place names;
3. *verification*: the survivors are searched with each group's RE2 patterns, a pattern only
   where one of its own literals occurs; then the ``exclude`` patterns remove documents.

Every literal set is a necessary condition, so the result is exactly that of the naive
loop over every pattern (``benchmarks/text_match.py`` checks it on the real headlines).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from vigil.patterns import CompiledPattern, compile_pattern
from vigil.theatre import TextRule

try:  # private, but stable since 3.11; without it there is no prefilter, never a wrong match
    from re import _constants as _sre_c
    from re import _parser as _sre_p
except ImportError:  # pragma: no cover - a future Python
    _sre_c = _sre_p = None

#: Bump when :func:`normalise` or the matching semantics change: every rule re-matches.
ENGINE_VERSION = "rules-1"
FLAGS = re.IGNORECASE
# One character for one, so offsets into the normalised text stay those of the matcher.
_UNIFY = (
    ("\u2018", "'"),
    ("\u2019", "'"),
    ("\u201b", "'"),
    ("\u02bc", "'"),
    ("\u2032", "'"),
    ("\u2010", "-"),
    ("\u2011", "-"),
    ("\u2012", "-"),
    ("\u00ad", "-"),
    ("\u0131", "i"),
)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
# Fields of a TextRule that do not change which documents match (not hashed).
_UNHASHED = frozenset({"weight", "examples", "topic", "strength"})
_SAMPLE = 512


def normalise(text: str) -> str:
    """Return ``text`` in the form patterns are matched against (see the module docstring)."""
    if text.isascii():
        return text.lower()  # casefold == lower and NFKC is the identity on ASCII
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    for char, replacement in _UNIFY:  # str.translate is ~40x slower on non-ASCII text
        if char in folded:
            folded = folded.replace(char, replacement)
    return folded


def text_classes(texts: Sequence[str]) -> list[int]:
    """Script class of each normalised text: 0 ASCII, 1 other without Cyrillic, 2 Cyrillic.

    A literal can only occur in a text of a class at least its own, so the prefilter
    tests a Polish or Cyrillic literal only in the texts that can hold it.
    """
    return [0 if t.isascii() else 2 if _CYRILLIC.search(t) else 1 for t in texts]


def _literal_class(literal: str) -> int:
    return text_classes([literal])[0]


def rule_hash(rule: TextRule) -> str:
    """SHA-256 of the rule's canonical JSON, the engine and the claims-lexicon versions.

    Any change to the patterns, to normalisation or to the claim cues gives a new hash,
    so stored matches made under the old one are re-made; ``weight``, ``examples``,
    ``topic`` and ``strength`` are not hashed because they do not change which documents
    match.
    """
    from vigil.text.claims import LEXICON_VERSION  # claims imports normalise from here

    body = {k: v for k, v in rule.model_dump(mode="json").items() if k not in _UNHASHED}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    payload = f"{canonical}\n{ENGINE_VERSION}\n{LEXICON_VERSION}"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class LiteralIndex:
    """Which texts of one batch hold a literal: computed once per literal, shared by rules.

    Most indicators of a theatre share a group (the theatre's place names), so the
    rarest-first prefilter of every rule starts with the same literals.
    """

    def __init__(self, texts: Sequence[str], classes: Sequence[int] | None = None) -> None:
        self.texts = texts
        self.classes = text_classes(texts) if classes is None else classes
        self._members: tuple[list[int], ...] = ([], [], [])
        for i, cls in enumerate(self.classes):
            self._members[cls].append(i)
        self._hits: dict[str, set[int]] = {}

    def hits(self, literal: str) -> set[int]:
        found = self._hits.get(literal)
        if found is None:
            texts = self.texts
            found = set()
            for members in self._members[_literal_class(literal) :]:
                found.update([i for i in members if literal in texts[i]])
            self._hits[literal] = found
        return found


@dataclass(frozen=True)
class _Pattern:
    literals: tuple[str, ...] | None  # one of them is in every text the regex matches
    regex: CompiledPattern  # RE2, linear in the text (vigil.patterns.compile_pattern)

    def hit(self, text: str) -> bool:
        if self.literals is not None and not any(lit in text for lit in self.literals):
            return False
        return self.regex.search(text)

    def span(self, text: str) -> tuple[int, int] | None:
        if self.literals is not None and not any(lit in text for lit in self.literals):
            return None
        return self.regex.span(text)


@dataclass(frozen=True)
class _Group:
    """One ``all`` group (or the exclude set): its patterns and their literals."""

    patterns: tuple[_Pattern, ...]
    literals: tuple[str, ...] | None  # None: some pattern has none, every text passes

    @cached_property
    def by_class(self) -> tuple[tuple[str, ...], ...]:
        """The literals a text of script class 0, 1, 2 can hold (see :func:`text_classes`)."""
        lits = self.literals or ()
        return tuple(tuple(x for x in lits if _literal_class(x) <= c) for c in range(3))

    def prefilter(self, texts: Sequence[str], idx: list[int], classes: Sequence[int]) -> list[int]:
        """The indices in ``idx`` whose text holds one of the literals (all if none known)."""
        if self.literals is None:
            return idx
        members: tuple[list[int], ...] = ([], [], [])
        for i in idx:
            members[classes[i]].append(i)
        hits: set[int] = set()
        for cls, group in enumerate(members):
            for lit in self.by_class[cls] if group else ():
                # One comprehension per literal: the C-speed `in` dominates, not the loop.
                hits.update([i for i in group if lit in texts[i]])
        return [i for i in idx if i in hits]

    def hit(self, text: str) -> bool:
        return any(p.hit(text) for p in self.patterns)

    def search(self, text: str) -> tuple[int, int] | None:
        """The span of the leftmost match of any pattern (ties: the first pattern)."""
        best = None
        for p in self.patterns:
            span = p.span(text)
            if span and (best is None or span[0] < best[0]):
                best = span
        return best

    def cost(self, texts: Sequence[str], sample: list[int], classes: Sequence[int]) -> float:
        """Rank for ordering: literals tested per text / share of texts removed (lowest first)."""
        if self.literals is None:
            return float("inf")
        passed = len(self.prefilter(texts, sample, classes))
        removed = (len(sample) - passed + 1) / (len(sample) + 2)
        return len(self.literals) / removed


class CompiledRule:
    """A :class:`TextRule` ready to match normalised or raw texts."""

    def __init__(self, rule: TextRule) -> None:
        self.rule = rule
        self.hash = rule_hash(rule)
        self.groups = tuple(_group(g) for g in rule.all)
        self.exclude = _group(rule.exclude) if any(rule.exclude.values()) else None

    def match(self, text: str) -> bool:
        """Whether the raw ``text`` (title + ' ' + body) matches the rule."""
        return bool(self.match_many([normalise(text)]))

    def span(self, text: str) -> tuple[int, int] | None:
        """Span, in ``normalise(text)``, of the first match of the last group; None if no match."""
        norm = normalise(text)
        if not self.match_many([norm]):
            return None
        return self.span_normalised(norm)

    def span_normalised(self, norm: str) -> tuple[int, int] | None:
        """Like :meth:`span` for an already normalised text that is known to match."""
        return self.groups[-1].search(norm)

    def match_many(
        self,
        texts: Sequence[str],
        idx: Sequence[int] | None = None,
        index: LiteralIndex | None = None,
    ) -> list[int]:
        """Indices (among ``idx``, default all) of the normalised ``texts`` that match.

        ``index`` (a :class:`LiteralIndex` of ``texts``) shares literal look-ups between
        rules run on the same texts; see the module docstring for the steps.
        """
        index = LiteralIndex(texts) if index is None else index
        alive = list(range(len(texts))) if idx is None else list(idx)
        sample = alive[:: max(1, len(alive) // _SAMPLE)][:_SAMPLE]
        order = sorted(self.groups, key=lambda g: g.cost(texts, sample, index.classes))
        if order[0].literals is not None:  # the rarest group: shared look-ups
            found = set().union(*(index.hits(lit) for lit in order[0].literals))
            alive = [i for i in alive if i in found]
        for group in order[1:]:
            if not alive:
                break
            alive = group.prefilter(texts, alive, index.classes)
        for group in order:
            alive = [i for i in alive if group.hit(texts[i])]
        if self.exclude is not None:
            alive = [i for i in alive if not self.exclude.hit(texts[i])]
        return alive


def compile_rule(rule: TextRule) -> CompiledRule:
    """Compile ``rule``; patterns were already validated by ``specs.TextRule``."""
    return CompiledRule(rule)


def _group(group: dict[str, tuple[str, ...]]) -> _Group:
    patterns = []
    union: set[str] | None = set()
    for p in (p for lang in sorted(group) for p in group[lang]):
        lits = required_literals(p)
        patterns.append(_Pattern(_minimal(lits) if lits else None, compile_pattern(p)))
        union = None if lits is None or union is None else union | lits
    return _Group(tuple(patterns), _minimal(union) if union else None)


def _minimal(literals: set[str]) -> tuple[str, ...]:
    # A literal containing another one adds nothing: the shorter one is already required.
    keep: list[str] = []
    for lit in sorted(literals, key=lambda x: (len(x), x)):
        if not any(k in lit for k in keep):
            keep.append(lit)
    return tuple(keep)


def required_literals(pattern: str) -> set[str] | None:
    """Strings one of which occurs (case-folded) in every text ``pattern`` matches.

    None when no such set is known (e.g. ``\\w+ing``: nothing literal is required).
    The set chosen for a sequence is the one whose shortest string is longest.
    """
    if _sre_p is None:  # pragma: no cover
        return None
    try:
        parsed = _sre_p.parse(pattern, FLAGS)
    except (re.error, RecursionError):
        return None
    found = _required(list(parsed))
    if not found or any(not s for s in found):
        return None
    return {s.casefold() for s in found}


def _better(a: set[str] | None, b: set[str] | None) -> set[str] | None:
    if a is None or b is None:
        return a if b is None else b
    key_a, key_b = (min(map(len, a)), -len(a)), (min(map(len, b)), -len(b))
    return b if key_b > key_a else a


def _required(items: list) -> set[str] | None:
    """Walk one parsed sequence: literal runs, groups, branches and repeats."""
    best: set[str] | None = None
    run: list[str] = []
    for op, av in items:
        if op is _sre_c.LITERAL:
            run.append(chr(av))
            continue
        if op is _sre_c.AT:  # \b, ^, $: zero-width, the literal run continues across them
            continue
        if run:
            best = _better(best, {"".join(run)})
            run = []
        best = _better(best, _required_item(op, av))
    if run:
        best = _better(best, {"".join(run)})
    return best


def _required_item(op, av) -> set[str] | None:
    if op is _sre_c.SUBPATTERN:
        return _required(list(av[-1]))
    if op is getattr(_sre_c, "ATOMIC_GROUP", None):
        return _required(list(av))
    if op is _sre_c.BRANCH:
        branches = [_required(list(b)) for b in av[1]]
        if any(b is None for b in branches):
            return None
        return set().union(*branches)
    repeats = (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT, getattr(_sre_c, "POSSESSIVE_REPEAT", None))
    if op in repeats and av[0] >= 1:
        return _required(list(av[2]))
    return None  # character classes, '.', lookarounds, back-references: nothing literal

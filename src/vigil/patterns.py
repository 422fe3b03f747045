r"""Rule patterns: written in Python's syntax, matched by RE2 in time linear in the text.

Patterns in the indicator library, theatre topics and resolvers are meant with Python's
Unicode semantics (``\w``, ``\b``, ``\s``, ``\d`` over every script) but matched by RE2,
so that no pattern, such as ``(\w+\s?)+!``, can hang a run (docs/TEXT.md). RE2's ``\w``,
``\b``, ``\s`` and ``\d`` are ASCII-only, so a pattern is translated from Python's own
parse of it: ``\w`` becomes ``[\p{L}\p{N}_]``, ``\s`` and ``\d`` Python's code-point
lists, and each ``\b`` / ``\B`` a condition on the neighbouring characters, carried along
the pattern (at the pattern's edges one character of context is consumed and the reported
span excludes it). What RE2 cannot do in linear time (look-arounds, back-references,
conditionals, atomic groups, possessive quantifiers) raises :class:`PatternError`, which
the spec loader reports with the file and key.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import re2

try:  # private, but stable since 3.11: Python's own parse of a pattern
    from re import _constants as _sre_c
    from re import _parser as _sre_p
except ImportError:  # pragma: no cover - a future Python
    _sre_c = _sre_p = None

_MAXCP = 0x10FFFF
_RE2_MAX_REPEAT = 1000
_UNROLL = 8


class PatternError(ValueError):
    """A pattern the linear-time engine cannot run; ``construct`` names what it uses."""

    def __init__(self, construct: str, why: str) -> None:
        super().__init__(f"{construct}: {why}")
        self.construct = construct
        self.why = why


_REFUSED = {
    "ASSERT": ("look-around", "(?=…) / (?<=…)"),
    "ASSERT_NOT": ("negative look-around", "(?!…) / (?<!…)"),
    "GROUPREF": ("back-reference", "\\1, (?P=name)"),
    "GROUPREF_EXISTS": ("conditional group", "(?(1)…|…)"),
    "POSSESSIVE_REPEAT": ("possessive quantifier", "*+, ++, ?+, {m,n}+"),
    "ATOMIC_GROUP": ("atomic group", "(?>…)"),
}
REFUSED_HINT = (
    "rule patterns run on RE2, which matches in time linear in the text and so has no "
    "look-arounds, back-references, conditionals, atomic groups or possessive quantifiers: "
    "rewrite the pattern without it (e.g. move an exclusion into the rule's `exclude`)"
)


@functools.cache
def _table(category: str) -> tuple[tuple[int, int], ...]:
    """Python's Unicode ``\\d`` or ``\\s`` as code-point ranges."""
    every = "".join(map(chr, range(0xD800))) + "".join(map(chr, range(0xE000, _MAXCP + 1)))
    found = []
    for m in re.finditer(f"\\{category}+", every):
        lo, hi = ord(m.group()[0]), ord(m.group()[-1])
        if found and found[-1][1] == 0xD7FF and lo == 0xE000:  # the gap of the surrogates
            lo = found.pop()[0]
        found.append((lo, hi))
    return tuple(found)


def _norm(ranges) -> tuple[tuple[int, int], ...]:
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((a, b) for a, b in out)


def _invert(ranges) -> tuple[tuple[int, int], ...]:
    out, at = [], 0
    for lo, hi in _norm(ranges):
        if lo > at:
            out.append((at, lo - 1))
        at = hi + 1
    if at <= _MAXCP:
        out.append((at, _MAXCP))
    return tuple(out)


def _meet(a, b) -> tuple[tuple[int, int], ...]:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


_WORD_ITEMS = "\\p{L}\\p{N}_"  # RE2's letters, digits and numerals, and the underscore
_EXPLICIT = 200  # ranges a class may list before it is written as a complement


@functools.cache
def _word() -> tuple[tuple[int, int], ...]:
    """Word characters: Python's ``\\w`` (``str.isalnum`` or ``_``), as RE2 knows them.

    They are the same characters, except code points Python's Unicode tables (14.0 in
    Python 3.11) leave unassigned but RE2's newer ones make letters; :func:`_emit_class`
    writes this set as ``[\\p{L}\\p{N}_]``."""
    every = "".join(map(chr, range(0xD800))) + "".join(map(chr, range(0xE000, _MAXCP + 1)))
    found: list[tuple[int, int]] = []
    for m in re2.finditer(f"[{_WORD_ITEMS}]+", every):
        lo, hi = ord(m.group()[0]), ord(m.group()[-1])
        if found and found[-1][1] == 0xD7FF and lo == 0xE000:
            lo = found.pop()[0]
        found.append((lo, hi))
    return tuple(found)


def _ranges_text(ranges) -> str:
    parts = []
    for lo, hi in ranges:
        for a, b in ((lo, min(hi, 0xD7FF)), (max(lo, 0xE000), hi)):  # no surrogates
            if a <= b:
                parts.append(_char(a) if a == b else f"{_char(a)}-{_char(b)}")
    return "".join(parts)


@functools.cache
def _emit_class(ranges) -> str:
    """RE2 syntax for the set ``ranges``, short where it is (near) the word set or a
    complement: ``.`` is ``[^\\n]``, ``\\W`` is ``[^\\p{L}\\p{N}_]``."""
    if len(ranges) <= _EXPLICIT:
        return f"[{_ranges_text(ranges)}]"
    rest = _invert(ranges)
    if len(rest) <= _EXPLICIT:
        return f"[^{_ranges_text(rest)}]"
    words, others = _meet(ranges, _word()), _meet(ranges, _nonword())
    alts = []
    if words == _word():
        alts.append(f"[{_WORD_ITEMS}]")
    elif words:
        alts.append(f"[{_ranges_text(words)}]")
    if others:
        missing = _meet(_invert(others), _nonword())  # non-word characters not in the set
        alts.append(f"[^{_WORD_ITEMS}{_ranges_text(missing)}]")
    return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"


@functools.cache
def _nonword() -> tuple[tuple[int, int], ...]:
    return _invert(_word())


def _kind_set(kind: str):
    return _word() if kind == "W" else _nonword()


def _folded(c: int) -> set[int]:
    """``c`` and the characters Python's IGNORECASE equates with it."""
    ch = chr(c)
    out = {c}
    for v in (ch.lower(), ch.upper(), ch.casefold(), ch.swapcase()):
        if len(v) == 1:
            out.add(ord(v))
    return out


@dataclass(frozen=True)
class _Class:
    """A set of characters; ``folds``: emit under RE2's case folding (a plain set of
    literals and ranges), else the exact set (negations, ``\\w``-style categories, ``.``)."""

    ranges: tuple[tuple[int, int], ...]
    folds: bool

    def kind(self) -> str:
        return _kind(self.ranges)

    def restrict(self, kind: str | None) -> _Class | None:
        if kind is None:
            return self
        ranges = _restricted(self.ranges, kind)
        return _Class(ranges, self.folds) if ranges else None

    def emit(self) -> str:
        if len(self.ranges) == 1 and self.ranges[0][0] == self.ranges[0][1]:
            body = _char(self.ranges[0][0])
        else:
            body = _emit_class(self.ranges)
        return body if self.folds else f"(?-i:{body})"


@functools.cache
def _kind(ranges) -> str:
    if not _meet(ranges, _nonword()):
        return "W"
    if not _meet(ranges, _word()):
        return "N"
    return "?"


@functools.cache
def _restricted(ranges, kind: str):
    return _meet(ranges, _kind_set(kind))


def _char(c: int) -> str:
    ch = chr(c)
    return ch if ch.isalnum() and c < 0x10000 else f"\\x{{{c:x}}}"


def _class_of(op, av) -> _Class:
    key = (str(op), repr(av))
    found = _CLASSES.get(key)
    if found is None:
        found = _CLASSES[key] = _make_class(op, av)
    return found


_CLASSES: dict[tuple[str, str], _Class] = {}


def _make_class(op, av) -> _Class:  # noqa: C901 - one case per kind of item
    sre = _sre_c
    if op is sre.LITERAL:
        return _Class(((av, av),), True)
    if op is sre.NOT_LITERAL:
        return _Class(_invert([(c, c) for c in _folded(av)]), False)
    if op is sre.ANY:
        return _Class(_invert([(10, 10)]), False)
    negate, exact, ranges = False, False, []
    for iop, iav in av:
        if iop is sre.NEGATE:
            negate = True
        elif iop is sre.LITERAL:
            ranges.append((iav, iav))
        elif iop is sre.RANGE:
            ranges.append(iav)
        elif iop is sre.CATEGORY:
            exact = True
            name = str(iav).removeprefix("CATEGORY_").removeprefix("UNI_")
            base = {"WORD": _word, "DIGIT": lambda: _table("d"), "SPACE": lambda: _table("s")}
            if name.startswith("NOT_"):
                ranges += _invert(base[name[4:]]())
            else:
                ranges += base[name]()
        else:  # pragma: no cover - the parser makes nothing else inside [...]
            raise PatternError(str(iop), "not supported in a character class")
    if negate:
        if not exact:  # IGNORECASE: [^a] excludes A as well
            ranges = [(c, c) for lo, hi in ranges for x in range(lo, hi + 1) for c in _folded(x)]
        return _Class(_invert(ranges), False)
    return _Class(_norm(ranges), not exact)


# A state: (kind of the last character consumed: W word, N non-word, ? unknown;
# what the next character must be, set by a \b or \B: W, N (or the end) or None).
_State = tuple[str, str | None]


def _has_assertion(items) -> bool:
    sre = _sre_c
    for op, av in items:
        if op is sre.AT and av in (sre.AT_BOUNDARY, sre.AT_NON_BOUNDARY):
            return True
        if op is sre.SUBPATTERN and _has_assertion(av[-1]):
            return True
        if op is sre.BRANCH and any(_has_assertion(b) for b in av[1]):
            return True
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and _has_assertion(av[2]):
            return True
    return False


def _nullable(items) -> bool:
    sre = _sre_c
    for op, av in items:
        if op in (sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN):
            return False
        if op is sre.SUBPATTERN and not _nullable(av[-1]):
            return False
        if op is sre.BRANCH and not any(_nullable(b) for b in av[1]):
            return False
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and av[0] > 0 and not _nullable(av[2]):
            return False
    return True


def _alt(parts: list[str]) -> str:
    parts = list(dict.fromkeys(parts))
    return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"


class _Out(dict):
    """End state -> the alternatives reaching it (in the pattern's order)."""

    def add(self, state: _State, regex: str) -> None:
        self.setdefault(state, []).append(regex)


def _seq(items, state: _State, track: bool) -> _Out:
    cur: dict[_State, list[str]] = {state: [""]}
    items = list(items)
    for i, item in enumerate(items):
        rest = items[i + 1 :]
        # the last kind matters if a \b or \B may follow before something is consumed
        upto = []
        for it in rest:
            upto.append(it)
            if not _nullable([it]):
                break
        tracked = _has_assertion(upto) or (track and _nullable(rest))
        new: dict[_State, dict[str, list[str]]] = {}
        for st, prefixes in cur.items():
            pre = _alt(prefixes)
            for st2, regexes in _item(item, st, tracked).items():
                if not tracked and st2[1] is None:
                    st2 = ("?", None)  # nothing ahead looks at the last character
                new.setdefault(st2, {}).setdefault(_alt(regexes), []).append(pre)
        cur = {}
        for st2, by_r in new.items():
            cur[st2] = [
                _alt(pres) + r if len(pres) > 1 else pres[0] + r for r, pres in by_r.items()
            ]
    out = _Out()
    for st, regexes in cur.items():
        out[st] = regexes
    return out


def _item(item, state: _State, track: bool) -> _Out:  # noqa: C901 - one case per op
    sre = _sre_c
    op, av = item
    last, need = state
    out = _Out()
    if op in (sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN):
        cls = _class_of(op, av).restrict(need)
        if cls is None:
            return out
        kind = cls.kind()
        if track and kind == "?":
            for k in ("W", "N"):
                part = cls.restrict(k)
                if part is not None:
                    out.add((k, None), part.emit())
        else:
            out.add((kind, None), cls.emit())
        return out
    if op is sre.AT:
        if av in (sre.AT_BOUNDARY, sre.AT_NON_BOUNDARY):
            if last == "?":
                raise PatternError(
                    "\\b" if av is sre.AT_BOUNDARY else "\\B",
                    "placed where the character before it is unknown (after a repeat that "
                    "can match nothing)",
                )
            want = ("N" if last == "W" else "W") if av is sre.AT_BOUNDARY else last
            if need is None or need == want:
                out.add((last, want), "")
            return out
        if av in (sre.AT_BEGINNING, sre.AT_BEGINNING_STRING):
            out.add(("N", need), "^")
            return out
        if av in (sre.AT_END, sre.AT_END_STRING):
            if need != "W":
                out.add(("N", None), "\\n?\\z" if av is sre.AT_END else "\\z")
            return out
        raise PatternError(str(av), "this anchor is not supported")
    if op is sre.SUBPATTERN:
        _group_flags(av[1], av[2])
        return _seq(av[-1], state, track)
    if op is sre.BRANCH:
        for branch in av[1]:
            for st, regexes in _seq(branch, state, track).items():
                for r in regexes:
                    out.add(st, r)
        return out
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
        return _repeat(av, state, track, lazy=op is sre.MIN_REPEAT)
    name = str(op)
    if name in _REFUSED:
        what, syntax = _REFUSED[name]
        raise PatternError(f"{what} {syntax}", "RE2 cannot run it in linear time")
    raise PatternError(name, "not supported by RE2")  # pragma: no cover


def _group_flags(add: int, remove: int) -> None:
    if (add | remove) & ~(re.IGNORECASE | re.UNICODE | re.VERBOSE):  # (?x): parse only
        raise PatternError("an inline flag such as (?s) or (?m)", "rule patterns take none")


def _repeat(av, state: _State, track: bool, lazy: bool) -> _Out:  # noqa: C901
    lo, hi, body = av[0], av[1], list(av[2])
    unbounded = hi == _sre_c.MAXREPEAT
    if max(lo, 0 if unbounded else hi) > _RE2_MAX_REPEAT:
        raise PatternError("a repeat count above 1000", "RE2 counts up to 1000")
    q = "?" if lazy else ""

    def rep(a: int, b: int | None) -> str:
        if b is not None and a == b:
            return "" if a == 0 else (f"(?:{plain}){{{a}}}" if a > 1 else f"(?:{plain})")
        return (
            f"(?:{plain})"
            + (
                {(0, None): "*", (1, None): "+"}.get((a, b))
                or ("?" if (a, b) == (0, 1) else f"{{{a},{'' if b is None else b}}}")
            )
            + q
        )

    out = _Out()
    if _has_assertion(body):
        if unbounded or hi > _UNROLL:
            raise PatternError(
                "\\b inside a repeat", f"allowed only in a repeat of at most {_UNROLL}"
            )
        # unrolled: lo copies, then hi - lo optional ones, each tracked
        copies = [(_sre_c.SUBPATTERN, (None, 0, 0, body))] * lo
        opt: list = []
        for _ in range(hi - lo):
            inner = [(_sre_c.SUBPATTERN, (None, 0, 0, body)), *opt]
            opt = [(_sre_c.BRANCH, (None, [inner, []] if not lazy else [[], inner]))]
        return _seq(copies + opt, state, track)
    plain_out = _seq(body, ("?", None), False)
    plain = _alt([r for rs in plain_out.values() for r in rs])
    last, need = state
    if lo == 0:
        out.add(state, "")
    if hi == 0:
        return out
    if need is None and not track:
        kinds = {st[0] for st in plain_out}
        kind = kinds.pop() if len(kinds) == 1 and (lo > 0 or last in kinds) else "?"
        regex = rep(lo, None if unbounded else hi)
        if lo == 0:
            out.pop(state)
        out.add((kind, None), regex)
        return out
    if _nullable(body):
        raise PatternError(
            "\\b next to a repeated group that can match nothing", "make the group consume"
        )
    if need is not None:  # the first copy takes the condition, the rest follow
        rest = (max(lo - 1, 0), hi if unbounded else hi - 1)
        first = _seq(body, state, track and rest[0] == 0)  # the last copy when no more
        for st, regexes in first.items():
            tail = _repeat((rest[0], rest[1], body), st, track, lazy)
            for st2, tails in tail.items():
                for r in regexes:
                    for t in tails:
                        out.add(st2, r + t)
        return out
    # tracked: the copies before the last one are plain, the last one is split
    before = rep(max(lo - 1, 0), None if unbounded else hi - 1)
    for st, regexes in _seq(body, ("?", None), True).items():
        for r in regexes:
            out.add(st, before + r)
    return out


@dataclass(frozen=True)
class CompiledPattern:
    """A rule pattern compiled for RE2: :meth:`search` for existence, :meth:`span` for where.

    ``starts`` / ``ends``: the marker groups that hold the match's own start and end when a
    character of context was consumed at an edge (empty when none is)."""

    source: str
    translated: str
    starts: tuple[int, ...] = ()
    ends: tuple[int, ...] = ()

    @functools.cached_property
    def _fast(self):
        return re2.compile(self.translated, _options(capture=False))

    @functools.cached_property
    def _spans(self):
        return re2.compile(self.translated, _options()) if self.starts else self._fast

    def search(self, text: str) -> bool:
        """Whether ``pattern`` occurs in ``text``."""
        return self._fast.search(text) is not None

    def span(self, text: str) -> tuple[int, int] | None:
        """The span of the leftmost match in ``text`` (None if none)."""
        m = self._spans.search(text)
        if m is None:
            return None
        if not self.starts:
            return m.span()
        start = next((m.start(g) for g in self.starts if m.start(g) != -1), m.start())
        end = next((m.start(g) for g in self.ends if m.start(g) != -1), m.end())
        return start, end


def _options(*, capture: bool = True) -> re2.Options:
    # The Unicode classes make DFAs larger than RE2's 8 MB default for ``.{0,80}``-style
    # gaps; RE2 then falls back to its (still linear) NFA and logs "DFA out of memory" on
    # stderr. More room keeps the DFA, and no logging keeps the terminal clean.
    opts = re2.Options()
    opts.never_capture = not capture
    opts.max_mem = 64 << 20
    opts.log_errors = False
    return opts


_NEVER = "[^\\x00-\\x{10ffff}]"


@functools.lru_cache(maxsize=4096)
def matches_empty(pattern: str) -> bool:
    """Whether ``pattern`` (a valid one) can match zero characters, as ``''``, ``a*``,
    ``(x)?`` or ``\\b`` do: it then matches every text (or every text with a word),
    whatever the words of the rule."""
    if _sre_p is None:  # pragma: no cover
        return re.search(pattern, "", re.IGNORECASE) is not None
    return _sre_p.parse(pattern, re.IGNORECASE).getwidth()[0] == 0


@functools.lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> CompiledPattern:
    """``pattern`` (Python syntax and Unicode semantics, case-insensitive) compiled for RE2.

    Raises :class:`PatternError` for what RE2 cannot run in linear time."""
    if _sre_p is None:  # pragma: no cover
        raise PatternError("this Python", "its regular-expression parser is unavailable")
    try:
        parsed = _sre_p.parse(pattern, re.IGNORECASE)
    except re.error as exc:
        raise PatternError("invalid syntax", str(exc)) from None
    except RecursionError:
        raise PatternError("deep nesting", "the pattern is nested too deeply") from None
    _group_flags(parsed.state.flags & ~re.IGNORECASE, 0)
    finals = {}
    for start in ("W", "N"):
        out = _seq(list(parsed), (start, None), False)
        finals[start] = [(r, need) for (_, need), rs in out.items() for r in rs]
    if finals["W"] == finals["N"] and all(need is None for _, need in finals["N"]):
        body = _alt([r for r, _ in finals["N"]]) if finals["N"] else _NEVER
        compiled = CompiledPattern(pattern, "(?i)" + body)
    else:
        compiled = _marked(pattern, finals)
    try:
        compiled._fast  # noqa: B018 - compile now, so a refusal comes at load
    except re2.error as exc:
        raise PatternError("a pattern RE2 cannot compile", str(exc)) from None
    return compiled


def _marked(pattern: str, finals) -> CompiledPattern:
    """One character of context consumed at the pattern's edges; groups mark the span."""
    word, other = _Class(_word(), False).emit(), _Class(_nonword(), False).emit()
    ends = {None: "", "W": word, "N": f"(?:\\z|{other})"}
    starts_at: list[int] = []
    ends_at: list[int] = []
    pieces: list[str] = []
    group = 0
    # (?:\A|non-word) share one copy: at the same place, \A is tried first
    for before, kind in ((f"(?:\\A|{other})", "N"), (word, "W")):
        if not finals[kind]:
            continue
        group += 1
        starts_at.append(group)
        alts = []
        for r, need in finals[kind]:
            group += 1
            ends_at.append(group)
            alts.append(f"{r}(){ends[need]}")
        pieces.append(f"{before}()" + ("(?:" + "|".join(alts) + ")" if len(alts) > 1 else alts[0]))
    translated = "(?i)(?:" + ("|".join(pieces) or _NEVER) + ")"
    return CompiledPattern(pattern, translated, tuple(starts_at), tuple(ends_at))

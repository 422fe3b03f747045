"""Tag a text match as a report of an OCCURRENCE or as a CLAIM, from cues near the match.

"Russian troops arrive in Belarus for drills" reports a deployment; "Russia denies troop
build-up in Belarus", "NATO warns Russia could use Belarus to attack Kyiv", "Could Belarus
join the war?" and "Belarus to hold drills with Russia" only talk about one. Counting both
alike would let talk about an escalation look like the escalation, so every match is tagged.

Window: the clause holding the match span. Sentences end at ``. ! ? …`` before a space (not
after one-letter abbreviations: ``U.S.``), at line breaks (the matcher puts one between title
and body) and at ``" | "``; clauses split at ``;``, spaced dashes and connectors that bring
in another event (EN *but, amid, as, while, after, despite*, PL *ale, lecz, mimo, w
obliczu*, RU *но, однако, на фоне*, UK *але, проте, на тлі, попри*, BE *аднак, на фоне*):
"troops arrive in Belarus amid fears of an attack" is an occurrence.

Cue categories, tried in the order of :data:`CATEGORIES`; the first found is returned as
``"category:cue"``: ``denial`` (denies, no plans; zaprzecza; отрицает; заперечує; адмаўляе),
``question`` (sentence ends in ``?``; PL *czy*, UK *чи*, BE *ці* first, RU *ли*),
``hypothetical`` (could, may, if, threat, fears, risk; może, groźba; может, если, угрожает;
може, якщо, погрожує; можа, пагражае), ``warning`` (warns, accuses, claims; ostrzega,
twierdzi; предупреждает, якобы; попереджає, нібито; папярэджвае), ``future`` (will, plans
to, preparing to, headline infinitives "Belarus to hold drills"; będzie, planuje; будет,
проведут; буде, проводитиме; будзе, правядуць), ``negation`` (not, nie, не, ні, няма).
Plain attribution ("says", "reportedly") is not a cue: that is how news reports facts.
The reasoning behind each choice is in docs/TEXT.md. The cues are one dict,
:data:`LEXICON`, versioned by :data:`LEXICON_VERSION`, which is part of every rule hash.
"""

from __future__ import annotations

import re
from functools import cache

from vigil.text.rules import normalise

LEXICON_VERSION = "claims-1"
CATEGORIES = ("denial", "question", "hypothetical", "warning", "future", "negation")

# Month "May" is not a modal: not after a preposition or a day number, not before a number.
_EN_MAY = (
    r"(?<!\bin )(?<!\bon )(?<!since )(?<!until )(?<!\bby )(?<!from )(?<!\bof )(?<!last )"
    r"(?<!next )(?<!this )(?<!early )(?<!late )(?<!mid-)(?<!\d )(?<!theresa )\bmay\b(?!\s*\d)"
)

LEXICON: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "denial": (
            r"\bden(?:y|ies|ied|ying|ial|ials)\b|\brefut\w*|\bnot true\b|\b(?:fake|hoax)\b",
            r"\b(?:reject|dismiss|rebuff)\w*\s+(?:\w+\s+){0,2}(?:reports?|claims?|allegations?"
            r"|accusations?|rumou?rs?|speculation|talk)\b|\bdisinformation\b",
            r"\bno (?:plans?|intention|signs?|evidence|indication|threat)\b",
            r"(?<!not )(?<!n't )\brul(?:e|es|ed|ing) out\b",
        ),
        "question": (r"^\s*(?:what if|whether)\b",),  # not "why": explainers presuppose the fact
        "hypothetical": (
            r"\b(?:could|might|would|can|if|unless|whether|in case)\b",
            _EN_MAY,
            r"\b(?:possib(?:le|ly|ility)|potential(?:ly)?|(?:un)?likel(?:y|ihood)|probabl[ey])\b",
            r"\bthreat\w*|\bfear(?:s|ed)?\b|\brisks?\b|\bdanger\b|\bscenarios?\b|\bprospects?\b",
            r"\bhypothetic\w*|\bspeculat\w*|\brumou?rs?\b|\b(?:consider\w*|mull\w*|weigh(?:s|ing)?)\b",
        ),
        "warning": (
            r"\bwarn\w*|\baccus\w*|\balleg\w*|\bclaim(?:s|ed|ing)?\b|\bsuspect\w*|\bblam\w*",
            r"\bbeliev\w*",
        ),
        "future": (
            r"\b(?:will|shall)\b|'ll\b|\bupcoming\b|\bnext (?:week|month|year)\b|\bschedul\w*",
            r"\b(?:going|set|poised|expected|about|ready|prepared|due) to\b",
            r"\bplan(?:s|ned|ning)?\b|\bintend\w*|\bintention|\bpropos\w*",
            r"\bprepar\w* (?:to|for)\b|\b(?:aim|seek|want|offer)(?:s|ed|ing)? to\b",
        ),
        "negation": (r"\bnot\b(?! only)|n't\b|\bnever\b|\bno longer\b|\bno\b",),
    },
    "pl": {
        "denial": (
            r"\bzaprzecz\w*|\bdement\w*|\bnieprawd\w*|\b(?:fake\w*|dezinformac\w*)",
            r"\bodrzuc\w*\s+(?:\w+\s+){0,2}(?:doniesie|zarzut|oskarż|informacj|spekulac|pogłos)",
            r"\bnie ma (?:planów|zamiaru|mowy)\b|\bbrak (?:planów|dowodów|sygnałów|oznak)\b",
            r"(?<!nie )\bwyklucz\w*",
        ),
        "question": (r"^\s*czy\b",),
        "hypothetical": (
            r"\b(?:może|mogą|mógł\w*|mogł\w*|mogli\w*|gdyby|jeśli|jeżeli|jakby)\b",
            r"\b\w+(?:łby|łaby|łoby|liby|łyby)\b|\bewentualn\w*|\bnie wyklucz\w*",
            r"\bmożliw\w*|\bprawdopodob\w*|\bpotencjaln\w*|\bhipotet\w*|\bspekul\w*",
            r"\b(?:groźb\w*|groźn\w*|grozi\w*|zagroż\w*)|\bryzyk\w*|\bobaw\w*|\bscenariusz\w*",
        ),
        "warning": (
            r"\bostrzeg\w*|\bostrzeż\w*|\boskarż\w*|\bzarzuc\w*|\btwierdz\w*",
            r"\brzekom\w*|\bdomniem\w*|\balarmuj\w*",
        ),
        "future": (
            r"\bbęd(?:zie|ą|ziemy|ziecie)\b|\bwkrótce\b|\bma zamiar\b|\bzamierz\w*",
            r"\bplan(?:uje|ują|owan\w*|y|ach|ie)?\b|\bszykuj\w*|\bgotow[iaey]\b",
            r"\bprzygotow\w*\s+(?:się\s+)?do\b|\bzapowi(?:ada|adają|edzia\w*|edź\w*)\b",
            r"\bma(?:ją)?\s+(?:\w+\s+)?\w+(?:ć|c)\b",
            r"\b(?:przeprowadz[ią]|rozmieśc[ią]|rozmieszczą|wyśl[eą]|rozpoczn[ią]e?|odbęd[ąz]\w*)\b",
        ),
        "negation": (r"\bnie\b|\bnigdy\b",),
    },
    "ru": {
        "denial": (
            r"\bотрица\w*|\bопроверг\w*|\bопроверж\w*|\bотверг\w*|\bотверга\w*",
            r"\bне планиру\w*|\bнет (?:планов|намерени\w*|угрозы|признаков)\b",
            r"(?<!не )\bисключ(?:ил|ила|или|ает|ают)\b|\b(?:фейк\w*|дезинформац\w*)",
        ),
        "question": (r"\bли\b|^\s*разве\b",),
        "hypothetical": (
            r"\b(?:может|могут|можем|могли?|могла|могло|бы|б|если)\b|\bне исключ\w*",
            r"\bвозможн\w*|\bвероятн\w*|\bпотенциальн\w*|\bгипотет\w*|\bслух\w*",
            r"\bугро[зж]\w*|\bриск\w*|\bопасени\w*|\bопаса\w*|\bсценари\w*",
        ),
        "warning": (
            r"\bпредупре[жд]\w*|\bпредостер\w*|\bобвин\w*|\bутвержда\w*|\bподозр\w*|\bякобы\b",
        ),
        "future": (
            r"\bбуд(?:ет|ут|ем|ете|у)\b|\bпланиру\w*|\bплан(?:ы|ов|ах|ами)?\b|\bпредстоящ\w*",
            r"\bнамерен\w*|\bнамерева\w*|\bсобира\w*ся\b|\bготов[аоы]?\b|\bготов(?:ит|ят)\w*",
            r"\b(?:проведу?т|проведёт|пройду?т|пройдёт|начну?т|начнёт|направя?т|направит"
            r"|отправя?т|разместя?т|разместит|переброся?т)\b",
        ),
        "negation": (r"\bне\b|\bнет\b|\bникогда\b",),
    },
    "uk": {
        "denial": (
            r"\bзапереч\w*|\bспростов\w*|\bспростува\w*|\bвідкида\w*|\bвідкину\w*",
            r"\bне плану\w*|\bнемає (?:планів|намірів|загрози|ознак)\b",
            r"(?<!не )\bвиключ(?:ив|ила|или|ає|ають)\b|\b(?:фейк\w*|дезінформац\w*)",
        ),
        "question": (r"^\s*чи\b|\bхіба\b",),
        "hypothetical": (
            r"\b(?:може|можуть|можемо|міг|могла|могло|могли|би|б|якщо|якби)\b|\bне виключ\w*",
            r"\bможлив\w*|\b[ій]мовірн\w*|\bпотенційн\w*|\bгіпотет\w*|\bчутк\w*",
            r"\bзагроз\w*|\bпогро[жз]\w*|\bризик\w*|\bпобоюван\w*|\bпобоюю\w*|\bсценар\w*",
        ),
        "warning": (
            r"\bпопере[дж]\w*|\bзастеріг\w*|\bзастеріга\w*|\bзвинува\w*|\bстверджу\w*",
            r"\bпідозр\w*|\bнібито\b",
        ),
        "future": (
            r"\bбуд(?:е|уть|емо|ете|у)\b|\bплану\w*|\bплан(?:и|ів|ах|ами)?\b|\bнамір\w*",
            r"\bзбира\w*ся\b|\bготу\w*|\bготов(?:ий|а|е|і)\b|\bнайближч\w*|\bмайбутн\w*",
            r"\b\w+(?:тиму|тимеш|тиме|тимемо|тимете|тимуть)\b",
            r"\b(?:проведу?ть|пройду?ть|розпочну?ть|почну?ть|направлять|направить"
            r"|відправлять|розмістять|розмістить|перекинуть)\b",
        ),
        "negation": (r"\bне\b|\bні\b|\bнемає\b|\bніколи\b",),
    },
    "be": {
        "denial": (
            r"\bадмаўля\w*|\bадмовіў\w*|\bабверг\w*|\bабвярга\w*",
            r"\bне плану\w*|\bняма (?:планаў|намераў|пагрозы)\b",
            r"\b(?:фэйк\w*|фейк\w*|дэзінфармац\w*)",
        ),
        "question": (r"^\s*ці\b",),
        "hypothetical": (
            r"\b(?:можа|могуць|можам|мог|магла|магло|маглі|бы|б)\b|\bне выключа\w*",
            r"\bмагчым\w*|\bверагодн\w*|\bпатэнцыйн\w*|\bсцэнар\w*",
            r"\bпагро[зж]\w*|\bпагража\w*|\bрызык\w*|\bасцярог\w*|\bбаяцца\b",
        ),
        "warning": (r"\bпапярэдж\w*|\bпапярэдзі\w*|\bабвінава\w*|\bсцвярдж\w*|\bнібыта\b",),
        "future": (
            r"\bбудз(?:е|ем|еце)\b|\bбуд(?:у|уць)\b|\bплану\w*|\bплан(?:ы|аў)?\b|\bнамер\w*",
            r"\bзбіра\w*(?:ся|цца)\b|\bрыхту\w*(?:ся|цца)\b|\bгатов(?:ы|а|ыя)?\b",
            r"\b(?:правядуць|правядзе|пройдуць|пройдзе|пачнуць|пачне|накіруюць|размесцяць"
            r"|перакінуць)\b",
        ),
        "negation": (r"\bне\b|\bняма\b|\bніколі\b",),
    },
}

# English headline infinitive ("Belarus to hold drills") is a plan, unless the "to" follows
# a finite verb whose complement it is ("troops arrive in Belarus to hold drills": a
# purpose, the arrival happened); verbs of intent before it are cued on their own.
HEADLINE_INFINITIVE = (
    r"\b(?:is |are )?to (?:send|deploy|hold|stage|conduct|station|host|move|build|boost|start"
    r"|begin|launch|join|resume|extend|create|form|receive|place|base|keep|return|withdraw"
    r"|pull|increase|expand|double|strengthen|reinforce|open|set up|train|take part|get|buy"
    r"|acquire|supply|transfer|redeploy|invade|attack|enter|strike|deliver|bring)\b"
)
FINITE_BEFORE_INFINITIVE = (
    r"\b(?:arriv\w*|sen(?:d|ds|t)|deploy(?:s|ed)|mov(?:es|ed|ing)|head(?:s|ed|ing)|gather\w*"
    r"|travel\w*|come|comes|came|coming|go|goes|went|return(?:s|ed)|flown|fl(?:y|ies|ew)"
    r"|br(?:ing|ings|ought)|transferr?(?:s|ed)|redeploy(?:s|ed)|dispatch(?:es|ed)|mass(?:es|ed)"
    r"|agree(?:s|d)?|order(?:s|ed)?|decide(?:s|d)?|plan\w*|set|poised|expected|due|going"
    r"|ready|prepared|prepar\w*|want\w*|aim\w*|seek\w*|hope\w*|intend\w*|threat\w*|vow\w*"
    r"|pledge\w*|promis\w*|call\w*|urg\w*|ask\w*|us(?:e|es|ed)|help\w*|enough|used)\b"
)

_SENTENCE = re.compile(r"(?<!\b\w)[.!?…]+(?=\s|$)|\n| \| ")
_CLAUSE = re.compile(
    r";|\s[-–—]\s|,?\s+(?:but|amid|amidst|while|whereas|after|despite"
    r"|(?<!such )(?<!well )as(?!\s+(?:well|part|many|much|long|soon|far|of|a result|if|though)\b)"
    r"|ale|lecz|mimo|w obliczu|podczas gdy|но|однако|на фоне|несмотря на|але|проте|на тлі"
    r"|попри|аднак|нягледзячы на)\s+"
)
_POLISH = re.compile(r"[ąćęłńśźż]")


@cache
def _compiled(language: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    cues = LEXICON[language]
    return tuple((cat, re.compile("|".join(f"(?:{p})" for p in cues[cat]))) for cat in CATEGORIES)


_INFINITIVE = re.compile(HEADLINE_INFINITIVE)
_FINITE = re.compile(FINITE_BEFORE_INFINITIVE)


def guess_language(text: str) -> str:
    """The lexicon language for a normalised text, from its letters (labels may be missing).

    Cyrillic: ``ў`` → be; ``ї є ґ`` → uk; ``і`` with ``ы``/``э`` → be; ``і`` → uk; else ru.
    Latin: a Polish letter (``ą ć ę ł ń ś ź ż``) → pl, else en.
    """
    if re.search(r"[\u0400-\u04ff]", text):
        if "ў" in text:
            return "be"
        if re.search(r"[їєґ]", text):
            return "uk"
        if "і" in text:
            return "be" if re.search(r"[ыэ]", text) else "uk"
        return "ru"
    return "pl" if _POLISH.search(text) else "en"


def sentence_bounds(text: str, pos: int) -> tuple[int, int, bool]:
    """Start, end and is-question of the sentence of ``text`` holding offset ``pos``."""
    start = 0
    for m in _SENTENCE.finditer(text):
        if m.end() > pos:
            return start, m.start(), "?" in m.group()
        start = m.end()
    return start, len(text), False


def clause_window(text: str, span: tuple[int, int] | None) -> tuple[str, bool]:
    """The clause of ``text`` around ``span`` (the first sentence if None), and is-question."""
    lo = 0 if span is None else max(0, min(span[0], len(text)))
    hi = lo if span is None else max(lo, min(span[1], len(text)))
    s_start, s_end, question = sentence_bounds(text, lo)
    sentence = text[s_start : max(s_end, min(hi, len(text)))]
    start, end = 0, len(sentence)
    for m in _CLAUSE.finditer(sentence):
        if m.end() <= lo - s_start:
            start = m.end()
        elif m.start() >= hi - s_start:
            end = m.start()
            break
    return sentence[start:end].strip(), question


def _languages(text: str, language: str | None) -> tuple[str, ...]:
    guessed = guess_language(text)
    if language in LEXICON and language != guessed:
        return (language, guessed)
    return (guessed,)


def _find(clause: str, languages: tuple[str, ...], category: str) -> str | None:
    for lang in languages:
        for cat, rx in _compiled(lang):
            if cat == category:
                m = rx.search(clause)
                if m:
                    return m.group().strip()
        if category == "future" and lang == "en":
            m = _INFINITIVE.search(clause)
            if m and not _FINITE.search(clause, 0, m.start()):
                return m.group().strip()
    return None


def classify(
    text: str, span: tuple[int, int] | None, language: str | None
) -> tuple[str, str | None]:
    """Tag a match: ``('occurrence', None)`` or ``('claim', 'category:cue')``.

    Parameters
    ----------
    text : str
        The raw text (title, a line break, body); normalised here like the matcher does.
    span : tuple of int or None
        The match span in ``normalise(text)`` (:meth:`CompiledRule.span`); None looks at
        the first sentence (the headline).
    language : str or None
        The document's language label; its cues are used together with those of the
        language guessed from the letters (:func:`guess_language`).
    """
    norm = normalise(text)
    clause, question = clause_window(norm, span)
    languages = _languages(norm, language)
    for category in CATEGORIES:
        if category == "question" and question:
            return "claim", "question:?"
        cue = _find(clause, languages, category)
        if cue is not None:
            return "claim", f"{category}:{cue}"
    return "occurrence", None

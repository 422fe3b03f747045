"""Claim tagging: hand-written sentences in EN, PL, RU, UK, BE with expected labels.

Each case is (text, anchor, expected): the anchor is the word a rule's last group would
match (the span), and expected is ``"occurrence"`` or the cue category of a claim. The
sentences are made up for these tests, not taken from any feed.
"""

from __future__ import annotations

import re

import pytest

from vigil.text.claims import (
    CATEGORIES,
    LEXICON,
    LEXICON_VERSION,
    classify,
    clause_window,
    guess_language,
)
from vigil.text.rules import normalise

OCC = "occurrence"

EN = [
    ("Russian troops arrive in Belarus for drills", "arrive", OCC),
    ("Belarus and Russia begin joint military exercises near Polish border", "begin", OCC),
    ("Russia deployed Iskander systems to Belarus last week", "deployed", OCC),
    ("Lukashenko says Russian units have arrived in Gomel region", "arrived", OCC),
    ("Russian troops arrive in Belarus amid fears of an attack on Kyiv", "arrive", OCC),
    ("Russian forces in Belarus moved closer to the border, satellite images show", "moved", OCC),
    ("Wagner fighters seen training Belarusian soldiers near Brest", "training", OCC),
    ("Belarus holds snap combat readiness check of its army", "holds", OCC),
    ("Russian troops arrive in Belarus to hold joint drills", "arrive", OCC),
    ("Troops massing in Belarus as NATO watches", "massing", OCC),
    ("Putin orders troops to move to Belarus", "move", OCC),
    ("Drone from Belarus crashed in Polish field, ministry says", "crashed", OCC),
    ("Belarus reported a drone violation of its airspace on Monday", "violation", OCC),
    ("Poland sends 10,000 soldiers to the border with Belarus", "sends", OCC),
    ("U.S. officials say Russian equipment is arriving in Belarus by train", "arriving", OCC),
    ("Russian troops arrive in Belarus in May, Ukraine says", "arrive", OCC),
    ("Russia denies troop build-up in Belarus", "build-up", "denial"),
    ("Minsk dismisses reports of Russian troops massing on the border", "massing", "denial"),
    ("Kremlin says there are no plans to deploy troops to Belarus", "deploy", "denial"),
    ("Belarus rules out joining the war in Ukraine", "joining", "denial"),
    ("Could Belarus join the war?", "join", "question"),
    ("Will Russian troops stay in Belarus after the drills?", "stay", "question"),
    ("NATO warns Russia could use Belarus to attack Kyiv", "attack", "hypothetical"),
    ("Russian troops may be sent to Belarus, analysts say", "sent", "hypothetical"),
    ("Belarus might join Russia's offensive in the spring", "join", "hypothetical"),
    ("If Belarus enters the war, Ukraine will strike back", "enters", "hypothetical"),
    ("Lukashenko threatens to send troops to the Polish border", "send", "hypothetical"),
    ("Fears of a Russian offensive from Belarus grow in Kyiv", "offensive", "hypothetical"),
    ("Russian troops in Belarus pose a possible threat to Kyiv", "troops", "hypothetical"),
    ("Ukraine warns of Russian troop build-up in Belarus", "build-up", "warning"),
    ("Poland accuses Belarus of planning border provocations", "provocations", "warning"),
    ("Kyiv claims Russian troops are preparing an offensive from Belarus", "offensive", "warning"),
    ("Belarus to hold drills with Russia next month", "drills", "future"),
    ("Russia plans to station nuclear weapons in Belarus", "station", "future"),
    ("Russian troops will remain in Belarus, Lukashenko says", "remain", "future"),
    ("Belarus is preparing to deploy troops to the Ukrainian border", "deploy", "future"),
    ("Lukashenko says Belarus will not send troops to Ukraine", "send", "future"),
    ("Russian troops did not arrive in Belarus, officials say", "arrive", "negation"),
]

PL = [
    ("Rosyjskie wojska przybyły na Białoruś na ćwiczenia", "przybyły", OCC),
    ("Rosja przerzuca sprzęt wojskowy na Białoruś", "przerzuca", OCC),
    ("Na Białorusi rozpoczęły się wspólne manewry z Rosją", "rozpoczęły", OCC),
    ("Białoruś przeprowadziła niespodziewaną kontrolę gotowości bojowej", "przeprowadziła", OCC),
    ("Wagnerowcy szkolą białoruskich żołnierzy przy granicy z Polską", "szkolą", OCC),
    ("Dron spadł na terytorium Polski, poinformowało wojsko", "spadł", OCC),
    ("Ukraina: Rosja przemieszcza na Białoruś sprzęt wojskowy", "przemieszcza", OCC),
    ("Polska wysłała dodatkowych żołnierzy na granicę z Białorusią", "wysłała", OCC),
    ("Rosyjskie wojska przybyły na Białoruś w obliczu obaw przed atakiem", "przybyły", OCC),
    ("Białoruskie śmigłowce naruszyły polską przestrzeń powietrzną", "naruszyły", OCC),
    ("Na Białoruś dotarł kolejny transport rosyjskich czołgów", "dotarł", OCC),
    ("Rosja rozmieściła broń jądrową na Białorusi, podał wywiad", "rozmieściła", OCC),
    ("Wojska białoruskie zostały postawione w stan gotowości", "postawione", OCC),
    ("Żołnierze rosyjscy opuścili poligon pod Brześciem", "opuścili", OCC),
    ("Rosja przerzuca wojska na Białoruś, ale Mińsk zaprzecza", "przerzuca", OCC),
    ("Białoruś zaprzecza, że rosyjskie wojska gromadzą się przy granicy", "gromadzą", "denial"),
    ("MON dementuje doniesienia o przerzucie wojsk na Białoruś", "przerzucie", "denial"),
    ("Kreml: nie ma planów wysłania wojsk na Białoruś", "wysłania", "denial"),
    ("Czy Białoruś przystąpi do wojny?", "przystąpi", "question"),
    ("Czy rosyjskie wojska zostaną na Białorusi", "zostaną", "question"),
    ("Rosja może użyć Białorusi do ataku na Kijów", "ataku", "hypothetical"),
    ("Białoruś mogłaby wysłać wojska na Ukrainę", "wysłać", "hypothetical"),
    ("Jeśli Białoruś wejdzie do wojny, NATO odpowie", "wejdzie", "hypothetical"),
    ("Łukaszenka grozi przerzuceniem wojsk na granicę z Polską", "przerzuceniem", "hypothetical"),
    ("Rośnie groźba ataku z Białorusi", "ataku", "hypothetical"),
    ("Ryzyko ataku z Białorusi rośnie, ostrzega wywiad", "ataku", "hypothetical"),
    ("Ukraina ostrzega przed koncentracją wojsk na Białorusi", "koncentracją", "warning"),
    ("Polska oskarża Białoruś o organizowanie prowokacji na granicy", "prowokacji", "warning"),
    ("Białoruś twierdzi, że polski dron naruszył jej przestrzeń", "naruszył", "warning"),
    ("Białoruś planuje ćwiczenia wojskowe z Rosją", "ćwiczenia", "future"),
    ("Rosyjskie wojska będą stacjonować na Białorusi", "stacjonować", "future"),
    ("Białoruś zamierza rozmieścić rosyjskie rakiety", "rozmieścić", "future"),
    ("Rosja wyśle kolejne wojska na Białoruś", "wyśle", "future"),
    ("Białoruś ma wysłać wojska na granicę", "wysłać", "future"),
    ("Rosyjskie wojska nie przybyły na Białoruś", "przybyły", "negation"),
]

RU = [
    ("Российские войска прибыли в Беларусь для учений", "прибыли", OCC),
    ("Россия перебросила технику в Белоруссию", "перебросила", OCC),
    ("В Беларуси начались совместные учения с Россией", "начались", OCC),
    ("Белорусская армия провела внезапную проверку боеготовности", "провела", OCC),
    ("Вагнеровцы обучают белорусских военных под Брестом", "обучают", OCC),
    ("Беспилотник упал на территории Польши, сообщило министерство", "упал", OCC),
    ("Российские подразделения разместились на аэродроме под Гомелем", "разместились", OCC),
    ("Польша направила дополнительные войска к границе с Беларусью", "направила", OCC),
    ("Российские войска прибыли в Беларусь на фоне опасений нападения", "прибыли", OCC),
    ("Белорусские вертолеты нарушили воздушное пространство Польши", "нарушили", OCC),
    ("В Беларусь прибыл очередной эшелон с российскими танками", "прибыл", OCC),
    ("Лукашенко сообщил о прибытии российских военных", "прибытии", OCC),
    ("Российские самолеты перелетели на белорусский аэродром", "перелетели", OCC),
    ("Россия разместила ядерное оружие в Беларуси, заявил Лукашенко", "разместила", OCC),
    ("Войска стягиваются к границе, однако Минск это отрицает", "стягиваются", OCC),
    ("Минск отрицает переброску российских войск к границе", "переброску", "denial"),
    ("Кремль опроверг сообщения о развертывании войск в Беларуси", "развертывании", "denial"),
    ("В Кремле заявили, что нет планов размещать войска в Беларуси", "размещать", "denial"),
    ("Вступит ли Беларусь в войну?", "вступит", "question"),
    ("Останутся ли российские войска в Беларуси", "останутся", "question"),
    ("Россия может использовать Беларусь для нападения на Киев", "нападения", "hypothetical"),
    ("Белорусская армия могла бы вступить в войну", "вступить", "hypothetical"),
    ("Если Беларусь вступит в войну, Украина ответит", "вступит", "hypothetical"),
    ("Лукашенко угрожает перебросить войска к границе с Польшей", "перебросить", "hypothetical"),
    ("Растут опасения наступления с территории Беларуси", "наступления", "hypothetical"),
    ("Возможное наступление из Беларуси обсуждают в Киеве", "наступление", "hypothetical"),
    ("Украина предупреждает о скоплении войск в Беларуси", "скоплении", "warning"),
    ("Польша обвиняет Беларусь в организации провокаций на границе", "провокаций", "warning"),
    ("Минск утверждает, что польский дрон нарушил границу", "нарушил", "warning"),
    ("Российские войска якобы прибыли в Беларусь", "прибыли", "warning"),
    ("Беларусь и Россия проведут совместные учения", "учения", "future"),
    ("Российские войска будут размещены в Беларуси", "размещены", "future"),
    ("Беларусь планирует разместить российские ракеты", "разместить", "future"),
    ("Беларусь готовится к учениям с Россией", "учениям", "future"),
    ("Российские войска не прибыли в Беларусь", "прибыли", "negation"),
]

UK = [
    ("Російські війська прибули до Білорусі на навчання", "прибули", OCC),
    ("Росія перекинула техніку до Білорусі", "перекинула", OCC),
    ("У Білорусі розпочалися спільні навчання з Росією", "розпочалися", OCC),
    ("Білоруська армія провела раптову перевірку боєготовності", "провела", OCC),
    ("Вагнерівці навчають білоруських військових біля Бреста", "навчають", OCC),
    ("Безпілотник впав на території Польщі, повідомило міністерство", "впав", OCC),
    ("Російські підрозділи розмістилися на аеродромі під Гомелем", "розмістилися", OCC),
    ("Польща направила додаткові війська до кордону з Білоруссю", "направила", OCC),
    ("Російські війська прибули до Білорусі на тлі побоювань наступу", "прибули", OCC),
    ("Білоруські гелікоптери порушили повітряний простір Польщі", "порушили", OCC),
    ("До Білорусі прибув черговий ешелон з російськими танками", "прибув", OCC),
    ("Лукашенко повідомив про прибуття російських військових", "прибуття", OCC),
    ("Російські літаки перелетіли на білоруський аеродром", "перелетіли", OCC),
    ("Росія розмістила ядерну зброю в Білорусі, заявив Лукашенко", "розмістила", OCC),
    ("Війська стягуються до кордону, проте Мінськ це заперечує", "стягуються", OCC),
    ("Мінськ заперечує перекидання російських військ до кордону", "перекидання", "denial"),
    ("Кремль спростував повідомлення про розгортання військ у Білорусі", "розгортання", "denial"),
    ("У Кремлі заявили, що немає планів розміщувати війська в Білорусі", "розміщувати", "denial"),
    ("Чи вступить Білорусь у війну?", "вступить", "question"),
    ("Чи залишаться російські війська в Білорусі", "залишаться", "question"),
    ("Росія може використати Білорусь для нападу на Київ", "нападу", "hypothetical"),
    ("Білоруська армія могла б вступити у війну", "вступити", "hypothetical"),
    ("Якщо Білорусь вступить у війну, Україна відповість", "вступить", "hypothetical"),
    ("Лукашенко погрожує перекинути війська до кордону з Польщею", "перекинути", "hypothetical"),
    ("Зростають побоювання наступу з території Білорусі", "наступу", "hypothetical"),
    ("Можливий наступ з Білорусі обговорюють у Києві", "наступ", "hypothetical"),
    ("Україна попереджає про скупчення військ у Білорусі", "скупчення", "warning"),
    ("Польща звинувачує Білорусь в організації провокацій на кордоні", "провокацій", "warning"),
    ("Мінськ стверджує, що польський дрон порушив кордон", "порушив", "warning"),
    ("Російські війська нібито прибули до Білорусі", "прибули", "warning"),
    ("Білорусь і Росія проведуть спільні навчання", "навчання", "future"),
    ("Російські війська будуть розміщені в Білорусі", "розміщені", "future"),
    ("Білорусь планує розмістити російські ракети", "розмістити", "future"),
    ("Білорусь проводитиме навчання з Росією", "навчання", "future"),
    ("Російські війська не прибули до Білорусі", "прибули", "negation"),
]

BE = [
    ("Расійскія войскі прыбылі ў Беларусь на вучэнні", "прыбылі", OCC),
    ("Расія перакінула тэхніку ў Беларусь", "перакінула", OCC),
    ("У Беларусі пачаліся сумесныя вучэнні з Расіяй", "пачаліся", OCC),
    ("Беларуская армія правяла раптоўную праверку баяздольнасці", "правяла", OCC),
    ("Вагнераўцы навучаюць беларускіх вайскоўцаў каля Брэста", "навучаюць", OCC),
    ("Беспілотнік упаў на тэрыторыі Польшчы, паведаміла міністэрства", "упаў", OCC),
    ("Расійскія падраздзяленні размясціліся на аэрадроме пад Гомелем", "размясціліся", OCC),
    ("Польшча накіравала дадатковыя войскі да мяжы з Беларуссю", "накіравала", OCC),
    ("Расійскія войскі прыбылі ў Беларусь на фоне асцярог наступу", "прыбылі", OCC),
    ("Беларускія верталёты парушылі паветраную прастору Польшчы", "парушылі", OCC),
    ("У Беларусь прыбыў чарговы эшалон з расійскімі танкамі", "прыбыў", OCC),
    ("Лукашэнка паведаміў пра прыбыццё расійскіх вайскоўцаў", "прыбыццё", OCC),
    ("Расійскія самалёты пераляцелі на беларускі аэрадром", "пераляцелі", OCC),
    ("Расія размясціла ядзерную зброю ў Беларусі, заявіў Лукашэнка", "размясціла", OCC),
    ("Войскі сцягваюцца да мяжы, аднак Мінск гэта адмаўляе", "сцягваюцца", OCC),
    ("Мінск адмаўляе перакідку расійскіх войскаў да мяжы", "перакідку", "denial"),
    ("Крэмль абверг паведамленні пра разгортванне войскаў у Беларусі", "разгортванне", "denial"),
    ("У Крамлі заявілі, што няма планаў размяшчаць войскі ў Беларусі", "размяшчаць", "denial"),
    ("Ці ўступіць Беларусь у вайну?", "ўступіць", "question"),
    ("Ці застануцца расійскія войскі ў Беларусі", "застануцца", "question"),
    ("Расія можа выкарыстаць Беларусь для нападу на Кіеў", "нападу", "hypothetical"),
    ("Беларуская армія магла б уступіць у вайну", "уступіць", "hypothetical"),
    ("Калі б Беларусь уступіла ў вайну, Украіна адказала б", "уступіла", "hypothetical"),
    ("Лукашэнка пагражае перакінуць войскі да мяжы з Польшчай", "перакінуць", "hypothetical"),
    ("Растуць асцярогі наступу з тэрыторыі Беларусі", "наступу", "hypothetical"),
    ("Магчымы наступ з Беларусі абмяркоўваюць у Кіеве", "наступ", "hypothetical"),
    ("Украіна папярэджвае пра скапленне войскаў у Беларусі", "скапленне", "warning"),
    ("Польшча абвінавачвае Беларусь у арганізацыі правакацый на мяжы", "правакацый", "warning"),
    ("Мінск сцвярджае, што польскі дрон парушыў мяжу", "парушыў", "warning"),
    ("Расійскія войскі нібыта прыбылі ў Беларусь", "прыбылі", "warning"),
    ("Беларусь і Расія правядуць сумесныя вучэнні", "вучэнні", "future"),
    ("Расійскія войскі будуць размешчаны ў Беларусі", "размешчаны", "future"),
    ("Беларусь плануе размясціць расійскія ракеты", "размясціць", "future"),
    ("Беларусь рыхтуецца да вучэнняў з Расіяй", "вучэнняў", "future"),
    ("Расійскія войскі не прыбылі ў Беларусь", "прыбылі", "negation"),
]

CASES = [
    (lang, *case)
    for lang, cases in (("en", EN), ("pl", PL), ("ru", RU), ("uk", UK), ("be", BE))
    for case in cases
]


def span_of(text: str, anchor: str) -> tuple[int, int]:
    norm = normalise(text)
    start = norm.index(normalise(anchor))
    return start, start + len(anchor)


@pytest.mark.parametrize("cases", [EN, PL, RU, UK, BE])
def test_enough_cases_per_language(cases):
    assert len(cases) >= 30
    kinds = {expected for _, _, expected in cases}
    assert kinds == {OCC, *CATEGORIES}  # every category, and occurrences, in every language


@pytest.mark.parametrize(("lang", "text", "anchor", "expected"), CASES)
def test_classify(lang, text, anchor, expected):
    kind, cue = classify(text, span_of(text, anchor), lang)
    if expected == OCC:
        assert (kind, cue) == (OCC, None)
    else:
        assert kind == "claim"
        assert cue.split(":", 1)[0] == expected, cue


@pytest.mark.parametrize(("lang", "text", "anchor", "expected"), CASES[::7])
def test_classify_without_language_label(lang, text, anchor, expected):
    # Missing labels: the language is guessed from the letters, with the same outcome.
    assert classify(text, span_of(text, anchor), None) == classify(
        text, span_of(text, anchor), lang
    )


def test_headline_and_body_are_separate_sentences():
    text = "Russian troops arrive in Belarus\nMinsk denies any plans for an offensive."
    assert classify(text, span_of(text, "arrive"), "en") == (OCC, None)
    assert classify(text, span_of(text, "offensive"), "en")[1] == "denial:denies"
    text = "Drills in Belarus begin.\nCould they be a cover for an attack?"
    assert classify(text, span_of(text, "begin"), "en") == (OCC, None)
    assert classify(text, span_of(text, "attack"), "en") == ("claim", "question:?")
    # no span: the first sentence, i.e. the headline
    assert classify("Could Belarus join the war?\nTroops arrive.", None, "en")[0] == "claim"
    assert classify("Troops arrive.\nCould Belarus join?", None, "en") == (OCC, None)


def test_clause_window():
    norm = normalise("U.S. says troops arrive in Belarus, but Minsk denies it. Next sentence?")
    clause, question = clause_window(norm, span_of(norm, "arrive"))
    assert clause == "u.s. says troops arrive in belarus" and not question
    clause, question = clause_window(norm, span_of(norm, "sentence"))
    assert clause == "next sentence" and question
    # "as" starts another clause, "such as" does not
    norm = normalise("Units such as tanks arrive as fears grow")
    assert clause_window(norm, span_of(norm, "arrive"))[0] == "units such as tanks arrive"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Troops arrive", "en"),
        ("Wojska przybyły", "pl"),
        ("Войска прибыли", "ru"),
        ("Війська прибули", "uk"),
        ("Войскі прыбылі ў Беларусь", "be"),
        ("Войскі прыбылі", "be"),
    ],
)
def test_guess_language(text, lang):
    assert guess_language(normalise(text)) == lang


def test_lexicon_is_complete_and_compiles():
    assert LEXICON_VERSION
    assert set(LEXICON) == {"en", "pl", "ru", "uk", "be"}
    for lang, cues in LEXICON.items():
        assert set(cues) == set(CATEGORIES), lang
        for category, patterns in cues.items():
            assert patterns, (lang, category)
            for p in patterns:
                re.compile(p)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Troops may arrive in Belarus", "claim"),
        ("Troops arrived in Belarus on May 9", OCC),
        ("Troops arrived in Belarus since May", OCC),
        ("Troops arrived in Belarus on 9 May", OCC),
        ("Troops arrived in Belarus last May", OCC),
    ],
)
def test_may_is_a_modal_not_the_month(text, expected):
    assert classify(text, span_of(text, "arrive"), "en")[0] == expected

"""A brief as its topic and its facts: what the offline writer narrates and puts on title cards.

A brief usually frames a request ("A promo for a bakery: ...") and then lists
what it is about. The framing gives the topic; each clause, list item, offer,
time, date or price after it becomes one fact with its own on-screen phrase.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aura.languages import FUNCTION_WORDS

# a request's framing: "make a 30-second promo for", "A 2-minute explainer on", "video about"
_KINDS = (
    r"video|vídeo|vidéo|explainer|documentary|documental|documentaire|documentario|dokumentation|doku|tutorial|tutoriel"
    r"|anleitung|promo|ad|advert|anuncio|annonce|publicité|werbung|werbevideo|spot|story|historia|histoire|geschichte"
    r"|storia|história|clip|short|film|filme|overview|introduction|intro|guide|guía|guida|erklärvideo"
)
# a contraction of a preposition and an article leaves its article to the topic: "sulla storia" is "la storia"
_CONTRACTED = {"sulla": "la", "sullo": "lo", "sul": "il", "sugli": "gli", "sulle": "le", "sui": "i", "della": "la",
               "dello": "lo", "degli": "gli", "delle": "le", "dei": "i", "du": "le", "des": "les", "au": "le",
               "aux": "les", "dos": "os", "das": "as", "do": "o", "da": "a", "del": "el", "al": "el"}  # fmt: skip
_ABOUT = (
    r"on|about|of|explaining|that explains|showing|covering|for|sobre|de|para|acerca de|sur|pour|à propos de"
    r"|über|zu|zum|zur|von|für|su|di|per|" + "|".join(sorted(_CONTRACTED, key=len, reverse=True))
)
# what may stand before a date and goes with it on a card: "in 1476", "around 1450", "um 1860"
_DATE_WORDS = frozenset(
    "in around by since circa about from until the c ca um im seit ab bis en hacia desde hasta vers depuis dès "
    "nel nell dal fino intorno em até por volta année año jahr anno".split()
)
LEAD_IN = re.compile(
    r"^\s*(?:please\s+)?(?:explain|describe|teach|present|introduce|show(?:\s+(?:me|us))?|tell\s+(?:me|us)\s+about"
    r"|explica|explique[zr]?|erkläre|erklär|spiega|explique|describe|décris|beschreibe|descrivi|descreva)\s+"
    r"|^\s*(?:please\s+)?(?:(?:make|create|produce|generate|write|give)\s+(?:me\s+|us\s+)?)?"
    r"(?:(?:a|an|the|un|una|une|uno|um|uma|ein|eine|einen|el|la|le|il|lo|o)\s+)?(?:[\w\-]+\s+){0,3}?"
    rf"(?:{_KINDS})\s*(?:(?P<about>{_ABOUT})\b)?\s+",
    re.IGNORECASE,
)
_DURATION_WORDS = re.compile(
    r"\b\d+([.,]\d+)?[\s-]*(?:seconds?|secs?|minutes?|mins?|hours?|segundos?|minutos?|secondes?|sekunden|minuten|secondi|minuti)\b[\s-]*",
    re.IGNORECASE,
)
_ASPECT = re.compile(r"[,;]?\s*\b(?:9:16|16:9|1:1|4:5|vertical|portrait|landscape|square)\b", re.IGNORECASE)
_AUDIENCE = re.compile(
    r"[,;]?\s+(?:for|para|pour|für|per)\s+((?:an?\s+|the\s+|los\s+|las\s+|les\s+|os\s+|as\s+|i\s+|gli\s+)?[\w\- ]{2,60}?)\s*(?:[,;.]|$)",
    re.IGNORECASE,
)
# sentence ends, line breaks and list bullets; "5 a.m., 20%" is not a sentence end
_SENTENCE = re.compile(r"(?<=[.!?。！？])(?<![ap]\.m\.)\s+(?=[^\s\d])|\s*\n+\s*")
_BULLET = re.compile(r"^\s*(?:[-*•▪–]|\d{1,2}[.)]|[a-z][)])\s+", re.IGNORECASE)
_NUMBERED = re.compile(r"^\s*\d{1,2}[.)]\s+")
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})(?:s\b)?")
_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"[^\W\d_]+")
PHRASE_WORDS = 6  # the most words a title card shows


@dataclass(frozen=True)
class Fact:
    """One thing the brief (or a document) says, as written there."""

    text: str  # a sentence: capitalized, ending with a period
    phrase: str  # at most six of its words, for the title card
    kind: str  # offer, when, where, step, dated, number or claim
    order: int  # its place in the brief
    year: int | None = None
    rank: int = 0  # a document sentence's place in the summary's ranking (best first)
    source: dict = field(default_factory=dict)  # {"document": name, "page": n} for a document's sentence


@dataclass(frozen=True)
class Brief:
    topic: str  # a noun phrase: "a bakery", "how volcanoes form"
    audience: str | None
    framed: bool  # the first sentence was a request's framing, not content
    question: bool  # the brief asks a question the video answers
    facts: list[Fact]


def read_brief(brief: str, audience: str | None, pack: dict) -> Brief:
    """The brief's topic, audience and facts, in its order."""
    text = _unwrap(brief)
    sentences = _sentences(text)
    if not sentences:
        return Brief(brief.strip()[:60], audience, True, False, [])
    first = sentences[0]
    head, colon, rest = first.partition(":")
    facts_text: list[str] = []
    announced = None
    framed = bool(LEAD_IN.match(_strip_request_words(head)))
    if first.endswith(":") or colon and rest.strip() and (framed or len(head.split()) <= 6) and not _DIGIT.search(head[-2:]):
        topic, found_audience = topic_and_audience(head, pack["code"])
        facts_text, framed = [rest.strip()], True
        announced = facts_text[0]  # what follows "A promo for a bakery:" is a list, even of two items
    elif framed or (len(sentences) == 1 and len(first.split()) <= 12):
        # "A story about a keeper who finds a puppy; the two wait out the storm": the framing ends at the semicolon
        framing, _, told = first.partition(";")
        topic, found_audience = topic_and_audience(framing, pack["code"])
        facts_text = [told.strip()] if told.strip() else []
        framed = True
    else:
        topic, found_audience = key_phrase(first), None
        facts_text = [first]
    question = framed and is_question(topic, first)
    facts_text += sentences[1:]
    facts = []
    for sentence in facts_text:
        step = bool(_NUMBERED.match(sentence))
        for item in split_items(_BULLET.sub("", sentence), announced=sentence is announced):
            facts.append(make_fact(item, len(facts), pack, step=step))
    return Brief(topic, audience or found_audience, framed, question, facts)


def _sentences(text: str) -> list[str]:
    """Sentences line by line: a list item's marker ("1.", "-") stays with its line, never a sentence of its own."""
    sentences = []
    for line in text.splitlines():
        marker = _BULLET.match(line)
        parts = [p.strip() for p in _SENTENCE.split(line[marker.end() :] if marker else line) if p.strip()]
        if marker and parts:
            parts[0] = marker.group(0).strip() + " " + parts[0]
        sentences.extend(parts)
    return sentences


def _unwrap(brief: str) -> str:
    """A quoted or bracketed list becomes a plain one: 'a bakery ("x, y")' reads 'a bakery: x, y'; an inline
    numbered list ("1. Mix ... 2. Heat ...") gets a line per item. Other brackets and quotes are the user's text."""
    text = _numbered_lines(brief)
    text = re.sub(r"\s*\(\s*[\"“]([^()\"“”]+)[\"”]\s*\)", r": \1", text)  # ("...")
    text = re.sub(r"\s*\(([^()]+,[^()]+)\)\s*(?=[.!?]?$)", r": \1", text)  # (a, b, c) at the very end
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def _numbered_lines(text: str) -> str:
    markers = list(re.finditer(r"(?:^|(?<=\s))(\d{1,2})[.)]\s+(?=[^\W\d_])", text))
    numbers = [int(m.group(1)) for m in markers]
    if len(numbers) < 2 or numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        return text
    for marker in reversed(markers):
        text = f"{text[: marker.start()].rstrip()}\n{text[marker.start():]}"
    return text


def _strip_request_words(text: str) -> str:
    return _ASPECT.sub("", _DURATION_WORDS.sub("", text))


def topic_and_audience(sentence: str, language: str = "en") -> tuple[str, str | None]:
    """The topic of a framing sentence ("A 2-minute explainer on how volcanoes form, for teenagers")."""
    text = _strip_request_words(sentence)
    framing = LEAD_IN.match(text)
    if framing:
        text = text[framing.end() :]
        about = (framing.group("about") or "").lower()
        if about in _CONTRACTED and not (about == "del" and language == "it"):
            text = f"{_CONTRACTED[about]} {text}"
        elif about == "del":  # Italian "del" is "di il"
            text = f"il {text}"
    audience = None
    found = _AUDIENCE.search(text)
    if found and found.start() > 0:
        audience = found.group(1).strip()
        text = text[: found.start()] + text[found.end() - (1 if found.group(0).endswith((",", ";", ".")) else 0) :]
    # a topic is a noun phrase: what follows its first comma ("with a simple example") is an instruction
    text = re.split(r"\s*[,;]\s", text.strip(" ,;:.!?-"), maxsplit=1)[0].strip(" ,;:.!?-")
    words = text.split()
    if len(words) > 12:  # a long first sentence: keep its opening as the topic
        text = " ".join(words[:12])
    return (text or sentence[:60]).strip(), audience


_QUESTION_WORDS = {"why", "what", "when", "where", "who", "which", "whose", "is", "are", "can", "could", "do",
                   "does", "did", "will", "would", "should", "has", "have"}  # fmt: skip
_AUXILIARIES = {"do", "does", "did", "is", "are", "can", "could", "will", "would", "should", "much", "many", "long", "far"}


def is_question(topic: str, sentence: str) -> bool:
    words = topic.lower().split()
    if not words:
        return False
    return (
        sentence.rstrip().endswith("?")
        or words[0] in _QUESTION_WORDS
        or (words[0] == "how" and len(words) > 1 and words[1] in _AUXILIARIES)
    )


def split_items(sentence: str, announced: bool = False) -> list[str]:
    """A sentence as its list items: semicolons always part it, commas when it is a list of short items
    (two are enough after a colon that announced them, when each has a few words of its own)."""
    items: list[str] = []
    for part in (p.strip() for p in sentence.split(";")):
        if not part:
            continue
        pieces = [p.strip() for p in re.split(r",\s+(?![^\W\d_]*\d)|,\s+(?=\d)", part) if p.strip()]
        pieces = _merge_bare(pieces)
        numbered = all(_DIGIT.search(p) for p in pieces)  # "on June 14 at Pier 39, from 10am to 4pm"
        short = all(len(p.split()) <= (16 if numbered else 12) for p in pieces)
        # two items make a list when each has a few words of its own ("up 12.5%" belongs to its sentence)
        # and either both hold a number or a colon announced them
        pair = len(pieces) == 2 and all(len(p.split()) >= 3 for p in pieces) and (numbered or announced)
        listed = len(pieces) >= 3 or pair
        items.extend(pieces if short and listed else [part])
    return items


def _merge_bare(pieces: list[str]) -> list[str]:
    """A piece of a word or two without a number ("San Francisco", "daily") or with no word at all
    ("7:00–15:00") belongs to the one before it."""
    merged: list[str] = []
    for piece in pieces:
        words = len(_WORD.findall(piece))
        if merged and (words < 1 or words < 3 and not _DIGIT.search(piece)):
            merged[-1] = f"{merged[-1]}, {piece}"
        else:
            merged.append(piece)
    return merged


_CONJUNCTION = re.compile(r"^(?:and|but|or|plus|y|e|et|und|oder|o|ou|mais|pero|ma|aber)\s+", re.IGNORECASE)


def opens_with_step(text: str, pack: dict) -> bool:
    """The fact says its own place in a sequence ("Then heat the pan"): it needs no "Next," in front."""
    lowered = text.lower()
    return any(
        re.match(rf"{re.escape(entry.rstrip('*'))}" + ("" if entry.endswith("*") else r"\b"), lowered)
        for entry in pack["step_words"]
    )


def make_fact(
    item: str, order: int, pack: dict, step: bool = False, source: dict | None = None, rank: int = 0
) -> Fact:
    text = _CONJUNCTION.sub("", item.strip().strip(",;:"))  # "..., and the first 30 days are free"
    text = text[:1].upper() + text[1:]
    if not text.endswith((".", "!", "?", "。", "！", "？")):
        text += "."
    year = _YEAR.search(text)
    kind = "step" if step else kind_of(text, pack)
    return Fact(
        text=text,
        phrase=_dated_phrase(text, year.group(1)) if kind == "dated" else key_phrase(text, kind == "offer"),
        kind=kind,
        order=order,
        year=int(year.group(1)) if year else None,
        rank=rank,
        source=dict(source or {}),
    )


def _dated_phrase(sentence: str, year: str) -> str:
    """A dated fact's card leads with its date: "1476: Caxton brought printing to England"."""
    found = re.search(rf"(?:\b(Q[1-4])\s+|\b([^\W\d_]{{1,6}})\s+(?:the\s+)?)?\b{year}(s?)\b[,:]?", sentence)
    if not found:
        return key_phrase(sentence)
    start = found.start()
    if found.group(2) and found.group(2).lower() not in _DATE_WORDS:  # "baute 1817": the verb stays
        start = found.start(2) + len(found.group(2))
    lead = f"{found.group(1) + ' ' if found.group(1) else ''}{year}{found.group(3)}"
    rest = sentence[:start] + " " + sentence[found.end() :]
    rest = re.sub(r"\s+([.,;:!?])", r"\1", " ".join(rest.split())).strip(" ,;:")
    rest = rest[:1].upper() + rest[1:]
    return f"{lead}: {trim_phrase(rest.split()[: PHRASE_WORDS - len(lead.split())])}" if rest.strip(" .") else lead


def key_phrase(sentence: str, around_number: bool = False) -> str:
    """At most six words of a sentence for its title card: the whole of a short one, else its first clause.

    For an offer, a clause that leaves out its first number gives way to six words around it:
    "Croissants are 20% off" says more than "Croissants are".
    """
    words = sentence.split()
    if len(words) > PHRASE_WORDS:
        clause = re.split(r"[,;:—–(]\s", sentence, maxsplit=1)[0].split()[:PHRASE_WORDS]
        number_at = next((i for i, w in enumerate(words) if _DIGIT.search(w)), None)
        if around_number and number_at is not None and number_at >= len(clause):
            start = max(0, min(number_at - 2, len(words) - PHRASE_WORDS))
            clause = words[start : start + PHRASE_WORDS]
        words = clause
    phrase = trim_phrase(words)
    return phrase[:1].upper() + phrase[1:] or sentence[:40]


def trim_phrase(words: list[str]) -> str:
    """Words joined for a card: no dangling "to" or "of" at the end, no sentence punctuation."""
    words = list(words)
    while len(words) > 2 and words[-1].strip(",;:.").lower() in FUNCTION_WORDS:
        words.pop()
    return unended(" ".join(words).strip(" ,;:!?"))


def unended(text: str) -> str:
    """A sentence without its final stop ("5 a.m." keeps its abbreviation's period)."""
    return text if re.search(r"\b\w\.\w\.$", text) else text.rstrip(".!?。！？")


def kind_of(text: str, pack: dict) -> str:
    lowered = text.lower()
    words = _WORD.findall(lowered)

    def marked(vocabulary: list[str]) -> bool:
        return any(
            (w.startswith(entry[:-1]) if entry.endswith("*") else w == entry) for entry in vocabulary for w in words
        ) or any(" " in entry and entry in lowered for entry in vocabulary)

    if marked(pack["offer_words"][:4]) or marked(pack["offer_words"]) and _DIGIT.search(text):
        return "offer"
    # opening hours: a range of times or days, or the pack's first word for it ("open") with a time or a day
    ranged = re.search(
        rf"\d{{1,2}}(?:[:.h]\d{{2}}|\s?[ap]\.?m\.?)\s*(?:[-–—]|{pack['to']}|to|until)\s*\d"
        r"|[^\W\d_]{2,5}\.?\s*[-–—]\s*[^\W\d_]{2,5}\b",
        lowered,
    )
    # a day's name, or an abbreviation of three letters or more ("so" and "do" are German words too)
    names = {name.lower() for name in pack["days"].values()} | {a for a in pack["days"] if len(a) >= 3}
    days = bool(names & set(words))
    if ranged and (days or _DIGIT.search(text)) or marked(pack["open_words"]) and (days or _DIGIT.search(text)):
        return "when"
    if _YEAR.search(text):
        return "dated"
    if _is_place(text, pack):
        return "where"
    if _DIGIT.search(text):
        return "number"
    return "claim"


def _is_place(text: str, pack: dict) -> bool:
    """An address or a place: a word like "street" or "visit", or a short preposition before a name ("at Pier 39")."""
    prepositions = [w for w in pack["where_words"] if len(w) <= 3 and " " not in w]
    places = [w for w in pack["where_words"] if w not in prepositions]
    lowered = text.lower()
    for entry in places:
        stem = entry.rstrip("*")
        pattern = rf"\b{re.escape(stem)}" + ("" if entry.endswith("*") else r"\b")
        if re.search(pattern, lowered):
            return True
    body = text.split(maxsplit=1)[1] if " " in text else ""  # the first word is capitalized anyway
    return any(re.search(rf"\b{re.escape(p)}\s+[A-ZÀ-Þ]", body) for p in prepositions)

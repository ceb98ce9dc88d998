"""The offline script writer: deterministic and rule-based, the model `aura/offline`.

It cannot know facts a brief does not hold, so it does what a careful human
would with no sources: it uses the brief's own sentences first, in order, then
the sentences of the reference passages it was given (most relevant first), and
frames them with a hook, connective explanations and a recap, sized to the
word budget. The same request always gives the same script.
"""

from __future__ import annotations

import json
import math
import re

from aura.providers.llm.prompts import ScriptBrief, spec_from_messages
from aura.providers.rag.chunking import split_sentences
from aura.words import search_terms_from

PROVIDER = "aura"
MODEL = "offline"

_LEAD_IN = re.compile(
    r"^\s*(?:please\s+)?(?:(?:make|create|produce|generate|write|give)\s+(?:me\s+|us\s+)?)?"
    r"(?:(?:a|an|the)\s+)?(?:[\w\-]+\s+){0,3}?"
    r"(?:video|explainer|documentary|tutorial|promo|story|clip|short|film|overview|introduction|intro|guide)\s*"
    r"(?:on|about|of|explaining|that explains|showing|covering|for)?\s+",
    re.IGNORECASE,
)
_DURATION_WORDS = re.compile(r"\b\d+([.,]\d+)?[\s-]*(?:second|sec|minute|min|hour)s?\b[\s-]*", re.IGNORECASE)
_ASPECT = re.compile(r"[,;]?\s*\b(?:9:16|16:9|1:1|vertical|portrait|landscape|square)\b", re.IGNORECASE)
_AUDIENCE = re.compile(r"[,;]?\s+for\s+((?:an?\s+|the\s+)?[\w\- ]{2,40}?)\s*(?:[,;.]|$)", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+|\n+")
# reference sentences narrated: shorter ones are headings or fragments, longer ones run-ons of a bad extraction
_REFERENCE_WORDS = (5, 45)
_SENTENCE_ENDS = (".", "!", "?", "。", "！", "？")
_CLAUSE_BREAK = re.compile(r"(?<=[,;])\s+")
_CITATION = re.compile(r"\s*\[\d+(?:[,–-]\s*\d+)*\]")  # "[12]", "[3, 4]": read aloud they are noise
_NOT_PROSE = re.compile(r"https?://|www\.|@\w|[{}<>|=_#*`]|^(?:figure|fig\.|table|source|see)\b", re.IGNORECASE)

# (on-screen phrase, sentences). {t}: topic, {Title}: title, {a}: audience. The topic only
# goes where a noun phrase and a "how ..." clause both read well ("about {t}").
_HOOKS = {
    "explainer": ("{Title}", "Have you ever wondered about {t}?", "Let's break it down, one step at a time."),
    "documentary": ("{Title}", "This is a story about {t}.", "Where it comes from, how it works, and why it matters."),
    "promo": ("{Title}", "Here is something worth a minute of your time.", "Let's talk about {t}."),
    "tutorial": ("{Title}", "In this tutorial you will learn about {t}.", "We will go step by step, with nothing left out."),
    "story": ("{Title}", "Once, not so long ago, a story began.", "It is a story about {t}."),
}
_BODY = [
    ("The big picture", "Let's start with the big picture.", "It is easier to follow once you see how the pieces fit together."),
    ("Where it begins", "Every process has a starting point.", "A few simple conditions set everything in motion."),
    ("Step by step", "From there, things build up step by step.", "Each stage depends on the one before it, like links in a chain."),
    ("The key idea", "Here is the key idea to remember.", "Small causes, repeated over time, can add up to very large effects."),
    ("A closer look", "Take a closer look and patterns appear.", "The same forces show up again and again, just on different scales."),
    ("Why it matters", "Why does this matter?", "Understanding {t} helps us make sense of the world around us."),
    ("A real example", "Think of a real example you may have seen.", "Once you know what to look for, it is easy to spot."),
    ("Myths and facts", "A few common myths are worth clearing up.", "The truth is usually simpler, and more interesting, than the rumor."),
    ("What comes next", "And it does not stop there.", "What happens next shapes the following cycle, and the pattern repeats."),
    ("Cause and effect", "Notice how every effect becomes a cause in turn.", "That feedback loop is what makes the subject so fascinating."),
    ("Scale and time", "Timing matters as much as size.", "Some changes take seconds, while others unfold over years or even centuries."),
    ("The turning point", "Then comes the turning point.", "Pressure that built up quietly finally finds a way out."),
    ("Measuring it", "Experts measure all of this carefully.", "Good numbers turn a guess into an explanation."),
    ("Putting it together", "Put it all together and a clear picture appears.", "The conditions, the build-up, the turning point, and the results."),
]
_OUTROS = {
    "explainer": ("Remember", "So, that is the short version of {t}.", "Remember the key steps: where it starts, how it builds, and why it matters."),
    "documentary": ("What we learned", "Big changes grow from small beginnings.", "And the story about {t} is still being written."),
    "promo": ("Try it today", "That's the idea in a nutshell.", "Try it for yourself today, and see the difference it makes."),
    "tutorial": ("You did it", "And that's it: you now know the essentials.", "Practice each step once more, and it will soon feel natural."),
    "story": ("The end", "And so the story comes to a close.", "Its echoes carry on long after the last word."),
}
_AUDIENCE_LINE = ("Made for {a}", "This one is made for {a}.", "We will keep it clear, simple and to the point.")
# the last, very short sentence lets short videos close without overrunning their word budget
_THANKS = ("Thanks for watching", "If this helped, share it with someone who is curious too.", "Thanks for watching.")


def _topic_and_audience(brief: str, audience: str | None) -> tuple[str, str | None]:
    first = _SENTENCE.split(brief.strip(), maxsplit=1)[0]
    text = _DURATION_WORDS.sub("", first)
    text = _ASPECT.sub("", text)
    found = _AUDIENCE.search(text)
    if found:
        audience = audience or found.group(1).strip()
        text = text[: found.start()] + text[found.end() - (1 if found.group(0).endswith((",", ";", ".")) else 0) :]
    text = _LEAD_IN.sub("", text, count=1).strip(" ,;:.!?-")
    words = text.split()
    if len(words) > 12:  # a long first sentence: keep its opening as the topic
        text = " ".join(words[:12])
    return (text or brief[:60]).strip(), audience


_QUESTION_WORDS = {"why", "what", "when", "where", "who", "which", "whose", "is", "are", "can", "could", "do",
                   "does", "did", "will", "would", "should", "has", "have"}
_AUXILIARIES = {"do", "does", "did", "is", "are", "can", "could", "will", "would", "should", "much", "many", "long", "far"}


def _is_question(topic: str, brief: str) -> bool:
    words = topic.lower().split()
    if not words:
        return False
    first_sentence = _SENTENCE.split(brief.strip(), maxsplit=1)[0].rstrip()
    return (
        first_sentence.endswith("?")
        or words[0] in _QUESTION_WORDS
        or (words[0] == "how" and len(words) > 1 and words[1] in _AUXILIARIES)
    )


def _lower_first(text: str) -> str:
    # "How volcanoes form" reads as "how volcanoes form" mid-sentence; keep acronyms
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _title_case(text: str) -> str:
    small = {"a", "an", "the", "of", "on", "in", "and", "or", "to", "for", "with", "at", "by"}
    words = text.split()
    return " ".join(
        w if w.isupper() else (w.capitalize() if i == 0 or w.lower() not in small else w.lower())
        for i, w in enumerate(words)
    )


def _key_phrase(sentence: str) -> str:
    """A short on-screen phrase from a brief sentence: its first clause, at most six words."""
    clause = re.split(r"[,;:—–(]", sentence, maxsplit=1)[0]
    words = clause.strip(" .!?").split()
    return " ".join(words[:6]) or sentence[:40]


def _pieces(sentence: str, longest: int) -> list[tuple[str, str]]:
    """A sentence as (key phrase, text) pool items of at most `longest` words each, in order."""
    words = sentence.split()
    count = max(1, math.ceil(len(words) / longest))
    size = math.ceil(len(words) / count)
    chunks = [" ".join(words[i : i + size]) for i in range(0, len(words), size)] or [sentence]
    return [(_key_phrase(chunk), chunk) for chunk in chunks]


def _reference_sentences(references, brief_sentences: list[str]) -> list[str]:
    """Sentences of the reference passages fit to be read aloud, in passage order, each once."""
    seen = {_sentence_key(s) for s in brief_sentences}
    kept = []
    for reference in references:
        for sentence in split_sentences(_CITATION.sub("", str(reference.get("text", "")))):
            key = _sentence_key(sentence)
            if key not in seen and _narratable(sentence):
                seen.add(key)  # passages overlap by a sentence: say it once
                kept.append(sentence)
    return kept


def _narratable(sentence: str) -> bool:
    """A whole sentence of prose: not a heading, list fragment, table row, caption, URL or code."""
    words = sentence.split()
    plain = sum(ch.isalnum() or ch.isspace() for ch in sentence)
    return (
        _REFERENCE_WORDS[0] <= len(words) <= _REFERENCE_WORDS[1]
        and sentence.endswith(_SENTENCE_ENDS)
        and not sentence[0].islower()
        and plain >= 0.85 * len(sentence)  # code and formulas are full of symbols; prose has a few commas
        and not _NOT_PROSE.search(sentence)
    )


def _sentence_key(sentence: str) -> str:
    return " ".join(sentence.casefold().split()).rstrip(".!?")


def _clause_pieces(sentence: str, longest: int) -> list[tuple[str, str]]:
    """Like _pieces, but cut after a comma or semicolon where one is near: the first piece of a
    sentence then says something whole ("The basin holds 417 vents,") when a short video has
    room for nothing more."""
    parts: list[list[str]] = [[]]
    for clause in _CLAUSE_BREAK.split(sentence):
        words = clause.split()
        if parts[-1] and len(parts[-1]) + len(words) > longest:
            parts.append([])
        parts[-1].extend(words)
    return [piece for part in parts if part for piece in _pieces(" ".join(part), longest)]


def _end_sentences(scenes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A scene cut after a comma, with no continuation in the next scene, ends with a period instead."""
    ended = []
    for index, (key, text) in enumerate(scenes):
        following = scenes[index + 1][1] if index + 1 < len(scenes) else ""
        if text.endswith((",", ";")) and not following[:1].islower():
            text = text[:-1] + "."
        ended.append((key, text))
    return ended


def write_script(spec: ScriptBrief) -> dict:
    """The script as the JSON object an LLM is asked for."""
    topic, audience = _topic_and_audience(spec.brief, spec.audience)
    brief_sentences = [s.strip() for s in _SENTENCE.split(spec.brief) if len(s.split()) >= 3]
    # a brief of several sentences (or one long one) is content, not a topic: it is narrated
    # as written, and templates only frame it, talking about "it all" rather than a topic
    content = len(brief_sentences) > 1 or bool(brief_sentences and len(brief_sentences[0].split()) > 12)
    if content:
        title = spec.title or _title_case(_key_phrase(brief_sentences[0]).rstrip(" .!?"))
        t = "it all"
    elif _is_question(topic, spec.brief):
        # "Why is the sky blue" reads badly after "wondered about": ask it, then answer
        question = topic[:1].upper() + topic[1:].rstrip(" ?") + "?"
        title = spec.title or _title_case(question)
        t = "the answer"
    else:
        title = spec.title or _title_case(topic)
        t = _lower_first(topic)
    fill = {"t": t, "T": t[:1].upper() + t[1:], "Title": title, "a": audience or "everyone", "Q": title}
    if t == "the answer":
        fill["Q"] = topic[:1].upper() + topic[1:].rstrip(" ?") + "?"
    english = spec.language.split("-")[0].lower() == "en"

    # the brief's own sentences are the real content: they go first
    # a sentence longer than a scene is dealt in pieces, so a long brief cannot overflow the budget
    longest = max(12, math.ceil(spec.word_budget / spec.scene_count * 1.2))
    facts = [
        piece
        for s in brief_sentences
        for piece in _pieces(s if s.endswith((".", "!", "?", "。", "！", "？")) else s + ".", longest)
    ]
    # reference passages come after the brief's own words, most relevant first
    known = [p for s in _reference_sentences(spec.references, brief_sentences) for p in _clause_pieces(s, longest)]
    if not english:
        # no templates in other languages: the brief itself is the narration
        pool = (facts or _pieces(spec.brief, longest)) + known
        scenes = _distribute(pool, spec.scene_count, spec.word_budget, allow_repeat=False)
        return _as_json(title, _end_sentences(scenes), topic, spec.style)

    def sentences(entries) -> list[tuple[str, str]]:
        # one pool item per sentence: fine-grained pieces let the budget be met closely
        return [(entry[0].format(**fill), text.format(**fill)) for entry in entries for text in entry[1:]]

    body = sentences(_BODY)
    if content:
        opening = []
    elif t == "the answer":
        # user text only ever fills placeholders: braces in a brief are never format fields
        opening = sentences([("{Title}", "{Q}", "Let's find out, one step at a time.")])
    else:
        opening = sentences([_HOOKS.get(spec.style, _HOOKS["explainer"])])
    body = (facts if content else []) + known + body  # a topic brief is not narrated: its hook says it
    if audience:
        opening += sentences([_AUDIENCE_LINE])
    if known:
        # the notes are the substance: the framing keeps one sentence, and a two-scene video has no room for it
        opening = opening[:1] if spec.scene_count > 2 else []
    closing = sentences([_OUTROS.get(spec.style, _OUTROS["explainer"]), _THANKS])
    scenes = _distribute(opening + body + closing, spec.scene_count, spec.word_budget, allow_repeat=True, closing=closing)
    return _as_json(title, _end_sentences(scenes), topic, spec.style)


def _distribute(
    pool: list[tuple[str, str]],
    scene_count: int,
    word_budget: int,
    allow_repeat: bool,
    closing: list[tuple[str, str]] | None = None,
) -> list[tuple[str, str]]:
    """Deal sentences into scenes of about word_budget/scene_count words each, in order.

    The last scene gets the closing sentences. With allow_repeat, a pool that
    runs dry (very long videos) is dealt again, phrased as a recap.
    """
    closing = list(closing or [])
    main = [p for p in pool if p not in closing]
    all_closing = list(closing)
    if not allow_repeat:
        # a pool smaller than the budget is spread over the scenes, not spent on the first one
        word_budget = min(word_budget, sum(len(t.split()) for _, t in main)) or word_budget
    per_scene = word_budget / scene_count
    while len(closing) > 1 and sum(len(t.split()) for _, t in closing) > per_scene * 1.3:
        closing.pop()  # short videos get a short goodbye
    closing_words = sum(len(t.split()) for _, t in closing)
    scenes: list[tuple[str, list[str]]] = []
    cursor, rounds, total = 0, 0, 0
    for index in range(scene_count):
        if index == scene_count - 1 and closing:
            # the last scene is the closing: the closing sentences (in order) that best fill the budget
            chosen = _best_closing(all_closing, word_budget - total)
            scenes.append((chosen[0][0], [t for _, t in chosen]))
            break
        # cumulative target: each scene corrects the drift of the ones before it
        target = (word_budget - closing_words) * (index + 1) / max(1, scene_count - (1 if closing else 0))
        key, texts = "", []
        while True:
            if cursor >= len(main):
                if not allow_repeat or not main:
                    break
                cursor, rounds = 0, rounds + 1
            k, text = main[cursor]
            size = len(text.split())
            # take the sentence if the scene is empty or it brings the total closer to the target
            if texts and abs(total + size - target) >= abs(total - target):
                break
            cursor += 1
            if rounds and not texts and text[:1].isupper():
                text = "To recap: " + text[0].lower() + text[1:]
            key = key or k
            texts.append(text)
            total += size
        if not texts:
            break
        scenes.append((key, texts))
    return [(key, " ".join(texts)) for key, texts in scenes]


def _best_closing(closing: list[tuple[str, str]], wanted: int | float) -> list[tuple[str, str]]:
    """The in-order selection of closing sentences whose length is nearest to `wanted` words.

    Sentences are coarse (about ten words), so short videos need the choice:
    taking only a prefix can miss a narrow word budget on both sides.
    """
    options = [
        [item for i, item in enumerate(closing) if mask >> i & 1] for mask in range(1, 1 << len(closing))
    ]
    # nearest first; on a tie, the selection that keeps the earliest sentences
    return min(options, key=lambda o: (abs(sum(len(t.split()) for _, t in o) - wanted), [closing.index(i) for i in o]))


def _as_json(title: str, scenes: list[tuple[str, str]], topic: str, style: str) -> dict:
    mood = {
        "documentary": "documentary photograph, natural light",
        "explainer": "clean illustrated explainer graphic, bright colors",
        "promo": "bold product advertising shot, dramatic lighting",
        "tutorial": "clear instructional illustration, neutral background",
        "story": "cinematic storybook illustration, warm light",
    }.get(style, "illustration")
    return {
        "title": title,
        "scenes": [
            {"narration": narration, "key_phrase": key, "visual_prompt": f"{key}: {topic}, {mood}",
             "search_terms": search_terms_from(key, topic)}
            for key, narration in scenes
        ],
    }


def answer(messages: list[dict[str, str]]) -> str:
    """The writer's reply to a chat (the prompt built by aura.providers.llm.prompts), as JSON text."""
    return json.dumps(write_script(spec_from_messages(messages)), ensure_ascii=False)

"""The offline script writer: deterministic and rule-based, the model `aura/offline`.

It cannot know facts the brief and the documents do not hold, so it does what a
careful editor would: it splits the brief into its facts (aura.providers.llm.
writing.facts), orders them by the structure of the style (a promo leads with
its offer, a documentary runs in time order, a tutorial numbers its steps),
adds the documents' most central sentences (writing.summary), reads numbers
as words (writing.spoken), and fills what the duration still asks for with
connective sentences written for the language (writing.packs). Languages
without a pack get the brief's own sentences. The same request always gives
the same script.
"""

from __future__ import annotations

import json
import math
import re

from aura.languages import FUNCTION_WORDS
from aura.providers.llm.prompts import ScriptBrief, spec_from_messages
from aura.providers.llm.writing.beats import FACT, Beat, beat_words
from aura.providers.llm.writing.facts import Fact, key_phrase, make_fact, read_brief
from aura.providers.llm.writing.fitting import choose, fit, merge_smallest
from aura.providers.llm.writing.packs import pack_for
from aura.providers.llm.writing.structure import pieces, plan
from aura.providers.llm.writing.summary import document_sentences, ranked
from aura.words import search_terms_from

PROVIDER = "aura"
MODEL = "offline"
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+|\n+")


def write_script(spec: ScriptBrief) -> dict:
    """The script as the JSON object an LLM is asked for."""
    pack = pack_for(spec.language)
    if pack is None:
        return _as_written(spec)
    brief = read_brief(spec.brief, spec.audience, pack)
    documents = _document_facts(spec, pack)
    title = spec.title or _title_of(brief, pack)
    topic = pack["answer"] if brief.question else brief.topic if brief.framed else pack["it_all"]
    fill = {"t": _lower_first(topic), "T": topic[:1].upper() + topic[1:], "Title": title, "a": brief.audience or "",
            "Q": _question(brief.topic)}  # fmt: skip
    longest = max(12, math.ceil(spec.word_budget / spec.scene_count * 1.2))
    beats = plan(spec.style, brief, documents, pack, fill, longest)
    scenes = fit(beats, spec.scene_count, spec.word_budget, pack)
    return _as_json(title, scenes, brief.topic, spec.style, pack)


def _document_facts(spec: ScriptBrief, pack: dict) -> list[Fact]:
    """The documents' sentences worth narrating, best first, each credited to its document and page."""
    sentences = document_sentences(spec.references, [s.strip() for s in _SENTENCE.split(spec.brief)])
    order = ranked(sentences, spec.brief)
    facts = []
    for rank, index in enumerate(order):
        sentence = sentences[index]
        source = {"document": sentence.source, **({"page": sentence.page} if sentence.page else {})}
        facts.append(make_fact(sentence.text, sentence.position, pack, source=source, rank=rank))
    return facts


def _title_of(brief, pack: dict) -> str:
    if brief.question:
        text = _question(brief.topic)
    else:  # a brief that is all content is titled by its first fact's words (without a date card's year)
        text = brief.topic if brief.framed or not brief.facts else key_phrase(brief.facts[0].text)
    # title case is an English habit: other languages capitalize a title's first word (and German its nouns)
    return _title_case(text) if pack["code"] == "en" else text[:1].upper() + text[1:]


def _question(topic: str) -> str:
    return topic[:1].upper() + topic[1:].rstrip(" ?") + "?"


def _lower_first(text: str) -> str:
    # "How volcanoes form" reads as "how volcanoes form" mid-sentence; keep acronyms and names
    if len(text) > 1 and text[0].isupper() and not text[1].isupper() and text.split()[0].lower() in FUNCTION_WORDS:
        return text[0].lower() + text[1:]
    return text


def _title_case(text: str) -> str:
    small = {"a", "an", "the", "of", "on", "in", "and", "or", "to", "for", "with", "at", "by"}
    return " ".join(
        w if w.isupper() or any(c.isdigit() for c in w) else (w.capitalize() if i == 0 or w.lower() not in small else w.lower())
        for i, w in enumerate(text.split())
    )


def _as_written(spec: ScriptBrief) -> dict:
    """No structures in this language: the brief's own sentences (and the documents') are the narration."""
    pack = pack_for("en")  # only its list words are used on this path; nothing English is spoken
    longest = max(12, math.ceil(spec.word_budget / spec.scene_count * 1.2))
    sentences = [s.strip() for s in _SENTENCE.split(spec.brief) if s.strip()] or [spec.brief.strip()]
    beats = [Beat(key_phrase(p), [(p, FACT)], True) for s in sentences for p in pieces(s, longest)]
    for sentence in document_sentences(spec.references, sentences):
        source = {"document": sentence.source, **({"page": sentence.page} if sentence.page else {})}
        beats.extend(Beat(key_phrase(p), [(p, FACT)], True, [source]) for p in pieces(sentence.text, longest))
    words = sum(beat_words(b) for b in beats)
    kept = choose(beats, min(spec.word_budget, words), {**pack, "again": []})
    while len(kept) > spec.scene_count:
        kept = merge_smallest(kept)
    title = spec.title or key_phrase(sentences[0])
    return _as_json(title, kept, title, spec.style, None)


def _as_json(title: str, scenes: list[Beat], topic: str, style: str, pack: dict | None) -> dict:
    mood = {
        "documentary": "documentary photograph, natural light",
        "explainer": "clean illustrated explainer graphic, bright colors",
        "promo": "bold product advertising shot, dramatic lighting",
        "tutorial": "clear instructional illustration, neutral background",
        "story": "cinematic storybook illustration, warm light",
    }.get(style, "illustration")
    answer = []
    for beat in scenes:
        sources = list({json.dumps(s, sort_keys=True): s for s in beat.sources}.values())
        scene = {
            "narration": " ".join(s for s, _ in beat.sentences),
            "key_phrase": beat.key,
            "visual_prompt": f"{beat.key}: {topic}, {mood}",
            "search_terms": search_terms_from(beat.key, topic),
        }
        if sources:
            scene["sources"] = sources
        answer.append(scene)
    return {"title": title, "scenes": answer}


def answer(messages: list[dict[str, str]]) -> str:
    """The writer's reply to a chat (the prompt built by aura.providers.llm.prompts), as JSON text."""
    return json.dumps(write_script(spec_from_messages(messages)), ensure_ascii=False)

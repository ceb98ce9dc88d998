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

import itertools
import json
import math
import re
from dataclasses import dataclass, field

from aura.languages import FUNCTION_WORDS
from aura.providers.llm.prompts import ScriptBrief, spec_from_messages
from aura.providers.llm.writing.facts import PHRASE_WORDS, Fact, key_phrase, make_fact, read_brief, trim_phrase
from aura.providers.llm.writing.packs import pack_for
from aura.providers.llm.writing.spoken import speakable
from aura.providers.llm.writing.summary import document_sentences, ranked
from aura.words import search_terms_from

PROVIDER = "aura"
MODEL = "offline"
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+|\n+")

# what the budget keeps first: the brief's facts, then the frame, then connectives, then generic filler
FACT, FRAME, LEAD, EXTRA, FILLER, SPARE = range(6)


@dataclass
class Beat:
    """One thought on screen: its card's phrase and its sentences (text, priority)."""

    key: str
    sentences: list[tuple[str, int]]
    fact: bool = False
    sources: list[dict] = field(default_factory=list)
    rank: int = 0  # 0: the brief's; 1, 2, ...: a document sentence's rank in the summary


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
    beats = _structure(spec.style, brief, documents, pack, fill, longest)
    scenes = _fit(beats, spec.scene_count, spec.word_budget, pack)
    return _as_json(title, scenes, brief.topic, spec.style, pack)


# --- material -----------------------------------------------------------------------------------


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


# --- structures ---------------------------------------------------------------------------------


def _structure(style: str, brief, documents: list[Fact], pack: dict, fill: dict, longest: int) -> list[Beat]:
    """The style's beats in order: opening, the brief's facts as the style orders them, documents, closing."""

    def framed(entry, priorities=(FRAME, EXTRA)) -> Beat:
        key, *sentences = entry
        card = trim_phrase(key.format(**fill).split()[:PHRASE_WORDS]) if "{" in key else _topical(key, fill["Title"])
        return Beat(card, [(s.format(**fill), p) for s, p in zip(sentences, priorities)])

    facts = list(brief.facts)
    opening: list[Beat] = []
    if brief.question:
        key, lead = pack["question"]
        card = trim_phrase(fill["Q"].split()[:PHRASE_WORDS]) + ("?" if len(fill["Q"].split()) <= PHRASE_WORDS else "")
        opening.append(Beat(card, [(fill["Q"], FRAME), (lead, EXTRA)]))
    elif brief.framed:
        opening.append(framed(pack["hooks"].get(style, pack["hooks"]["explainer"])))
    if brief.audience:
        opening.append(framed(pack["audience"], (EXTRA, FILLER)))

    sections = _sections(style, facts, pack)
    body: list[Beat] = []
    step = 0
    for section, members in sections:
        leads = pack["leads"].get(section, [])
        for position, fact in enumerate(members):
            text = fact.text
            if section == "steps":
                last = len(members) - 1
                which = 0 if position == 0 else 4 if position == last else 1 + (position - 1) % 3
                text = pack["steps"][which].format(x=_lower_lead(text, brief.facts, pack))
                step += 1
            beats = _fact_beats(fact, speakable(text, pack), longest)
            if section == "steps":
                label = pack["step_label"].format(n=step) + ":"
                beats[0].key = f"{label} {trim_phrase(fact.phrase.split()[: PHRASE_WORDS - len(label.split())])}"
            if position == 0 and leads and beats:
                beats[0].sentences.insert(0, (leads[0], LEAD))
            body.extend(beats)
    if documents:
        # read in the documents' order; the budget keeps the best ranked (Beat.rank) when not all fit
        doc_beats = [
            beat
            for fact in sorted(documents, key=lambda f: f.order)
            for beat in _fact_beats(fact, speakable(fact.text, pack), longest, rank=1 + fact.rank)
        ]
        if doc_beats and not opening and not body:
            doc_beats[0].sentences.insert(0, (pack["leads"]["documents"][0], LEAD))
        body.extend(doc_beats)
    closing: list[Beat] = []
    # the recap names facts short enough to say whole; a cut phrase would read as a broken sentence
    phrases = [f.text.rstrip(".!?") for f in facts if len(f.text.split()) <= 8]
    if len(phrases) >= 2:
        key, sentence = pack["recap"].get(style, pack["recap"]["explainer"])
        names_likely = style in ("documentary", "story")  # their facts tend to open with a person or a place
        items = _listed([_lower_lead(p, facts, pack, names_likely) for p in phrases[:4]], pack)
        closing.append(Beat(_topical(key, fill["Title"]), [(speakable(sentence.format(items=items), pack), EXTRA)]))
    fillers = [framed(entry, (FILLER, FILLER)) for entry in pack["fillers"].get(style, [])]
    # a long documentary or story borrows the explainer's fillers, which suit any subject; a promo or a
    # tutorial says its offer or steps again instead (an ad that muses on cause and effect sells nothing)
    borrows = style in ("documentary", "story") or not (facts or documents)
    spare = [framed(entry, (SPARE, SPARE)) for entry in pack["fillers"]["explainer"]] if borrows and style != "explainer" else []
    outro = framed(pack["outros"].get(style, pack["outros"]["explainer"]), (FRAME, EXTRA))
    thanks = framed(pack["thanks"], (FILLER, FRAME))
    if not (brief.framed or documents):
        outro.sentences = [(s, EXTRA if p == FRAME else p) for s, p in outro.sentences]
    return opening + body + fillers + spare + closing + [outro, thanks]


def _sections(style: str, facts: list[Fact], pack: dict) -> list[tuple[str, list[Fact]]]:
    """The brief's facts grouped and ordered as the style tells its story."""
    if not facts:
        return []
    if style == "promo":
        offer = [f for f in facts if f.kind == "offer"]
        when = [f for f in facts if f.kind == "when"]
        details = [f for f in facts if f not in offer and f not in when]
        return [(name, group) for name, group in (("offer", offer), ("details", details), ("when", when)) if group]
    if style == "tutorial":
        return [("steps", facts)]
    if style == "documentary":
        return [("timeline", _in_time_order(facts))]
    if style == "story":
        cut = max(1, len(facts) // 2)
        end = [facts[-1]] if len(facts) > 2 else []
        parts = [("beginning", facts[:cut]), ("turn", facts[cut : len(facts) - len(end)]), ("end", end)]
        return [(name, group) for name, group in parts if group]
    return [("parts", facts)]


def _topical(label: str, title: str) -> str:
    """A card for a frame or a filler names its video's subject: "Why it matters: How Volcanoes Form"."""
    room = max(2, PHRASE_WORDS - len(label.split()))
    return f"{label}: {trim_phrase(title.rstrip('?!.').split()[:room])}"


def _in_time_order(facts: list[Fact]) -> list[Fact]:
    """Dated facts by their year; an undated one stays with the dated fact before it."""
    year, keyed = -10**6, []
    for fact in facts:
        year = fact.year if fact.year is not None else year
        keyed.append((year, fact.order, fact))
    return [fact for *_, fact in sorted(keyed, key=lambda k: (k[0], k[1]))]


def _fact_beats(fact: Fact, text: str, longest: int, rank: int = 0) -> list[Beat]:
    """A fact as beats of at most `longest` words: a long sentence is dealt in pieces, cut after a comma where one is near."""
    pieces = _pieces(text, longest)
    beats = []
    for index, piece in enumerate(pieces):
        key = fact.phrase if index == 0 else key_phrase(piece)
        beats.append(Beat(key, [(piece, FACT)], True, [fact.source] if fact.source else [], rank))
    return beats


def _pieces(sentence: str, longest: int) -> list[str]:
    words = sentence.split()
    if len(words) <= longest:
        return [sentence]
    parts: list[list[str]] = [[]]
    for clause in re.split(r"(?<=[,;])\s+", sentence):
        clause_words = clause.split()
        if parts[-1] and len(parts[-1]) + len(clause_words) > longest:
            parts.append([])
        parts[-1].extend(clause_words)
    pieces = []
    for part in parts:
        count = max(1, math.ceil(len(part) / longest))
        size = math.ceil(len(part) / count)
        pieces.extend(" ".join(part[i : i + size]) for i in range(0, len(part), size))
    return _end_sentences(pieces)


def _end_sentences(pieces: list[str]) -> list[str]:
    """A piece cut after a comma ends with a period when the next piece starts a new thought."""
    ended = []
    for index, piece in enumerate(pieces):
        following = pieces[index + 1] if index + 1 < len(pieces) else ""
        if piece.endswith((",", ";")) and not following[:1].islower():
            piece = piece[:-1] + "."
        ended.append(piece)
    return ended


def _lower_lead(text: str, facts: list[Fact], pack: dict, names_likely: bool = False) -> str:
    """'Mix the flour.' after 'First,' reads 'First, mix the flour.'. A capital stays where it may be a
    name: on a word capitalized elsewhere mid-sentence, before another capital ("San Francisco"), on every
    German noun, and, where `names_likely` (a recap of facts), on anything but a function word."""
    words = text.split()
    first = words[0] if words else ""
    if not first[:1].isupper() or first.isupper():
        return text
    if first.lower() in FUNCTION_WORDS:
        return text[0].lower() + text[1:]
    elsewhere = " ".join(f.text for f in facts)
    named = (
        names_likely
        or pack["code"] == "de"
        or (len(words) > 1 and words[1][:1].isupper())
        or re.search(rf"(?<=\w\s){re.escape(first)}\b", elsewhere) is not None
    )
    return text if named else text[0].lower() + text[1:]


def _listed(items: list[str], pack: dict) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {pack['and']} {items[-1]}"


# --- fitting the duration -----------------------------------------------------------------------


def _fit(beats: list[Beat], scene_count: int, word_budget: int, pack: dict) -> list[Beat]:
    """Exactly `scene_count` scenes of about `word_budget` words: sentences kept by priority, beats merged or split."""
    kept = _choose(beats, word_budget, pack)
    while len(kept) > scene_count:
        kept = _merge_smallest(kept)
    while len(kept) < scene_count:
        split = _split_largest(kept)
        if split is None:
            break
        kept = split
    return _unique(kept)


def _unique(scenes: list[Beat]) -> list[Beat]:
    """No scene says what another already said (a brief may repeat itself): a repeat trades a sentence
    with a neighbour where it can."""
    for _ in range(len(scenes)):
        seen: set[str] = set()
        repeat = None
        for index, beat in enumerate(scenes):
            text = " ".join(s for s, _ in beat.sentences)
            if text in seen and index > 0:
                repeat = index
                break
            seen.add(text)
        if repeat is None:
            break
        here, before = scenes[repeat], scenes[repeat - 1]
        if len(here.sentences) > 1:
            before.sentences.append(here.sentences.pop(0))
        elif len(before.sentences) > 1:
            here.sentences.insert(0, before.sentences.pop())
        else:
            break
    return scenes


def _words(text: str) -> int:
    return len(text.split())


def _choose(beats: list[Beat], budget: int, pack: dict) -> list[Beat]:
    """The sentences that bring the total nearest the budget, most important first; short material is recapped."""
    # a filler's sentences go together: its question without its answer would make no sense
    units: list[tuple[int, int, int, list[int]]] = []
    for b, beat in enumerate(beats):
        grouped = [s for s, (_, p) in enumerate(beat.sentences) if p >= FILLER]
        if grouped:
            units.append((max(beat.sentences[s][1] for s in grouped), beat.rank, b, grouped))
        units.extend((p, beat.rank, b, [s]) for s, (_, p) in enumerate(beat.sentences) if p < FILLER)
    chosen: set[tuple[int, int]] = set()
    total = 0
    facts_stopped = False
    for priority, rank, b, members in sorted(units):
        size = sum(_words(beats[b].sentences[s][0]) for s in members)
        # nearer the budget, and never far past it: the script stage accepts 20% either side
        closer = abs(total + size - budget) < abs(total - budget) and total + size <= budget * 1.12
        if priority == FACT and rank == 0:
            # the brief is read in order: once a fact does not fit, the rest is cut, not skipped over
            if facts_stopped or not (total + size <= budget or closer):
                facts_stopped = True
                continue
        elif not closer and not (priority == FACT and total + size <= budget):
            continue
        chosen.update((b, s) for s in members)
        total += size
    if total < budget * 0.9:
        # a short video may still have room for one sentence of a filler: a statement, never a lone question
        for priority, rank, b, members in sorted(units):
            for s in members:
                text = beats[b].sentences[s][0]
                size = _words(text)
                if (b, s) not in chosen and not text.endswith("?") and total + size <= budget * 1.12 and abs(
                    total + size - budget
                ) < abs(total - budget):
                    chosen.add((b, s))
                    total += size
    kept = []
    for b, beat in enumerate(beats):
        sentences = [item for s, item in enumerate(beat.sentences) if (b, s) in chosen]
        if sentences:
            kept.append(Beat(beat.key, sentences, beat.fact, beat.sources, beat.rank))
    if total < budget * 0.9:
        kept = _recapped(kept, budget, total, pack)
    return kept


def _recapped(kept: list[Beat], budget: int, total: int, pack: dict) -> list[Beat]:
    """A long video from a short brief says its material again before the ending, each time in other
    words ("To recap: ...", "Once more: ..."), first sentence by sentence, then two at a time, until the
    budget is met. No sentence is said twice, so no scene repeats another."""
    if not pack["again"]:
        return kept
    facts = [(beat, text) for beat in kept if beat.fact for text, p in beat.sentences if p == FACT]
    # the fillers' statements (not the opening, not a question) when the brief's facts are too few
    frames = [(beat, text) for beat in kept[1:-2] if not beat.fact for text, _ in beat.sentences if not text.endswith("?")]
    body, ending = kept[: len(kept) - 2], kept[len(kept) - 2 :]
    said_before = {s for beat in kept for s, _ in beat.sentences}
    extra: list[Beat] = []
    lines = itertools.chain(_recap_lines(facts, pack), _recap_lines(frames, pack))
    for variant, (beat, text) in enumerate(lines):
        size = _words(text)
        if total >= budget * 0.97 or variant > 20_000:
            break
        if text in said_before or total + size > budget * 1.05:
            continue
        said_before.add(text)
        extra.append(Beat(beat.key, [(text, SPARE)], beat.fact, beat.sources, beat.rank))
        total += size
    return body + extra + ending


def _recap_lines(material: list[tuple[Beat, str]], pack: dict):
    """Every way of saying the material again: each phrasing of each sentence, then of each pair."""
    count = len(material)
    if not count:
        return
    again = pack["again"]
    for round_ in range(len(again)):
        start = round_ % count  # each round starts elsewhere: rounds do not line up
        for i in range(count):
            beat, text = material[(start + i) % count]
            yield beat, again[(round_ + i) % len(again)].format(x=_lowered(text))
    for round_ in range(len(again)):
        for i in range(count):
            for j in range(i + 1, count):
                (beat, first), (_, second) = material[i], material[j]
                pair = f"{_unended(first)}, {pack['and']} {_lowered(second)}"
                yield beat, again[(round_ + i + j) % len(again)].format(x=_lowered(pair))


def _unended(text: str) -> str:
    """A sentence without its final stop, to go on after a comma ("5 a.m." keeps its abbreviation's period)."""
    return text if re.search(r"\b\w\.\w\.$", text) else text.rstrip(".!?。！？")


def _lowered(text: str) -> str:
    return text[0].lower() + text[1:] if text[1:2].islower() else text


def _merge_smallest(beats: list[Beat]) -> list[Beat]:
    """Two neighbours become one scene: the pair with the fewest words, sparing two facts' cards where it can."""

    def cost(i: int) -> tuple[int, int]:
        both_facts = beats[i].fact and beats[i + 1].fact
        return (1 if both_facts else 0, _beat_words(beats[i]) + _beat_words(beats[i + 1]))

    i = min(range(len(beats) - 1), key=cost)
    first, second = beats[i], beats[i + 1]
    key = first.key if first.fact or not second.fact else second.key
    merged = Beat(key, first.sentences + second.sentences, first.fact or second.fact, first.sources + second.sources)
    return beats[:i] + [merged] + beats[i + 2 :]


def _beat_words(beat: Beat) -> int:
    return sum(_words(s) for s, _ in beat.sentences)


def _split_largest(beats: list[Beat]) -> list[Beat] | None:
    """The beat with the most words becomes two scenes: between its sentences, or inside its longest one."""
    candidates = sorted(range(len(beats)), key=lambda i: -_beat_words(beats[i]))
    for i in candidates:
        beat = beats[i]
        if len(beat.sentences) > 1:
            cut = _balanced_cut([_words(s) for s, _ in beat.sentences])
            first, second = beat.sentences[:cut], beat.sentences[cut:]
        else:
            words = beat.sentences[0][0].split()
            if len(words) < 4:
                continue
            half = len(words) // 2
            for offset in range(len(words) // 4 + 1):  # a comma near the middle is the kindest cut
                if words[half - 1 + offset].endswith(","):
                    half += offset
                    break
                if words[half - 1 - offset].endswith(","):
                    half -= offset
                    break
            priority = beat.sentences[0][1]
            first, second = [(" ".join(words[:half]), priority)], [(" ".join(words[half:]), priority)]
        said = {s for other in beats for s, _ in other.sentences}
        if len(beat.sentences) == 1 and {first[0][0], second[0][0]} & said:
            continue  # two recaps ending alike ("..., and finally ...") would cut into the same half
        second_text = second[0][0]
        second_key = key_phrase(second_text) if beat.fact else beat.key
        return beats[:i] + [
            Beat(beat.key, first, beat.fact, beat.sources),
            Beat(second_key, second, beat.fact, beat.sources),
        ] + beats[i + 1 :]
    return None


def _balanced_cut(sizes: list[int]) -> int:
    total = sum(sizes)
    return min(range(1, len(sizes)), key=lambda c: abs(sum(sizes[:c]) - total / 2))


# --- languages without a pack ---------------------------------------------------------------------


def _as_written(spec: ScriptBrief) -> dict:
    """No structures in this language: the brief's own sentences (and the documents') are the narration."""
    pack = pack_for("en")  # only its list words are used on this path; nothing English is spoken
    longest = max(12, math.ceil(spec.word_budget / spec.scene_count * 1.2))
    sentences = [s.strip() for s in _SENTENCE.split(spec.brief) if s.strip()] or [spec.brief.strip()]
    beats = [Beat(key_phrase(p), [(p, FACT)], True) for s in sentences for p in _pieces(s, longest)]
    for sentence in document_sentences(spec.references, sentences):
        source = {"document": sentence.source, **({"page": sentence.page} if sentence.page else {})}
        beats.extend(Beat(key_phrase(p), [(p, FACT)], True, [source]) for p in _pieces(sentence.text, longest))
    words = sum(_beat_words(b) for b in beats)
    kept = _choose(beats, min(spec.word_budget, words), {**pack, "again": []})
    while len(kept) > spec.scene_count:
        kept = _merge_smallest(kept)
    title = spec.title or key_phrase(sentences[0])
    return _as_json(title, kept, title, spec.style, None)


# --- the answer ---------------------------------------------------------------------------------


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

"""The offline writer's structures: the beats of a script in the order its style tells a story.

promo: hook, the offer, the details, where and when, a call to action; tutorial: numbered steps;
documentary: a timeline in the order of its dates; explainer: the question, the parts, a recap;
story: a beginning, a turn, an end. Generic fillers follow the brief's own material, never lead it.
"""

from __future__ import annotations

import math
import re

from aura.languages import FUNCTION_WORDS
from aura.providers.llm.writing.beats import EXTRA, FACT, FILLER, FRAME, LEAD, SPARE, Beat
from aura.providers.llm.writing.facts import PHRASE_WORDS, Fact, key_phrase, opens_with_step, trim_phrase
from aura.providers.llm.writing.spoken import speakable


def plan(style: str, brief, documents: list[Fact], pack: dict, fill: dict, longest: int) -> list[Beat]:
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
                if not opens_with_step(text, pack):  # "Then heat the pan" needs no "Next," in front
                    text = pack["steps"][which].format(x=_lower_lead(text, brief.facts, pack))
                step += 1
            beats = _fact_beats(fact, speakable(text, pack), longest)
            if section == "steps":
                label = pack["step_label"].format(n=step) + ":"
                beats[0].key = f"{label} {trim_phrase(fact.phrase.split()[: PHRASE_WORDS - len(label.split())])}"
            # a section opens with its lead; a long one takes its second lead halfway ("There is more to it.")
            if leads and beats and (position == 0 or (position == len(members) // 2 and len(members) > 3)):
                beats[0].sentences.insert(0, (leads[min(1 if position else 0, len(leads) - 1)], LEAD))
            body.extend(beats)
    if documents:
        # read in the documents' order; the budget keeps the best ranked (Beat.rank) when not all fit
        doc_beats = [
            beat
            for fact in sorted(documents, key=lambda f: f.order)
            for beat in _fact_beats(fact, speakable(fact.text, pack), longest, rank=1 + fact.rank)
        ]
        if doc_beats:  # "Here is what the documents tell us.", or after the brief's facts "The notes add more."
            lead = pack["leads"]["documents"][1 if brief.facts else 0]
            doc_beats[0].sentences.insert(0, (lead, LEAD))
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
    # the goodbye belongs to the last scene: "Thanks for watching." alone would be a scene of a second
    outro.sentences += thanks.sentences
    return opening + body + fillers + spare + closing + [outro]


def _sections(style: str, facts: list[Fact], pack: dict) -> list[tuple[str, list[Fact]]]:
    """The brief's facts grouped and ordered as the style tells its story."""
    if not facts:
        return []
    if style == "promo":
        offer = [f for f in facts if f.kind == "offer"]
        when = [f for f in facts if f.kind == "when"]
        where = [f for f in facts if f.kind == "where"]
        details = [f for f in facts if f not in offer and f not in when and f not in where]
        groups = (("offer", offer), ("details", details), ("where", where), ("when", when))
        return [(name, group) for name, group in groups if group]
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
    beats = []
    for index, piece in enumerate(pieces(text, longest)):
        key = fact.phrase if index == 0 else key_phrase(piece)
        beats.append(Beat(key, [(piece, FACT)], True, [fact.source] if fact.source else [], rank))
    return beats


def pieces(sentence: str, longest: int) -> list[str]:
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

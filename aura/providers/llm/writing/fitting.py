"""Fitting a script to its duration: exactly the scenes asked for, about the words asked for.

Sentences are kept by how much they matter (the brief's facts first, generic filler last); a long
video from a short brief says its material again in other words, never a sentence twice; beats are
then merged or cut until each scene is one of the scenes asked for.
"""

from __future__ import annotations

import itertools

from aura.providers.llm.writing.beats import FACT, FILLER, SPARE, Beat, beat_words, words
from aura.providers.llm.writing.facts import key_phrase, unended


def fit(beats: list[Beat], scene_count: int, word_budget: int, pack: dict) -> list[Beat]:
    """Exactly `scene_count` scenes of about `word_budget` words: sentences kept by priority, beats merged or split."""
    kept = choose(beats, word_budget, pack)
    while len(kept) > scene_count:
        kept = merge_smallest(kept)
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


def choose(beats: list[Beat], budget: int, pack: dict) -> list[Beat]:
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
        size = sum(words(beats[b].sentences[s][0]) for s in members)
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
                size = words(text)
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
    frames = [(beat, text) for beat in kept[1:-1] if not beat.fact for text, _ in beat.sentences if not text.endswith("?")]
    body, ending = kept[:-1], kept[-1:]
    said_before = {s for beat in kept for s, _ in beat.sentences}
    extra: list[Beat] = []
    lines = itertools.chain(_recap_lines(facts, pack), _recap_lines(frames, pack))
    for variant, (beat, text) in enumerate(lines):
        size = words(text)
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
                pair = f"{unended(first)}, {pack['and']} {_lowered(second)}"
                yield beat, again[(round_ + i + j) % len(again)].format(x=_lowered(pair))


def _lowered(text: str) -> str:
    return text[0].lower() + text[1:] if text[1:2].islower() else text


def merge_smallest(beats: list[Beat]) -> list[Beat]:
    """Two neighbours become one scene: the pair with the fewest words, sparing two facts' cards where it can."""

    def cost(i: int) -> tuple[int, int]:
        both_facts = beats[i].fact and beats[i + 1].fact
        return (1 if both_facts else 0, beat_words(beats[i]) + beat_words(beats[i + 1]))

    i = min(range(len(beats) - 1), key=cost)
    first, second = beats[i], beats[i + 1]
    key = first.key if first.fact or not second.fact else second.key
    merged = Beat(key, first.sentences + second.sentences, first.fact or second.fact, first.sources + second.sources)
    return beats[:i] + [merged] + beats[i + 2 :]


def _split_largest(beats: list[Beat]) -> list[Beat] | None:
    """The beat with the most words becomes two scenes: between its sentences, or inside its longest one."""
    candidates = sorted(range(len(beats)), key=lambda i: -beat_words(beats[i]))
    said = {s for beat in beats for s, _ in beat.sentences}
    for i in candidates:
        beat = beats[i]
        if len(beat.sentences) > 1:
            cut = _balanced_cut([words(s) for s, _ in beat.sentences])
            first, second = beat.sentences[:cut], beat.sentences[cut:]
        else:
            tokens = beat.sentences[0][0].split()
            if len(tokens) < 4:
                continue
            half = len(tokens) // 2
            for offset in range(len(tokens) // 4 + 1):  # a comma near the middle is the kindest cut
                if tokens[half - 1 + offset].endswith(","):
                    half += offset
                    break
                if tokens[half - 1 - offset].endswith(","):
                    half -= offset
                    break
            priority = beat.sentences[0][1]
            first, second = [(" ".join(tokens[:half]), priority)], [(" ".join(tokens[half:]), priority)]
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

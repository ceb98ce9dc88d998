"""The offline writer's unit of a script: a beat, one thought on screen, and how much each sentence matters."""

from __future__ import annotations

from dataclasses import dataclass, field

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


def words(text: str) -> int:
    return len(text.split())


def beat_words(beat: Beat) -> int:
    return sum(words(s) for s, _ in beat.sentences)

"""The script prompt: instructions for any LLM plus the request as a JSON block.

The offline writer reads the same JSON block, so one prompt serves both.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

SYSTEM_PROMPT = """You write narration scripts for short narrated videos.
Answer with one JSON object and nothing else, in this shape:
{"title": "...", "scenes": [{"narration": "...", "visual_prompt": "...", "key_phrase": "...", "search_terms": ["...", "..."]}]}
Rules:
- exactly the number of scenes asked for, in order; every field non-empty;
- narration: spoken text in the requested language, plain sentences, no stage directions,
  no markdown, no emojis; the total word count close to the word budget;
- visual_prompt: one English sentence describing a still image for the scene (subject, setting, mood);
- key_phrase: 2 to 6 words shown on screen for the scene, in the narration's language;
- search_terms: 2 or 3 short English queries (1 to 3 concrete words each, best first) that find
  stock footage of what the scene shows, e.g. ["coral reef fish", "coral reef", "ocean"]."""

_FENCE = re.compile(r"```json\s*")
_REQUIRED = {"brief", "scene_count", "word_budget"}


@dataclass(frozen=True)
class ScriptBrief:
    """What the writer needs to know, sized by the pipeline (scene count, word budget)."""

    brief: str
    title: str | None
    audience: str | None
    style: str
    language: str
    duration_seconds: int
    scene_count: int
    word_budget: int
    # passages of the user's reference documents, most relevant first: {"source": ..., "text": ...}
    references: tuple[dict[str, str], ...] = ()

    def __post_init__(self) -> None:
        # a JSON round trip gives a list: keep the frozen brief's field a tuple either way
        object.__setattr__(self, "references", tuple(dict(r) for r in self.references))


def build_messages(spec: ScriptBrief) -> list[dict[str, str]]:
    request = json.dumps(asdict(spec), ensure_ascii=False, indent=2)
    user = (
        f"Write the script for this video. Scenes: {spec.scene_count}. "
        f"Word budget: about {spec.word_budget} words in total (about {spec.word_budget // spec.scene_count} per scene). "
        f"Language: {spec.language}. Style: {spec.style}.\n\n{_reference_notes(spec.references)}"
        f"Request:\n```json\n{request}\n```"
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def _reference_notes(references: tuple[dict[str, str], ...]) -> str:
    """The passages as notes the model must work from (empty without references)."""
    if not references:
        return ""
    passages = "\n\n".join(f"[{i}] {r['text'].strip()}" for i, r in enumerate(references, 1))
    return (
        "Reference notes (passages from the user's documents, most relevant first). "
        "Base the script's facts on them: where they differ from what you know, they win. "
        "Do not mention the notes, documents or file names in the narration, "
        "and do not invent numbers, dates or names that are not in the notes or the request.\n\n"
        f"{passages}\n\n"
    )


def repair_messages(messages: list[dict[str, str]], bad_answer: str, problem: str) -> list[dict[str, str]]:
    """A second chance: show the model its answer and what was wrong with it."""
    return [
        *messages,
        {"role": "assistant", "content": bad_answer[:8000]},
        {
            "role": "user",
            "content": f"That answer is not usable: {problem}. Reply again with only the corrected JSON object.",
        },
    ]


def spec_from_messages(messages: list[dict]) -> ScriptBrief:
    """Recover the request from a prompt built by build_messages (used by the offline writer)."""
    for message in reversed(messages):
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, str):
            request = _request_block(content)
            if request is not None:
                return ScriptBrief(**request)
    raise ValueError("the prompt holds no request block: build it with aura.providers.llm.prompts.build_messages")


def _request_block(content: str) -> dict | None:
    """The request object of a prompt, read from its last ```json fence that holds one.

    Decoded with raw_decode rather than matched by a pattern: reference text quoted
    in the prompt may itself hold braces and code fences.
    """
    decoder = json.JSONDecoder()
    for fence in reversed(list(_FENCE.finditer(content))):
        try:
            value, _ = decoder.raw_decode(content, fence.end())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and _REQUIRED <= value.keys():
            return value
    return None

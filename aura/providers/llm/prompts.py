"""The script prompt: instructions for any LLM plus the request as a JSON block.

The offline writer reads the same JSON block, so one prompt serves both.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

SYSTEM_PROMPT = """You write narration scripts for short narrated videos.
Answer with one JSON object and nothing else, in this shape:
{"title": "...", "scenes": [{"narration": "...", "visual_prompt": "...", "key_phrase": "..."}]}
Rules:
- exactly the number of scenes asked for, in order; every field non-empty;
- narration: spoken text in the requested language, plain sentences, no stage directions,
  no markdown, no emojis; the total word count close to the word budget;
- visual_prompt: one English sentence describing a still image for the scene (subject, setting, mood);
- key_phrase: 2 to 6 words shown on screen for the scene, in the narration's language."""

_BLOCK = re.compile(r"```json\s*(\{.*?\})\s*```", re.DOTALL)


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


def build_messages(spec: ScriptBrief) -> list[dict[str, str]]:
    request = json.dumps(asdict(spec), ensure_ascii=False, indent=2)
    user = (
        f"Write the script for this video. Scenes: {spec.scene_count}. "
        f"Word budget: about {spec.word_budget} words in total (about {spec.word_budget // spec.scene_count} per scene). "
        f"Language: {spec.language}. Style: {spec.style}.\n\nRequest:\n```json\n{request}\n```"
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


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
            match = _BLOCK.search(content)
            if match:
                return ScriptBrief(**json.loads(match.group(1)))
    raise ValueError("the prompt holds no request block: build it with aura.providers.llm.prompts.build_messages")

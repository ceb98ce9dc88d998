"""Reference documents: loading, passages, retrieval with the real all-MiniLM-L6-v2 model,
and a fact found only in a document reaching the narration."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.media import pdf_bytes

from aura.errors import ProviderError
from aura.providers.llm.client import OFFLINE_MODEL, complete
from aura.providers.llm.prompts import ScriptBrief, build_messages, spec_from_messages
from aura.providers.rag import (
    MINILM_NAME,
    EmbeddingScorer,
    KeywordScorer,
    MiniLMEmbedder,
    ReferenceDocumentError,
    chunk_text,
    excerpt,
    load_documents,
    prompt_references,
    reference_sources,
    retrieve,
    split_sentences,
)
from aura.stages.script import parse_script, scene_count_for, word_budget_for

WPM = 150
ROOT = Path(__file__).resolve().parents[1]

# three topics; the geology text avoids the words "volcano" and "erupt" on purpose
GEOLOGY = (
    "Molten rock called magma rises through cracks in the crust. "
    "When the gas dissolved in it expands, pressure builds until the rock bursts out at the surface as lava and ash."
)
BAKING = (
    "A sourdough starter is a mix of flour and water full of wild yeast. "
    "Bakers feed it every day, and the bread rises slowly overnight before it goes into a hot oven."
)
CHESS = (
    "In chess, the bishop moves diagonally across the board. "
    "Castling lets the king hide behind a rook early in the game."
)
ZARNOK = """# The Zarnok Basin

The Zarnok Basin holds 417 dormant vents, according to a survey by Dr. Ewa Lind.
The vents line a crescent-shaped rift about forty kilometres long.

## Visiting

- Permits are required.
- Maps: [the survey office](https://example.org/maps).

Herders call the basin the sleeping kettle, because steam rises from it on cold mornings.
"""


@pytest.fixture(scope="module")
def minilm() -> EmbeddingScorer:
    """The real model, loaded once for the module (about 6 s, most of it importing torch)."""
    started = time.perf_counter()
    scorer = EmbeddingScorer(MiniLMEmbedder())
    print(f"\n{MINILM_NAME} loaded in {time.perf_counter() - started:.1f} s")
    return scorer


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# --- documents --------------------------------------------------------------------------------


def test_text_file_keeps_paragraphs_and_joins_wrapped_lines(tmp_path):
    path = write(tmp_path, "notes.txt", (
        "Glaciers move slowly, a few metres a day in most valleys, pushed by\n"
        "their own weight.\n\nA second paragraph.\n"
    ))  # fmt: skip
    (document,) = load_documents([path])
    assert document.source == "notes.txt"
    assert document.text == (
        "Glaciers move slowly, a few metres a day in most valleys, pushed by their own weight.\n\nA second paragraph."
    )


def test_markdown_markup_is_stripped(tmp_path):
    path = write(tmp_path, "guide.md", (
        "---\ntitle: front matter\n---\n# Lava *flows*\n\nLava is **hot**, see [the lava page](https://x.org/lava) "
        "and `basalt` <span>here</span>.\n\n```python\nprint('code')\n```\n\n"
        "| Rock | Heat |\n|---|---|\n| basalt | 1200 |\n\n"
        "- first point\n- second point\n\n![a photo](photo.png)\n"
    ))  # fmt: skip
    text = load_documents([path])[0].text
    assert text.split("\n\n")[0] == "Lava flows"
    assert "Lava is hot, see the lava page and basalt here." in text
    assert "Rock, Heat\nbasalt, 1200" in text
    assert "first point\nsecond point" in text
    for markup in ("#", "*", "](", "`", "<", "|", "print", "https", "title:", "photo"):
        assert markup not in text, markup


def test_rst_markup_is_stripped(tmp_path):
    path = write(tmp_path, "guide.rst", (
        "Lava\n====\n\nLava is *hot* and ``basalt`` is common, see `the page <https://x.org>`_.\n\n"
        ".. code-block:: python\n\n   print('code')\n\nAfter the code.\n"
    ))  # fmt: skip
    text = load_documents([path])[0].text
    assert text == "Lava\n\nLava is hot and basalt is common, see the page.\n\nAfter the code."


def test_pdf_text_is_read_page_by_page(tmp_path):
    path = write(tmp_path, "report.pdf", pdf_bytes(["Page one says magma is molten rock.", "Page two (the end)."]))
    (document,) = load_documents([path])
    assert document.source == "report.pdf"
    assert document.text == "Page one says magma is molten rock.\n\nPage two (the end)."


def test_unusable_pdfs_are_named(tmp_path):
    from pypdf import PdfReader, PdfWriter

    plain = write(tmp_path, "plain.pdf", pdf_bytes(["Secret text."]))
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    with open(tmp_path / "locked.pdf", "wb") as handle:
        writer.write(handle)
    write(tmp_path, "broken.pdf", b"%PDF-1.4\nthis is not a pdf at all")
    write(tmp_path, "blank.pdf", pdf_bytes([""]))
    expected = {"locked.pdf": "encrypted", "broken.pdf": "not a readable PDF", "blank.pdf": "without extractable text"}
    for name, words in expected.items():
        with pytest.raises(ReferenceDocumentError) as info:
            load_documents([tmp_path / name])
        assert str(tmp_path / name) in str(info.value) and words in str(info.value)


def test_folders_are_read_recursively_in_sorted_order(tmp_path):
    write(tmp_path, "b.md", "# B\n\nSecond file.")
    write(tmp_path, "a.txt", "First file.")
    write(tmp_path, "deep/c.rst", "Third file.")
    write(tmp_path, "deep/d.pdf", pdf_bytes(["Fourth file."]))
    write(tmp_path, "deep/notes.docx", "not a supported format, skipped inside a folder")
    write(tmp_path, ".git/e.txt", "hidden folder, skipped")
    write(tmp_path, ".f.txt", "hidden file, skipped")
    documents = load_documents([tmp_path, tmp_path / "a.txt"])  # the same file twice counts once
    assert [d.source for d in documents] == ["a.txt", "b.md", "deep/c.rst", "deep/d.pdf"]
    assert documents[-1].text == "Fourth file."


@pytest.mark.parametrize(
    ("name", "words"),
    [("missing.txt", "does not exist"), ("slides.pptx", "not a supported document"), ("empty", "holds no documents")],
)
def test_bad_paths_are_named_with_what_is_accepted(tmp_path, name, words):
    (tmp_path / "empty").mkdir()
    write(tmp_path, "slides.pptx", "x")
    with pytest.raises(ProviderError) as info:  # ReferenceDocumentError is a ProviderError
        load_documents([tmp_path / name])
    message = str(info.value)
    assert str(tmp_path / name) in message and words in message and ".txt, .md" in message and ".pdf" in message


def test_any_encoding_is_read_without_crashing(tmp_path):
    write(tmp_path, "latin1.txt", "Café crème at 20 °C.".encode("latin-1"))
    write(tmp_path, "cp1252.txt", "\u201cQuoted\u201d text.".encode("cp1252"))
    write(tmp_path, "bom.txt", "\ufeffWith a BOM \x1b[31mand colour\x1b[0m.".encode())
    write(tmp_path, "utf16.txt", "Wide text.".encode("utf-16"))
    texts = {d.source: d.text for d in load_documents([tmp_path])}
    assert texts == {
        "bom.txt": "With a BOM and colour.",
        "cp1252.txt": "\u201cQuoted\u201d text.",
        "latin1.txt": "Café crème at 20 °C.",
        "utf16.txt": "Wide text.",
    }


def test_empty_file_is_named(tmp_path):
    path = write(tmp_path, "empty.md", "```\nonly code\n```\n")
    with pytest.raises(ReferenceDocumentError, match="holds no text"):
        load_documents([path])


# --- passages ---------------------------------------------------------------------------------


def test_sentences_survive_abbreviations():
    assert split_sentences("Dr. Lind mapped it in the U.S. in 2019. It has 417 vents! Why?\nA new line") == [
        "Dr. Lind mapped it in the U.S. in 2019.",
        "It has 417 vents!",
        "Why?",
        "A new line",
    ]


def test_chunks_are_bounded_ordered_and_overlap():
    sentences = [f"Sentence number {i} adds one more fact about the slow flow of glaciers." for i in range(40)]
    text = " ".join(sentences[:25]) + "\n\n" + " ".join(sentences[25:])
    chunks = chunk_text(text, max_chars=300)
    assert len(chunks) > 5 and all(len(c) <= 300 for c in chunks)
    positions = [text.find(split_sentences(c)[0]) for c in chunks]
    assert positions == sorted(positions) and -1 not in positions
    for sentence in sentences:  # nothing is lost
        assert any(sentence in c for c in chunks)
    inside_paragraph = [(a, b) for a, b in itertools.pairwise(chunks) if "number 25 " not in b]
    assert all(split_sentences(a)[-1] == split_sentences(b)[0] for a, b in inside_paragraph)
    assert chunk_text(text, max_chars=300) == chunks  # deterministic


def test_short_paragraphs_share_a_chunk_and_long_words_are_cut():
    assert chunk_text("One short paragraph.\n\nAnother one.") == ["One short paragraph.\n\nAnother one."]
    chunks = chunk_text("x" * 250 + " tail.", max_chars=100)
    assert all(len(c) <= 100 for c in chunks) and "".join(chunks).replace(" ", "") == "x" * 250 + "tail."


# --- retrieval --------------------------------------------------------------------------------


@pytest.fixture
def topics(tmp_path) -> Path:
    write(tmp_path, "geology.txt", GEOLOGY)
    write(tmp_path, "baking.md", f"# Bread\n\n{BAKING}")
    write(tmp_path, "chess.txt", CHESS)
    return tmp_path


def test_minilm_matches_meaning_without_shared_words(minilm, topics):
    query = "how do volcanoes erupt"
    assert KeywordScorer().score(query, [GEOLOGY, BAKING, CHESS]) == [0, 0, 0]  # no word in common
    found = retrieve(query, [topics], top_k=1, max_chars=300, scorer=minilm)
    assert found.method == MINILM_NAME and found.warnings == []
    assert [p.source for p in found.passages] == ["geology.txt"]
    assert found.passages[0].text == GEOLOGY and 0 < found.passages[0].score <= 1


def test_small_references_are_given_whole_best_document_first(minilm, topics):
    found = retrieve("how do volcanoes erupt", [topics], top_k=1, scorer=minilm)
    # everything fits the prompt: every passage, the nearest document first
    assert found.passages[0].source == "geology.txt"
    assert sorted(p.source for p in found.passages) == ["baking.md", "chess.txt", "geology.txt"]


def test_default_retrieval_uses_minilm_and_the_budget(minilm, tmp_path):
    facts = [f"Fact {i}: the comet Velor{i} returns every {i + 3} years and glows green." for i in range(60)]
    write(tmp_path, "comets.txt", "\n\n".join(" ".join(facts[i : i + 3]) for i in range(0, 60, 3)))
    write(tmp_path, "copy/comets.txt", "\n\n".join(" ".join(facts[i : i + 3]) for i in range(0, 60, 3)))
    write(tmp_path, "geology.txt", GEOLOGY)
    started = time.perf_counter()
    found = retrieve("molten rock under the ground", [tmp_path], top_k=3, max_chars=600)
    print(f"\nretrieval over {len(facts) // 3 + 1} passages: {time.perf_counter() - started:.2f} s")
    assert found.method == MINILM_NAME
    assert found.passages[0].source == "geology.txt"
    assert len(found.passages) <= 3 and sum(len(p.text) for p in found.passages) <= 600
    assert [p.score for p in found.passages] == sorted((p.score for p in found.passages), reverse=True)
    assert len({p.text for p in found.passages}) == len(found.passages)  # the copied file adds nothing


def test_large_references_are_shortlisted_by_keywords_before_the_model(minilm, tmp_path):
    write(tmp_path, "comets.txt", "\n\n".join(f"Comet Velor{i} returns every {i + 3} years." for i in range(30)))
    write(tmp_path, "geology.txt", GEOLOGY)
    found = retrieve("magma in the crust", [tmp_path], top_k=1, max_chars=100, scorer=minilm, max_compared=5)
    assert found.passages[0].source == "geology.txt"
    (warning,) = found.warnings
    assert "passages: the 5 sharing most words with the brief" in warning


def test_keyword_scorer_ranks_by_shared_words(topics):
    found = retrieve("sourdough bread starter", [topics], top_k=1, max_chars=300, scorer=KeywordScorer())
    assert found.method == "keyword"
    assert found.passages[0].source == "baking.md"
    scores = KeywordScorer().score("bishop castling rook", [GEOLOGY, BAKING, CHESS])
    assert scores[2] > 0 and scores[0] == scores[1] == 0


def test_without_the_rag_extra_keyword_matching_takes_over_and_says_so(topics):
    # a fresh interpreter where sentence-transformers and torch cannot be imported
    program = f"""
import json, sys
import aura.providers.rag as rag
imported_torch = "torch" in sys.modules
sys.modules["sentence_transformers"] = None
sys.modules["torch"] = None
found = rag.retrieve("sourdough bread starter", [{str(topics)!r}], top_k=1, max_chars=300)
print(json.dumps({{"torch": imported_torch, "method": found.method, "warnings": found.warnings,
                  "first": found.passages[0].source}}))
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", program]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["torch"] is False  # importing the package never loads torch
    assert result["method"] == "keyword" and result["first"] == "baking.md"
    (warning,) = result["warnings"]
    assert "fell back to keyword matching" in warning and "aura-video[rag]" in warning


def test_passages_become_reference_sources():
    from aura.providers.rag import Passage

    long_text = "Magma rises through the crust. " * 20
    sources = reference_sources([Passage("notes/geo.md", 2, long_text, 0.61)])
    assert sources[0].source == "notes/geo.md" and sources[0].chunk == 2 and sources[0].score == 0.61
    assert len(sources[0].excerpt) <= 160 and sources[0].excerpt.endswith("…")
    assert excerpt("Short text.") == "Short text."


# --- the script uses what the documents say --------------------------------------------------


def spec_with(passages, duration: int = 60, brief: str = "How volcanic basins go quiet", style: str = "explainer"):
    scenes = scene_count_for(duration)
    return ScriptBrief(
        brief=brief, title=None, audience=None, style=style, language="en", duration_seconds=duration,
        scene_count=scenes, word_budget=word_budget_for(duration, scenes, WPM), references=prompt_references(passages),
    )  # fmt: skip


@pytest.fixture
def zarnok(tmp_path) -> Path:
    write(tmp_path, "basins/zarnok.md", ZARNOK)
    write(tmp_path, "geology.txt", GEOLOGY)
    write(tmp_path, "baking.md", BAKING)
    write(tmp_path, "chess.txt", CHESS)
    return tmp_path


def test_a_fact_only_in_a_document_reaches_the_narration(minilm, zarnok):
    found = retrieve("How volcanic basins go quiet", [zarnok], top_k=2, max_chars=500, scorer=minilm)
    assert found.passages[0].source == "basins/zarnok.md"
    spec = spec_with(found.passages)
    messages = build_messages(spec)

    # a remote model gets the passages as notes, with the rules for using them
    prompt = messages[-1]["content"]
    assert "Reference notes" in prompt and "417 dormant vents" in prompt and "do not invent numbers" in prompt
    assert spec_from_messages(messages) == spec

    # the offline writer, through litellm and the parser the stage uses, narrates them
    answer = complete(messages, OFFLINE_MODEL).text
    script = parse_script(answer, spec, writer=OFFLINE_MODEL)
    narration = " ".join(scene.narration for scene in script.scenes)
    assert "The Zarnok Basin holds 417 dormant vents" in narration
    assert "sleeping kettle" in narration
    for noise in ("#", "Permits are required", "https", "Visiting", "zarnok.md"):
        assert noise not in narration


@pytest.mark.parametrize("style", ["explainer", "documentary", "story"])
def test_scripts_with_references_keep_the_scene_count_and_word_budget(style):
    from aura.providers.rag import Passage

    passages = [Passage("zarnok.md", 0, ZARNOK, 0.5), Passage("geology.txt", 0, GEOLOGY, 0.3)]
    for duration in (10, 11, 13, 20, 30, 60, 90, 180, 600, 1200):
        spec = spec_with(passages, duration, style=style)
        script = parse_script(complete(build_messages(spec), OFFLINE_MODEL).text, spec, writer=OFFLINE_MODEL)
        assert len(script.scenes) == spec.scene_count, duration
        assert abs(script.word_count - spec.word_budget) <= 0.2 * spec.word_budget, duration
        assert "417 dormant vents" in " ".join(s.narration for s in script.scenes), duration


def test_prompt_without_references_is_unchanged_and_odd_reference_text_round_trips():
    plain = spec_with([])
    assert "Reference notes" not in build_messages(plain)[-1]["content"]
    assert spec_from_messages(build_messages(plain)) == plain
    from aura.providers.rag import Passage

    odd = spec_with([Passage("x.txt", 0, 'A fence ```json {"brief": 1} ``` and } braces {0}.', 0.1)])
    assert spec_from_messages(build_messages(odd)) == odd

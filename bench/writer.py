"""The offline writer, measured: how much of each script is the user's own material, and how long it runs.

For a set of briefs of every style in the six languages it writes (and one brief
with a reference document), it prints:

- own words: the share of the script's words that come from the brief or the
  documents (a word counts when it appears there, case and accents aside);
- fact cards: the share of title cards that name a fact of the brief or of
  the documents (a card made of the brief's own words);
- spoken / asked: the narration's length spoken by the real espeak-ng voice at
  the 150 words a minute the script was sized for, with the pipeline's pauses,
  against the duration asked: how well the writer sized the script (the voice
  stage then paces the speech to the asked length);
- ms: the writer's own time for the script.

Run: .venv/bin/python bench/writer.py [--json]
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aura.models import VideoRequest  # noqa: E402
from aura.providers.llm.offline import write_script  # noqa: E402
from aura.providers.llm.writing.packs import pack_for  # noqa: E402
from aura.providers.rag import KeywordScorer, prompt_references, retrieve  # noqa: E402
from aura.providers.tts.espeak import EspeakTTS  # noqa: E402
from aura.stages.script import LEAD_IN_S, SCENE_PAUSE_S, TAIL_S, spec_for  # noqa: E402

WPM = 150
BRIEFS = [
    ("promo", 30, 'A promo for a bakery ("sourdough baked daily at 5 a.m., 20% off croissants this weekend, '
                  'open Tue–Sun, 7:00–15:00")'),
    ("explainer", 60, "A quarterly update: revenue reached $4.2M in Q3 2026, up 12.5%; we hired 40 engineers; "
                      "the Berlin office opens in March; churn fell to 3%."),
    ("documentary", 60, "A documentary on the history of printing: Bi Sheng made movable type in China around 1040. "
                        "Gutenberg built his press in Mainz around 1450. The rotary press came in 1843."),
    ("explainer", 120, "A 2-minute explainer on how volcanoes form, for teenagers"),
    ("tutorial", 45, "How to make pancakes: 1. Mix flour, eggs and milk. 2. Heat a pan with butter. "
                     "3. Pour a ladle of batter. 4. Flip when bubbles appear."),
    ("story", 60, "A story about a lighthouse keeper who finds a lost puppy during a storm; "
                  "the two wait out the night together; at dawn a fishing boat brings the owner."),
    ("promo", 30, "Un anuncio para una panadería: pan de masa madre horneado cada día a las 5, "
                  "20% de descuento en cruasanes este fin de semana, abierto mar–dom, 7:00–15:00"),
    ("explainer", 30, "Une vidéo sur la fabrication du pain, pour les enfants : on mélange la farine et l'eau ; "
                      "la pâte lève pendant la nuit ; le pain cuit dans un four très chaud."),
    ("documentary", 30, "Ein Video über die Geschichte des Fahrrads: Karl Drais baute 1817 die Laufmaschine. "
                        "Um 1860 kamen die Pedale dazu. Heute fahren Millionen Menschen jeden Tag mit dem Rad."),
    ("explainer", 30, "Um vídeo sobre as abelhas e o mel: as abelhas recolhem o néctar das flores; "
                      "na colmeia, o néctar vira mel; cada colmeia tem uma rainha."),
    ("story", 30, "Un video sulla storia della pizza, per tutti: nasce a Napoli nel Settecento; "
                  "la margherita arriva nel 1889; oggi la pizza è famosa in tutto il mondo."),
    ("explainer", 600, "A 10-minute explainer on how volcanoes form, for teenagers"),
]  # fmt: skip
DOCUMENT = "\n".join(
    f"- {fact}"
    for fact in (
        "The lighthouse at Kessel Point was built in 1874 by the harbour board.",
        "Its tower rises thirty-one metres above the rocks of the headland.",
        "The first lamp burned whale oil and could be seen from twelve miles away.",
        "A Fresnel lens of the first order was installed in the lantern room in 1910.",
        "During the storm of 1953 waves broke over the gallery for two whole days.",
        "Electric power reached the station in 1961 through an undersea cable.",
        "Automation came in 1989, and the last keeper left the station that spring.",
        "Today a local trust looks after the tower and opens it to visitors in summer.",
        "Seabirds such as puffins and razorbills nest on the cliffs below the tower.",
        "The light still flashes white twice every fifteen seconds.",
    )
)
_WORD = re.compile(r"[^\W_]+")


def words_of(text: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", text.lower())
    return _WORD.findall("".join(ch for ch in plain if not unicodedata.combining(ch)))


def measure(style: str, duration: int, brief: str, references=()) -> dict:
    request = VideoRequest(brief=brief, duration_seconds=duration, style=style)
    spec = spec_for(request, WPM, list(references))
    started = time.perf_counter()
    script = write_script(spec)
    elapsed_ms = (time.perf_counter() - started) * 1000
    own = set(words_of(brief + " " + " ".join(r["text"] for r in references)))
    said = [w for scene in script["scenes"] for w in words_of(scene["narration"])]
    # spoken numbers are the brief's own material too
    spoken_forms = {"percent", "million", "dollars", "third", "quarter", "of", "to", "from", "a", "m", "p"}
    own_share = sum(w in own or w in spoken_forms for w in said) / max(1, len(said))
    cards = [scene["key_phrase"] for scene in script["scenes"]]
    # a tutorial's "Step 2:" label is the writer's; the words after it are the brief's
    step = set(words_of(pack_for(request.language)["step_label"].format(n=""))) if pack_for(request.language) else set()
    fact_cards = sum(1 for card in cards if set(words_of(card)) - step <= own) / len(cards)
    voice = EspeakTTS()
    spoken = sum(
        len(s.pcm) // 2 / s.sample_rate
        for s in (voice.synthesize(scene["narration"], language=request.language, rate_wpm=WPM) for scene in script["scenes"])
    )
    reached = LEAD_IN_S + spoken + SCENE_PAUSE_S * (len(cards) - 1) + TAIL_S
    return {
        "style": style, "language": request.language, "asked_s": duration, "spoken_s": round(reached, 1),
        "own_words": round(own_share, 2), "fact_cards": round(fact_cards, 2), "scenes": len(cards),
        "ms": round(elapsed_ms, 1), "brief": brief[:48],
    }  # fmt: skip


def main() -> None:
    rows = [measure(style, duration, brief) for style, duration, brief in BRIEFS]
    with tempfile.TemporaryDirectory() as folder:
        document = Path(folder, "kessel-point.md")
        document.write_text("# Kessel Point\n\n" + DOCUMENT + "\n", encoding="utf-8")
        found = retrieve("The Kessel Point lighthouse", [document], top_k=20, max_chars=6000, scorer=KeywordScorer())
        rows.append(measure("documentary", 60, "The Kessel Point lighthouse", prompt_references(found.passages)))
    if "--json" in sys.argv:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    print(f"{'style':<12}{'lang':<6}{'asked':>6}{'spoken':>9}{'own words':>11}{'fact cards':>12}{'ms':>7}  brief")
    for r in rows:
        print(f"{r['style']:<12}{r['language']:<6}{r['asked_s']:>5}s{r['spoken_s']:>8}s{r['own_words']:>11.0%}"
              f"{r['fact_cards']:>12.0%}{r['ms']:>7}  {r['brief']}")  # fmt: skip


if __name__ == "__main__":
    main()

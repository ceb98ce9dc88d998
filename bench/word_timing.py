"""Benchmark: how close the word-timing estimator comes to timings that are known.

Speech APIs answer with audio only, so the `speech` engine asks for each phrase
on its own and places the words inside it with
aura.providers.tts.timing.place_words (phoneme counts and the audio's pauses).
Here the same estimator is run on audio whose word timings are measured:

- piper: the word starts from Piper's phoneme alignments;
- espeak-ng: the word starts from espeak-ng's WORD events.

Each narration of the corpus is cut with split_phrases, each phrase spoken on
its own (as the speech engine does), and every word's estimated start is
compared with the engine's. Targets (issue 17): median error <= 80 ms, 95th
percentile <= 200 ms. Not a test: it prints figures and a Markdown table for
README.md. Run:
    .venv/bin/python bench/word_timing.py            # both engines, the whole corpus
    .venv/bin/python bench/word_timing.py --engines piper --worst 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# narration as scripts have it: numbers, commas, questions, quotes, hyphens, long and short sentences
CORPUS = [
    "A bicycle stays upright because its wheels keep turning, and the rider keeps steering into every fall.",
    "In 1885, John Kemp Starley built the Rover, the first safety bicycle with two wheels of the same size.",
    "Why does a moving bike balance when a parked one topples over? The answer lies in the front wheel.",
    "The fork is tilted backwards, so the wheel touches the ground behind the steering axis.",
    "This trail makes the wheel turn towards a lean, catching the bike before it falls.",
    "Gyroscopic forces help a little, but experiments in 2011 showed that a bike can balance without them.",
    "Magma forms about 100 kilometres below the surface, where rock melts under heat and pressure.",
    "Lighter than the rock around it, the molten material rises slowly, gathering in chambers.",
    "When the pressure grows too large, gas and lava burst out through a vent: an eruption begins.",
    "Some volcanoes, like Kilauea in Hawaii, ooze runny lava; others explode with ash and stone.",
    "Mount St. Helens lost 400 metres of its summit on May 18, 1980.",
    "Coral reefs cover less than one percent of the ocean floor, yet a quarter of all marine species live there.",
    "Each coral is a colony of tiny animals called polyps, which build skeletons of limestone.",
    "Inside their tissues live algae that turn sunlight into food, sharing it with their hosts.",
    "When the water warms by just one or two degrees, the corals expel the algae and turn white.",
    "Scientists call this bleaching, and it has struck the Great Barrier Reef several times since 2016.",
    "Your heart beats about 100,000 times a day, pumping blood through 96,000 kilometres of vessels.",
    "It has four chambers: two atria that receive blood, and two ventricles that push it out.",
    "Valves between the chambers open and close in a precise rhythm, which you hear as a heartbeat.",
    "Exercise, sleep, and a balanced diet keep this remarkable pump working for decades.",
    "Photosynthesis is how plants make sugar from water, carbon dioxide and light.",
    "The green pigment chlorophyll absorbs red and blue light, and reflects the green we see.",
    "Oxygen, the gas we breathe, is released as a by-product of splitting water molecules.",
    "Every year, plants capture roughly 120 billion tonnes of carbon from the air.",
    "Think about that the next time you walk past a tree.",
    "The Roman Empire, at its height around AD 117, stretched from Britain to Mesopotamia.",
    "Its roads, aqueducts and laws shaped Europe for more than a thousand years.",
    "But why did it fall? Historians still argue about the answer.",
    "Some point to economic trouble, others to plague, civil war, or pressure on the frontiers.",
    "Black holes form when massive stars collapse, squeezing matter into an incredibly small space.",
    "Nothing, not even light, can escape once it crosses the event horizon.",
    "In April 2019, astronomers released the first image of one, in the galaxy M87.",
    "It showed a glowing ring of gas around a dark shadow, 55 million light-years away.",
    "So, what have we learned? Small forces, repeated patiently, shape the world around us.",
]


@dataclass
class Figures:
    engine: str
    errors_ms: list[float]
    phrases: int
    worst: list[tuple[float, str, str]]  # (error, word, phrase)

    @property
    def median(self) -> float:
        return statistics.median(self.errors_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.errors_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(engine_name: str, corpus: list[str] = CORPUS, language: str = "en") -> Figures:
    """Speak each phrase of the corpus with the engine; compare the estimator's word starts with the engine's."""
    from aura.providers.tts.espeak import EspeakTTS
    from aura.providers.tts.piper_provider import PiperTTS
    from aura.providers.tts.timing import place_words, split_phrases
    from aura.stages.voice import words_as_written

    engine = {"piper": PiperTTS, "espeak-ng": EspeakTTS}[engine_name]()
    errors: list[float] = []
    worst: list[tuple[float, str, str]] = []
    phrases = 0
    for narration in corpus:
        for phrase in split_phrases(narration):
            speech = engine.synthesize(phrase, language=language)
            truth = words_as_written(phrase, speech.words)
            estimate = place_words(phrase.split(), speech.pcm, speech.sample_rate, language)
            if [w.text for w in truth] != [w.text for w in estimate]:
                continue  # the engine's words could not be matched to the text's: no truth to compare with
            phrases += 1
            for known, guessed in zip(truth, estimate):
                error = abs(guessed.start - known.start) * 1000
                errors.append(error)
                worst.append((error, known.text, phrase))
    worst.sort(reverse=True)
    return Figures(engine_name, errors, phrases, worst)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="piper,espeak-ng")
    parser.add_argument("--worst", type=int, default=5, help="show the N largest errors")
    args = parser.parse_args()
    rows = []
    for name in args.engines.split(","):
        figures = measure(name.strip())
        rows.append(figures)
        print(f"{figures.engine}: {len(figures.errors_ms)} words in {figures.phrases} phrases; "
              f"median {figures.median:.0f} ms, p95 {figures.p95:.0f} ms, max {max(figures.errors_ms):.0f} ms")  # fmt: skip
        for error, word, phrase in figures.worst[: args.worst]:
            print(f"    {error:5.0f} ms  {word!r} in {phrase!r}")
    print("\n| truth from | words | phrases | median error | 95th percentile | target |")
    print("|---|---|---|---|---|---|")
    for f in rows:
        met = "met" if f.median <= 80 and f.p95 <= 200 else "NOT met"
        print(f"| {f.engine} | {len(f.errors_ms)} | {f.phrases} | {f.median:.0f} ms | {f.p95:.0f} ms | {met} |")


if __name__ == "__main__":
    main()

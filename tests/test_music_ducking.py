"""Background music dips under the narration and comes back in the pauses (real ffmpeg, real espeak)."""

from __future__ import annotations

import subprocess

from helpers.media import MUSIC_HZ, band_level_db
from PIL import Image

from aura.media.audio import silence, write_wav
from aura.media.compose import render
from aura.media.plan import CompositionPlan, overscan_size, plan_shots
from aura.media.ffmpeg import ffmpeg_path
from aura.providers.tts import EspeakTTS


def test_music_is_ducked_while_the_narrator_speaks(tmp_path):
    speech = EspeakTTS().synthesize("This is the narrator speaking clearly for a few seconds over the music bed.")
    lead, tail = 0.5, 3.0
    narration = tmp_path / "narration.wav"
    write_wav(narration, silence(lead, speech.sample_rate) + speech.pcm + silence(tail, speech.sample_rate), speech.sample_rate)
    duration = lead + speech.duration + tail

    music = tmp_path / "music.wav"
    subprocess.run(
        [ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", f"sine=f={MUSIC_HZ}:d=20", "-ac", "2", str(music)], check=True
    )
    still = tmp_path / "still.png"
    Image.new("RGB", overscan_size(160, 90), (30, 60, 90)).save(still)
    clips, frames = plan_shots([still], [0.0], duration, 10, ["pan_right"])
    output = tmp_path / "out.mp4"
    plan = CompositionPlan(
        width=160, height=90, fps=10, total_frames=frames, shots=clips, narration=narration, output=output, music=music
    )
    render(plan)

    speech_mid = lead + speech.duration / 2
    during_speech = band_level_db(output, speech_mid - 0.75, speech_mid + 0.75)
    after_speech = band_level_db(output, lead + speech.duration + 1.2, duration - 0.3)
    # the side-chain compressor pulls the music down by several dB under the voice
    assert after_speech - during_speech >= 4.0, (during_speech, after_speech)
    assert after_speech > -60, "the music is missing from the mix"

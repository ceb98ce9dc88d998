"""ffmpeg plumbing: locating binaries, probing, subtitles, audio, composition."""

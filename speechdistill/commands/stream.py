"""`speechdistill transcribe --stream`: a streaming bundle over files or stdin, partial results as audio arrives.

Registered by ``commands/evaluate.py`` (the ``transcribe`` command); imports numpy + onnxruntime only.
Partial results go to stderr (one line per change, or rewritten in place on a terminal); each utterance the
endpointer closes is printed to stdout as ``path<TAB>start_s<TAB>end_s<TAB>text``.

    speechdistill transcribe --stream --model BUNDLE clip.wav
    arecord -f S16_LE -r 16000 -c 1 | speechdistill transcribe --stream --model BUNDLE -
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

STDIN = "-"
PCM_BYTES = 2  # raw stdin input: signed 16-bit little-endian mono


def pieces(source: str, sample_rate: int, piece_s: float) -> Iterator[np.ndarray]:
    """Float32 pieces of ``piece_s`` seconds: from a file (resampled to ``sample_rate``) or raw PCM on stdin."""
    step = max(1, int(piece_s * sample_rate))
    if source == STDIN:
        stream = sys.stdin.buffer
        while True:
            data = stream.read(step * PCM_BYTES)
            if not data:
                return
            data = data[: len(data) // PCM_BYTES * PCM_BYTES]
            yield np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
    else:
        from ..runtime import read_audio

        signal = read_audio(source, sample_rate)
        for start in range(0, len(signal), step):
            yield signal[start:start + step]


def _show_partial(text: str, tty: bool) -> None:
    if tty:
        print(f"\r\033[K{text}", end="", file=sys.stderr, flush=True)
    else:
        print(f"partial\t{text}", file=sys.stderr, flush=True)


def transcribe_stream(args: argparse.Namespace) -> int:
    """Stream each input through a StreamingRecognizer; returns the exit code."""
    from ..runtime.streaming import EndpointRules, StreamingRecognizer

    recognizer = StreamingRecognizer(str(Path(args.model).expanduser()), args.precision,
                                     endpoint=EndpointRules() if getattr(args, "endpoint", True) else None)
    tty = sys.stderr.isatty()
    piece_s = getattr(args, "piece_ms", 100.0) / 1000
    for source in map(str, args.audio):
        stream = recognizer.create_stream()
        shown = ""
        for piece in pieces(source, recognizer.sample_rate, piece_s):
            stream.accept_waveform(piece)
            if stream.decode_ready() and stream.text != shown:
                shown = stream.text
                _show_partial(shown, tty)
            if stream.is_endpoint():
                _final(source, stream.take_segment(), tty)
                shown = ""
        stream.finish()
        _final(source, stream.take_segment(), tty)
    return 0


def _final(source: str, segment, tty: bool) -> None:
    if tty:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    if segment.text:
        print(f"{source}\t{segment.start_s:.2f}\t{segment.end_s:.2f}\t{segment.text}", flush=True)

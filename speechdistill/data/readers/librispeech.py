"""The LibriSpeech directory layout: ``<root>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt`` + ``.flac``."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

from ...text import Vocabulary
from ..errors import DataError, SkipReport
from ..records import Utterance
from .common import DEFAULT_VOCAB, Checks, collect, read_lines

TRANSCRIPT_GLOB = "*.trans.txt"
AUDIO_SUFFIX = ".flac"


def read_librispeech(root: str | Path, *, labelled: bool = True, report: SkipReport | None = None,
                     vocab: Vocabulary | None = DEFAULT_VOCAB,
                     max_duration_s: float | None = None) -> list[Utterance]:
    """Read every ``*.trans.txt`` below ``root`` (one subset like ``train-clean-100``, or several).

    Each transcript line is ``<utterance-id> <TEXT>``; the audio is ``<utterance-id>.flac`` beside it and
    the speaker is the folder two levels up. Durations come from the FLAC headers.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(str(root), "LibriSpeech directory not found")
    transcripts = sorted(root.rglob(TRANSCRIPT_GLOB))
    if not transcripts:
        raise DataError(str(root), f"no LibriSpeech transcripts ({TRANSCRIPT_GLOB}) below this directory")
    return collect(_entries(transcripts, Checks(labelled, vocab, max_duration_s)), report)


def _entries(transcripts: list[Path], checks: Checks) -> Iterator:
    for trans in transcripts:
        speaker = trans.parent.parent.name
        for lineno, line in enumerate(read_lines(trans), 1):
            if line.strip():
                where = f"{trans}:{lineno}"
                yield where, partial(_entry, line, where, trans.parent, speaker, checks)


def _entry(line: str, where: str, folder: Path, speaker: str, checks: Checks) -> Utterance:
    uid, _, text = line.strip().partition(" ")
    return checks.utterance(uid, folder / f"{uid}{AUDIO_SUFFIX}", where, text, speaker)

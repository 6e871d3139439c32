"""Kaldi data directories: ``wav.scp`` (plain paths only), ``text`` and optional ``utt2spk``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from ...text import Vocabulary
from ..errors import DataError, SkipReport
from ..records import Utterance
from .common import DEFAULT_VOCAB, Checks, collect, read_lines, resolve

_ARK_OFFSET_RE = re.compile(r".+\.ark:\d+(\[[^\]]*\])?")
Table = dict[str, tuple[str, str]]  # utterance id -> (where: "file:line", value)


def read_kaldi_dir(directory: str | Path, *, labelled: bool = True, report: SkipReport | None = None,
                   vocab: Vocabulary | None = DEFAULT_VOCAB,
                   max_duration_s: float | None = None) -> list[Utterance]:
    """Read a Kaldi data directory.

    ``wav.scp`` must map each id to a plain audio path (relative paths are taken relative to the data
    directory, not Kaldi's recipe folder); pipe commands, ark offsets and ``segments`` are refused
    with a one-line error. ``text`` is required when ``labelled``; ``utt2spk`` gives speakers.
    """
    directory = Path(directory)
    if not (directory / "wav.scp").is_file():
        raise DataError(str(directory), "not a Kaldi data directory (no wav.scp)")
    if (directory / "segments").exists():
        raise DataError(str(directory / "segments"), "Kaldi segments (utterances cut from longer recordings) "
                        "are not supported; cut the audio into one file per utterance")
    wavs = _read_table(directory / "wav.scp")
    text_path = directory / "text"
    if labelled and not text_path.is_file():
        raise DataError(str(text_path), "file not found (pass labelled=False for unlabelled audio)")
    texts = _read_table(text_path) if text_path.is_file() else {}
    speakers = _read_table(directory / "utt2spk") if (directory / "utt2spk").is_file() else {}
    checks = Checks(labelled, vocab, max_duration_s)
    return collect(_entries(directory, wavs, texts, speakers, checks), report)


def _read_table(path: Path) -> Table:
    """``<id> <value...>`` lines; a repeated id makes the whole directory invalid."""
    table: Table = {}
    for lineno, line in enumerate(read_lines(path), 1):
        uid, _, value = line.strip().partition(" ")
        if not uid:
            continue
        if uid in table:
            raise DataError(f"{path}:{lineno}", f"utterance id {uid!r} repeats {table[uid][0]}")
        table[uid] = (f"{path}:{lineno}", value.strip())
    return table


def _entries(directory: Path, wavs: Table, texts: Table, speakers: Table, checks: Checks) -> Iterator:
    for uid, (where, value) in wavs.items():
        text = texts[uid][1] if uid in texts else None
        speaker = speakers[uid][1] if uid in speakers else None
        yield where, partial(_entry, uid, where, value, text, speaker, directory, checks)
    for uid, (where, _) in texts.items():
        if uid not in wavs:
            error = DataError(where, f"utterance {uid!r} has a transcript but no entry in wav.scp")
            yield where, partial(_raise, error)


def _entry(uid: str, where: str, value: str, text: str | None, speaker: str | None,
           directory: Path, checks: Checks) -> Utterance:
    missing = f"no transcript for {uid!r} in {directory / 'text'}"
    return checks.utterance(uid, _audio_path(value, where, directory), where, text, speaker, missing)


def _audio_path(value: str, where: str, directory: Path) -> Path:
    shown = value if len(value) <= 60 else value[:57] + "..."
    if not value:
        raise DataError(where, "no audio path")
    if value.endswith("|"):
        raise DataError(where, f"only plain audio paths are supported in wav.scp, not pipe commands ({shown!r})")
    if _ARK_OFFSET_RE.fullmatch(value):
        raise DataError(where, f"only plain audio paths are supported in wav.scp, not ark offsets ({shown!r})")
    return resolve(directory, value)


def _raise(error: DataError) -> Utterance:
    raise error

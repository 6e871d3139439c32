"""NeMo-style JSONL manifests: one ``{"audio_filepath", "duration", "text", "speaker"?}`` object per line."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path

from ...io import atomic_write_text
from ...text import Vocabulary
from ..errors import DataError, SkipReport
from ..records import Utterance
from .common import DEFAULT_VOCAB, Checks, collect, read_lines, resolve


def read_nemo_manifest(path: str | Path, *, labelled: bool = True, report: SkipReport | None = None,
                       vocab: Vocabulary | None = DEFAULT_VOCAB,
                       max_duration_s: float | None = None) -> list[Utterance]:
    """Read a NeMo JSONL manifest.

    Relative ``audio_filepath`` values are resolved against the manifest's folder. The id is the
    optional ``id`` field, else the audio path relative to that folder without its suffix. The duration
    comes from the audio header (the ``duration`` field is not trusted). Bad lines raise a DataError
    naming ``file:line``, or are recorded in ``report`` under the skip policy.
    """
    path = Path(path)
    checks = Checks(labelled, vocab, max_duration_s)
    return collect(_entries(path, checks), report)


def _entries(path: Path, checks: Checks) -> Iterator:
    base = path.parent
    for lineno, line in enumerate(read_lines(path), 1):
        if line.strip():  # blank lines hold no entry
            where = f"{path}:{lineno}"
            yield where, partial(_entry, line, where, base, checks)


def _entry(line: str, where: str, base: Path, checks: Checks) -> Utterance:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(where, f"malformed JSON line ({exc.msg} at column {exc.colno})") from None
    if not isinstance(item, dict):
        raise DataError(where, f"expected a JSON object, got {type(item).__name__}")
    audio = item.get("audio_filepath")
    if not isinstance(audio, str) or not audio:
        raise DataError(where, "missing 'audio_filepath' field")
    if item.get("offset") not in (None, 0, 0.0):
        raise DataError(where, "'offset' (a segment of a longer file) is not supported; cut the audio into files")
    audio_path = resolve(base, audio)
    uid = str(item["id"]) if item.get("id") not in (None, "") else _default_id(audio_path, base)
    return checks.utterance(uid, audio_path, where, item.get("text"), item.get("speaker"))


def _default_id(audio_path: Path, base: Path) -> str:
    """The audio path relative to the manifest's folder, without suffix ('wavs/a'); else its stem."""
    try:
        return audio_path.relative_to(base).with_suffix("").as_posix()
    except ValueError:
        return audio_path.stem


def write_nemo_manifest(path: str | Path, utterances: Iterable[Utterance], root: str | Path | None = None) -> Path:
    """Write ``utterances`` as a NeMo JSONL manifest, atomically, and return its path.

    Relative ``audio_path`` values are taken relative to ``root`` (default: the current directory).
    Audio paths are written relative to the manifest's folder when they lie below it, absolute
    otherwise, so the manifest can move together with its audio. Each line carries ``id`` too.
    """
    path = Path(path)
    folder = Path(os.path.abspath(path.parent))
    anchor = Path(root) if root is not None else Path.cwd()
    lines = [json.dumps(_record(utt, anchor, folder), ensure_ascii=False) + "\n" for utt in utterances]
    return atomic_write_text(path, "".join(lines))


def _record(utt: Utterance, anchor: Path, folder: Path) -> dict:
    audio = Path(os.path.abspath(anchor / utt.audio_path))
    try:
        audio_filepath = audio.relative_to(folder).as_posix()
    except ValueError:
        audio_filepath = str(audio)
    record: dict = {"audio_filepath": audio_filepath, "duration": round(utt.duration_s, 6), "id": utt.id}
    if utt.text is not None:
        record["text"] = utt.text
    if utt.speaker is not None:
        record["speaker"] = utt.speaker
    return record

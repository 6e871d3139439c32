"""Hugging Face ``datasets`` saved with ``save_to_disk``: a Dataset, or a DatasetDict and a split.

The audio column is read undecoded (``Audio(decode=False)``): datasets' own decoding needs torchcodec
and FFmpeg, while soundfile reads the files directly. Audio stored as bytes is written once as files
into a cache folder, named by content hash, so later runs (and every data loader worker) reuse them.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import soundfile as sf

from ...io import atomic_write_bytes
from ...text import Vocabulary
from ..errors import DataError, SkipReport
from ..records import Utterance
from .common import DEFAULT_VOCAB, Checks, collect, resolve

HF_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")
SPEAKER_COLUMNS = ("speaker_id", "speaker")
_BATCH_ROWS = 1000


@dataclass(frozen=True)
class _Source:
    """Where the rows come from, for error messages, relative paths and the byte cache."""

    directory: Path
    where: str
    cache_dir: Path
    text_column: str | None


def read_hf_dataset(path: str | Path, split: str | None = None, *, labelled: bool = True,
                    report: SkipReport | None = None, vocab: Vocabulary | None = DEFAULT_VOCAB,
                    max_duration_s: float | None = None, cache_dir: str | Path | None = None,
                    audio_column: str = "audio", text_column: str = "text", id_column: str | None = None,
                    speaker_column: str | None = None) -> list[Utterance]:
    """Read a dataset written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``.

    ``id_column`` defaults to ``id`` when present (else ids are ``<split>-<row>``); ``speaker_column``
    to ``speaker_id`` or ``speaker`` when present. Audio given as bytes is materialised under
    ``cache_dir`` (default ``~/.cache/speechdistill/hf_audio/<hash of the dataset folder>``).
    """
    directory = Path(path)
    dataset = _select_split(_load(directory), directory, split)
    columns = _columns(dataset, directory, labelled, audio_column, text_column, id_column, speaker_column)
    dataset = _undecoded(dataset.select_columns(list(dict.fromkeys(c for c in columns if c))), audio_column)
    where = f"{directory}[{split}]" if split else str(directory)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir(directory)
    source = _Source(directory, where, cache, columns[1])
    checks = Checks(labelled, vocab, max_duration_s)
    return collect(_entries(dataset, columns, source, split or "row", checks), report)


def default_cache_dir(directory: Path) -> Path:
    """``~/.cache/speechdistill/hf_audio/<hash of the dataset folder>`` (honours XDG_CACHE_HOME)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha1(str(directory.resolve()).encode()).hexdigest()[:16]
    return base / "speechdistill" / "hf_audio" / digest


def _load(directory: Path):
    try:
        import datasets
    except ImportError:
        raise DataError(str(directory), "reading a Hugging Face dataset needs the 'datasets' package "
                        "(pip install 'speechdistill[data]')") from None
    try:
        return datasets.load_from_disk(str(directory))
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise DataError(str(directory), f"not a dataset saved with save_to_disk ({exc})") from None


def _select_split(loaded, directory: Path, split: str | None):
    from datasets import DatasetDict

    if not isinstance(loaded, DatasetDict):
        if split is not None:
            raise DataError(str(directory), f"holds a single Dataset, not splits; drop split={split!r}")
        return loaded
    splits = list(loaded)
    if split not in splits:
        asked = "no split given" if split is None else f"no split {split!r}"
        raise DataError(str(directory), f"{asked}; choose one of {', '.join(splits)} (split=... or PATH:SPLIT)")
    return loaded[split]


def _columns(dataset, directory: Path, labelled: bool, audio: str, text: str, uid: str | None,
             speaker: str | None) -> tuple[str, str | None, str | None, str | None]:
    """(audio, text, id, speaker) column names; None for an absent optional column."""
    names = dataset.column_names
    for wanted in (audio, uid, speaker):
        if wanted is not None and wanted not in names:
            raise DataError(str(directory), f"no column {wanted!r}; columns are {', '.join(names)}")
    if text not in names:
        if labelled:
            raise DataError(str(directory), f"no text column {text!r} (columns are {', '.join(names)}); "
                            "pass text_column=... or labelled=False")
        text = None
    uid = uid if uid is not None else ("id" if "id" in names else None)
    speaker = speaker if speaker is not None else next((c for c in SPEAKER_COLUMNS if c in names), None)
    return audio, text, uid, speaker


def _undecoded(dataset, audio_column: str):
    from datasets import Audio

    if isinstance(dataset.features[audio_column], Audio):
        return dataset.cast_column(audio_column, Audio(decode=False))
    return dataset  # a plain column of paths


def _entries(dataset, columns: tuple, source: _Source, prefix: str, checks: Checks) -> Iterator:
    audio, text, uid, speaker = columns
    row = 0
    for batch in dataset.iter(batch_size=_BATCH_ROWS):
        for i in range(len(batch[audio])):
            values = [batch[c][i] if c is not None else None for c in (audio, text, uid, speaker)]
            where = f"{source.where} row {row}"
            yield where, partial(_entry, where, row, *values, source, prefix, checks)
            row += 1


def _entry(where: str, row: int, audio: object, text: object, uid: object, speaker: object, source: _Source,
           prefix: str, checks: Checks) -> Utterance:
    uid = str(uid) if uid not in (None, "") else f"{prefix}-{row:06d}"
    if source.text_column is None:
        text = None
    missing = f"no transcript in column {source.text_column!r}"
    return checks.utterance(uid, _audio_file(audio, where, source), where, text, speaker, missing)


def _audio_file(item: object, where: str, source: _Source) -> Path:
    """A path soundfile can open: an existing absolute path, else the bytes written to the cache."""
    if isinstance(item, str):
        item = {"path": item, "bytes": None}
    if not isinstance(item, dict):
        raise DataError(where, "no audio")
    name, data = item.get("path"), item.get("bytes")
    if name and Path(name).is_absolute() and Path(name).is_file():
        return Path(name)
    if data:
        return _materialise(data, name, where, source.cache_dir)
    if name:
        return resolve(source.directory, name)
    raise DataError(where, "audio has neither bytes nor a path")


def _materialise(data: bytes, name: str | None, where: str, cache_dir: Path) -> Path:
    suffix = Path(name).suffix.lower() if name and Path(name).suffix else _sniff_suffix(data, where)
    target = cache_dir / f"{hashlib.sha1(data).hexdigest()[:20]}{suffix}"
    if not target.is_file():
        atomic_write_bytes(target, data)
    return target


def _sniff_suffix(data: bytes, where: str) -> str:
    try:
        return "." + sf.info(io.BytesIO(data)).format.lower()
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise DataError(where, f"unreadable audio bytes ({exc})") from None

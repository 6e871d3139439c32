"""One entry point for every manifest kind: :func:`read_manifest` looks at the path and picks a reader.

==========================================  =============================================
path                                        reader
==========================================  =============================================
``*.jsonl`` / ``*.json`` file               NeMo JSONL (:func:`read_nemo_manifest`)
folder with ``wav.scp``                     Kaldi data dir (:func:`read_kaldi_dir`)
folder with ``dataset_info.json`` /         Hugging Face ``save_to_disk`` (:func:`read_hf_dataset`);
``state.json`` / ``dataset_dict.json``      ``PATH:SPLIT`` picks a split of a DatasetDict
folder with ``*.trans.txt`` below           LibriSpeech layout (:func:`read_librispeech`)
==========================================  =============================================
"""

from __future__ import annotations

from pathlib import Path

from ..text import Vocabulary
from .errors import DataError, SkipReport
from .readers import (
    DEFAULT_VOCAB,
    read_hf_dataset,
    read_kaldi_dir,
    read_librispeech,
    read_nemo_manifest,
    write_nemo_manifest,
)
from .readers.hf import HF_MARKERS
from .readers.librispeech import TRANSCRIPT_GLOB
from .records import Utterance

JSONL_SUFFIXES = (".jsonl", ".json")

__all__ = ["manifest_kind", "read_hf_dataset", "read_kaldi_dir", "read_librispeech", "read_manifest",
           "read_nemo_manifest", "write_nemo_manifest"]


def read_manifest(spec: str | Path, *, labelled: bool = True, report: SkipReport | None = None,
                  vocab: Vocabulary | None = DEFAULT_VOCAB, max_duration_s: float | None = None,
                  split: str | None = None, cache_dir: str | Path | None = None) -> list[Utterance]:
    """Read any supported manifest (see the module docstring); a clear DataError for anything else.

    ``split`` and ``cache_dir`` only apply to Hugging Face datasets.
    """
    path, split = _split_spec(spec, split)
    kind = manifest_kind(path)
    common = {"labelled": labelled, "report": report, "vocab": vocab, "max_duration_s": max_duration_s}
    if kind == "hf":
        return read_hf_dataset(path, split, cache_dir=cache_dir, **common)
    if split is not None:
        raise DataError(str(path), f"split={split!r} only applies to Hugging Face datasets, this is {kind}")
    readers = {"nemo": read_nemo_manifest, "kaldi": read_kaldi_dir, "librispeech": read_librispeech}
    return readers[kind](path, **common)


def manifest_kind(path: str | Path) -> str:
    """'nemo', 'kaldi', 'hf' or 'librispeech' for ``path``; DataError when it is none of them."""
    path = Path(path)
    if not path.exists():
        raise DataError(str(path), "manifest not found")
    if path.is_file():
        if path.suffix.lower() in JSONL_SUFFIXES:
            return "nemo"
        raise DataError(str(path), f"not a manifest: a file must be NeMo JSONL ({' or '.join(JSONL_SUFFIXES)})")
    if (path / "wav.scp").is_file():
        return "kaldi"
    if any((path / name).is_file() for name in HF_MARKERS):
        return "hf"
    if next(path.rglob(TRANSCRIPT_GLOB), None) is not None:
        return "librispeech"
    raise DataError(str(path), "not a manifest folder: expected wav.scp (Kaldi), dataset_info.json/state.json/"
                    f"dataset_dict.json (Hugging Face save_to_disk) or {TRANSCRIPT_GLOB} files below (LibriSpeech)")


def _split_spec(spec: str | Path, split: str | None) -> tuple[Path, str | None]:
    """``data/hf:train`` -> (data/hf, 'train') when ``data/hf:train`` itself does not exist."""
    path = Path(spec)
    head, sep, tail = str(spec).rpartition(":")
    if split is None and sep and tail and not path.exists() and (Path(head) / "dataset_dict.json").is_file():
        return Path(head), tail
    return path, split

"""The files of a cache directory and how they are written (atomically) and read.

::

    out_dir/
      speechdistill.json              marker, kind "cache"
      cache.json                      settings, key (+ descriptions), teacher facts, vocab map; disk usage once complete
      shards/shard-00000.safetensors  tensors "{utt_id}/{name}" + metadata (items: frames, duration, N-best; skipped)
      index.json                      utt id -> shard file, skipped ids -> reason; written last: its presence = complete
      skipped.jsonl                   what on_error: skip left out (only when something was)

Tensor names per utterance: ``log_probs_vals`` (T, k) fp16, ``log_probs_idx`` (T, k) int16,
``log_probs_other`` (T,) fp16, ``hidden_{layer}`` (T, D) fp16, ``attention_{layer}`` (H, T, T) fp16 (layers
from 1). A shard is written to a temporary file and renamed, so a shard file that exists is complete.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import torch

from ..io import atomic_write, atomic_write_text
from ..markers import MARKER_NAME, Marker, read_marker, write_marker

FORMAT = "speechdistill-cache-1"
META_NAME = "cache.json"
INDEX_NAME = "index.json"
SKIPPED_NAME = "skipped.jsonl"
SHARD_DIR = "shards"
HEADER_LENGTH_BYTES = 8  # safetensors: little-endian u64 header size, then the JSON header


class CacheError(ValueError):
    """A cache that cannot serve a request: incomplete, wrong kind, a missing utterance, a missing output."""


def shard_name(index: int) -> str:
    """File name of shard ``index``."""
    return f"shard-{index:05d}.safetensors"


def shard_path(directory: str | Path, index: int) -> Path:
    """Path of shard ``index`` in a cache directory."""
    return Path(directory) / SHARD_DIR / shard_name(index)


@dataclass(frozen=True)
class ShardInfo:
    """A shard's metadata, read from its header only.

    items: utt id -> {"frames", "duration_s", "nbest"?}; skipped: [{"id", "where", "reason"}];
    tensor_bytes: tensor name -> bytes of its data.
    """

    digest: str
    items: dict
    skipped: list
    tensor_bytes: dict[str, int]


def write_shard(path: Path, tensors: dict[str, torch.Tensor], items: dict, skipped: list, digest: str) -> Path:
    """Write a shard atomically (temporary file + rename)."""
    from safetensors.torch import save_file

    data = {name: t.detach().cpu().contiguous().clone() for name, t in tensors.items()}
    metadata = {"format": FORMAT, "digest": digest, "items": json.dumps(items, ensure_ascii=False),
                "skipped": json.dumps(skipped, ensure_ascii=False)}
    return atomic_write(path, lambda tmp: save_file(data, str(tmp), metadata=metadata))


def read_header(path: str | Path) -> dict:
    """The JSON header of a safetensors file (tensor dtypes, shapes, offsets and ``__metadata__``)."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(HEADER_LENGTH_BYTES))
        return json.loads(f.read(length))


def read_shard_info(path: str | Path) -> ShardInfo:
    """A shard's items, skipped list and tensor sizes, without loading any tensor."""
    header = read_header(path)
    meta = header.pop("__metadata__", {}) or {}
    if meta.get("format") != FORMAT:
        raise CacheError(f"{path}: not a speechdistill cache shard (format {meta.get('format')!r})")
    sizes = {name: end - start for name, spec in header.items() for start, end in [spec["data_offsets"]]}
    return ShardInfo(meta["digest"], json.loads(meta["items"]), json.loads(meta["skipped"]), sizes)


def prepare_directory(directory: Path, meta: dict) -> None:
    """Mark ``directory`` as a cache and write cache.json unless there (every rank writes the same, so any may).

    The caller has checked that an existing cache.json has the same key.
    """
    if not directory.is_dir() or read_marker(directory) is None:  # read_meta has refused other kinds
        write_marker(directory, Marker("cache", extra={"format": FORMAT}))
    if not (directory / META_NAME).is_file():
        write_meta(directory, meta)
    (directory / SHARD_DIR).mkdir(exist_ok=True)


def write_meta(directory: Path, meta: dict) -> Path:
    """Write cache.json atomically."""
    return atomic_write_text(Path(directory) / META_NAME, json.dumps(meta, indent=2, ensure_ascii=False) + "\n")


def read_meta(directory: str | Path) -> dict | None:
    """cache.json, or None when the directory has none; a non-cache directory is a CacheError."""
    directory = Path(directory)
    marker = read_marker(directory) if directory.is_dir() else None
    if marker is None:
        if directory.exists() and any(directory.iterdir()):
            raise CacheError(f"{directory}: not a teacher cache (no {MARKER_NAME})")
        return None
    if marker.kind != "cache":
        raise CacheError(f"{directory}: holds a {marker.kind}, not a teacher cache")
    path = directory / META_NAME
    return json.loads(path.read_text()) if path.is_file() else None


def build_index(directory: Path, num_shards: int) -> dict:
    """The index from the shards' headers (all must exist): utt id -> shard file, skipped utt id -> reason."""
    utterances, skipped = {}, {}
    for i in range(num_shards):
        info = read_shard_info(shard_path(directory, i))
        utterances.update(dict.fromkeys(info.items, shard_name(i)))
        skipped.update({s["id"]: s["reason"] for s in info.skipped})
    return {"format": FORMAT, "shards": [shard_name(i) for i in range(num_shards)],
            "utterances": utterances, "skipped": skipped}


def write_index(directory: Path, index: dict, manifest_skipped: list) -> Path:
    """Write skipped.jsonl (manifest lines and utterances left out, if any), then index.json."""
    skipped = [*manifest_skipped, *({"id": k, "reason": v} for k, v in index["skipped"].items())]
    if skipped:
        atomic_write_text(directory / SKIPPED_NAME, "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in skipped))
    return atomic_write_text(directory / INDEX_NAME, json.dumps(index, ensure_ascii=False) + "\n")


def read_index(directory: Path) -> dict | None:
    """index.json, or None while the cache is incomplete."""
    path = Path(directory) / INDEX_NAME
    return json.loads(path.read_text()) if path.is_file() else None

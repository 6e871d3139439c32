"""Disk bytes per audio hour of each content type in a cache (read from shard headers, no tensor loaded)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .store import SHARD_DIR, read_shard_info

CONTENT_TYPES = ("log_probs", "nbest", "hidden", "attentions")
SECONDS_PER_HOUR = 3600.0


def content_type(tensor_name: str) -> str:
    """'log_probs', 'hidden' or 'attentions' for a tensor name like ``utt/hidden_3``."""
    leaf = tensor_name.rsplit("/", 1)[-1]
    for prefix, kind in (("log_probs_", "log_probs"), ("hidden_", "hidden"), ("attention_", "attentions")):
        if leaf.startswith(prefix):
            return kind
    raise ValueError(f"unknown cache tensor {tensor_name!r}")


@dataclass(frozen=True)
class DiskUsage:
    """Bytes per content type (tensor data; nbest = its JSON), plus ``overhead`` (headers, other metadata).

    audio_hours: audio the shards hold. ``per_audio_hour`` divides each figure by it.
    """

    audio_hours: float
    bytes: dict[str, int]
    overhead_bytes: int

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes.values()) + self.overhead_bytes

    def per_audio_hour(self) -> dict[str, float]:
        """Bytes per hour of audio for each content type, ``overhead`` and ``total``."""
        hours = self.audio_hours or float("nan")
        figures = {**self.bytes, "overhead": self.overhead_bytes, "total": self.total_bytes}
        return {kind: n / hours for kind, n in figures.items()}

    def to_json(self) -> dict:
        return {"audio_hours": self.audio_hours, "bytes": self.bytes, "overhead_bytes": self.overhead_bytes,
                "bytes_per_audio_hour": {k: round(v, 1) for k, v in self.per_audio_hour().items()}}

    def summary(self) -> str:
        """One line: bytes per audio hour of each content type."""
        per_hour = self.per_audio_hour()
        parts = ", ".join(f"{kind} {format_bytes(per_hour[kind])}" for kind in (*CONTENT_TYPES, "total"))
        return f"disk per audio hour: {parts} ({self.audio_hours:.4f} h cached)"


def format_bytes(n: float) -> str:
    """1536 -> '1.5 KB' (powers of 1000)."""
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def measure_disk(directory: str | Path) -> DiskUsage:
    """Disk use of every shard under ``directory``, split by content type."""
    counts = dict.fromkeys(CONTENT_TYPES, 0)
    seconds, file_bytes = 0.0, 0
    for path in sorted((Path(directory) / SHARD_DIR).glob("shard-*.safetensors")):
        info = read_shard_info(path)
        file_bytes += path.stat().st_size
        for name, n in info.tensor_bytes.items():
            counts[content_type(name)] += n
        for item in info.items.values():
            seconds += float(item["duration_s"])
            if item.get("nbest") is not None:
                counts["nbest"] += len(json.dumps(item["nbest"], ensure_ascii=False).encode("utf-8"))
    return DiskUsage(seconds / SECONDS_PER_HOUR, counts, file_bytes - sum(counts.values()))

"""The cache key: what a cache was built from, so that a cache for another manifest, teacher or settings is refused.

Three parts, each a sha256 (hex):

- manifest: the utterances in order, each (id, absolute audio path, duration rounded to 0.1 ms, text);
- teacher: the content of the teacher's files that decide its outputs (config, weights, vocabulary and
  feature-extractor files); weights are hashed in full (about a second per GB, memoised per process);
  a hub id is resolved to its local snapshot when it has one;
- settings: ``CacheConfig.settings()`` plus the student labels of the vocabulary map.

``digest`` hashes the three together. ``cache.json`` stores the parts and a readable description of
each, so an error can say what differs instead of only that something does.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..data.records import Utterance
from ..io import file_sha256

# The files of a Hugging Face speech model directory that decide what the teacher outputs.
IDENTITY_PATTERNS = ("config.json", "generation_config.json", "preprocessor_config.json", "vocab.json",
                     "tokenizer.json", "tokenizer_config.json", "merges.txt", "added_tokens.json",
                     "special_tokens_map.json", "*.safetensors", "*.safetensors.index.json", "pytorch_model*.bin")
PARTS = ("manifest", "teacher", "settings")


class CacheMismatchError(ValueError):
    """A cache built from another manifest, teacher or settings than the one expected."""


def sha256_json(data) -> str:
    """sha256 of canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def manifest_description(utterances: Sequence[Utterance], source: str | Path | None = None) -> dict:
    """Hash and a readable summary (source, utterances, hours, first id) of ``utterances``."""
    rows = [[u.id, os.path.abspath(u.audio_path), round(float(u.duration_s), 4), u.text] for u in utterances]
    hours = sum(float(u.duration_s) for u in utterances) / 3600.0
    return {"sha256": sha256_json(rows), "source": None if source is None else str(source),
            "utterances": len(rows), "hours": round(hours, 6), "first_id": rows[0][0] if rows else None}




def teacher_description(spec: str | Path) -> dict:
    """Hash of the teacher's deciding files, and per-file hashes (for messages) and the spec it came from."""
    directory = _local_dir(spec)
    if directory is None:
        files = {}  # a hub id with no local snapshot: only its name identifies it
    else:
        names = sorted({p.name for pattern in IDENTITY_PATTERNS for p in directory.glob(pattern) if p.is_file()})
        files = {name: file_sha256(directory / name) for name in names}
    identity = files or {"hub_id": str(spec)}
    return {"sha256": sha256_json(identity), "spec": str(spec), "files": files}


def _local_dir(spec: str | Path) -> Path | None:
    from ..teachers.packaged import is_packaged_name, resolve_packaged

    if is_packaged_name(spec):  # a packaged teacher: its converted directory (the weights' hash identifies it)
        return resolve_packaged(str(spec))
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(str(spec), local_files_only=True))
    except Exception:  # not a hub id, or not downloaded: identified by name only
        return None


def settings_description(settings: dict) -> dict:
    """Hash of the settings, and the settings themselves."""
    return {"sha256": sha256_json(settings), "values": settings}


@dataclass(frozen=True)
class CacheKey:
    """What a cache was built from: sha256 of the manifest, the teacher and the settings (module docstring).

    A part left None is not checked (a trainer may check manifest and teacher only). ``details`` holds the
    readable descriptions used in error messages.
    """

    manifest: str | None = None
    teacher: str | None = None
    settings: str | None = None
    details: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def digest(self) -> str:
        """One sha256 over the three parts."""
        return sha256_json([self.manifest, self.teacher, self.settings])

    @classmethod
    def from_descriptions(cls, manifest: dict | None = None, teacher: dict | None = None,
                          settings: dict | None = None) -> CacheKey:
        """A key from ``*_description`` results (None parts stay unchecked)."""
        details = {"manifest": manifest, "teacher": teacher, "settings": settings}
        return cls(*(d["sha256"] if d else None for d in details.values()), details=details)

    def to_json(self) -> dict:
        """The stored form in cache.json."""
        return {"manifest": self.manifest, "teacher": self.teacher, "settings": self.settings, "digest": self.digest}


def expected_key(manifest: str | Path | Sequence[Utterance] | None = None, teacher: str | Path | None = None,
                 settings: dict | None = None, on_error: str = "raise") -> CacheKey:
    """The key a cache must have for a manifest (a path, read as ``build_cache`` reads it with ``on_error``, or
    utterances), a teacher (hub id or directory) and ``settings`` (``CacheConfig.settings()`` +
    ``student_labels``); a part left None is not checked."""
    manifest_part = None
    if manifest is not None:
        if isinstance(manifest, str | Path):
            from ..data.errors import SkipReport
            from ..data.manifests import read_manifest

            utterances = read_manifest(manifest, labelled=False, vocab=None, report=SkipReport(on_error))
            manifest_part = manifest_description(utterances, manifest)
        else:
            manifest_part = manifest_description(manifest)
    return CacheKey.from_descriptions(manifest_part, teacher_description(teacher) if teacher is not None else None,
                                      settings_description(settings) if settings is not None else None)


def key_differences(stored: dict, expected: CacheKey) -> list[str]:
    """What differs between a cache's stored key section (cache.json) and ``expected``, in words."""
    problems = []
    for part in PARTS:
        want = getattr(expected, part)
        have = stored["key"].get(part)
        if want is not None and want != have:
            problems.append(_describe(part, stored.get(part) or {}, expected.details.get(part) or {}))
    return problems


def _describe(part: str, have: dict, want: dict) -> str:
    if part == "manifest":
        show = lambda d: (f"{d.get('utterances', '?')} utterances, {d.get('hours', 0):.4f} h from "  # noqa: E731
                          f"{d.get('source') or '?'}, sha256 {str(d.get('sha256'))[:12]}")
        return f"another manifest (cache: {show(have)}; expected: {show(want)})"
    if part == "teacher":
        files = sorted(set(have.get("files", {})) | set(want.get("files", {})))
        changed = [f for f in files if have.get("files", {}).get(f) != want.get("files", {}).get(f)]
        which = f"; files that differ: {', '.join(changed)}" if changed and want.get("files") else ""
        return f"another teacher (cache: {have.get('spec')}; expected: {want.get('spec', '?')}{which})"
    old, new = have.get("values", {}), want.get("values")
    if new is None:
        return f"other settings (cache: {old})"
    changed = [f"{k}: cache {old.get(k)!r}, expected {new.get(k)!r}" for k in sorted(set(old) | set(new))
               if old.get(k) != new.get(k)]
    return f"other settings ({'; '.join(changed)})"

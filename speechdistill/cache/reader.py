"""Reading a teacher cache: ``open_cache`` checks it, ``CachedTeacherSource`` serves batches as ``TeacherOutput``.

Only what a ``TeacherRequest`` names is read from the shards. Log-probs come back dense (B, T, V_teacher)
in float32 (top-k kept, the "other" mass spread uniformly over the rest: ``encode``), padded frames as
a certain blank; hidden states and attention maps come back float32, zero-padded; N-best lists cut to
the requested size with posteriors renormalised over the kept hypotheses (what the live teacher returns
for that N). Frame period and lengths are the cache's (``time_pool`` times the teacher's period).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from ..data.dataset import Batch
from ..decode.beam import Hypothesis
from ..distill.sources import TeacherRequest
from ..teachers.base import LOG_ZERO, TeacherOutput
from ..teachers.ctc import mask_log_probs
from ..teachers.vocab_bridge import VocabBridge
from ..text import Vocabulary
from .encode import topk_decode
from .key import CacheKey, CacheMismatchError, key_differences
from .store import SHARD_DIR, CacheError, read_index, read_meta, read_shard_info

Nbest = tuple[Hypothesis, ...]
MAX_LISTED_IDS = 5  # missing ids named in an error


@dataclass(frozen=True)
class CachedItem:
    """One utterance as stored: frames (after pooling), tensors by name (without the id prefix), N-best or None."""

    id: str
    frames: int
    tensors: dict[str, torch.Tensor]
    nbest: Nbest | None


@lru_cache(maxsize=32)
def _shard_items(path: str, mtime_ns: int) -> dict:
    return read_shard_info(path).items


def _hypotheses(stored: list[dict] | None) -> Nbest | None:
    if stored is None:
        return None
    return tuple(Hypothesis(h["text"], float(h["score"]), float(h["posterior"]), tuple(h.get("tokens", ())))
                 for h in stored)


def cut_nbest(hyps: Nbest, n: int) -> Nbest:
    """The best ``n`` hypotheses with posteriors renormalised over them (all of them: unchanged)."""
    if n >= len(hyps):
        return hyps
    kept = hyps[:n]
    total = sum(h.posterior for h in kept) or 1.0
    return tuple(Hypothesis(h.text, h.score, h.posterior / total, h.tokens) for h in kept)


class TeacherCache:
    """A complete cache directory (see ``store`` for its files); ``outputs`` for the ids of a batch."""

    def __init__(self, directory: Path, meta: dict, index: dict):
        self.directory = directory
        self.meta = meta
        self.index = index
        self.facts = meta["outputs"]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.facts["labels"])

    @property
    def frame_period_ms(self) -> float:
        return float(self.facts["frame_period_ms"])

    @property
    def hidden_dim(self) -> int:
        """Size of the stored hidden states (``feature_dim`` when projected, else the teacher's hidden size)."""
        return int(self.facts["hidden_dim"])

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self.index["utterances"])

    def __contains__(self, utt_id: str) -> bool:
        return utt_id in self.index["utterances"]

    def vocab_bridge(self) -> VocabBridge | None:
        """The teacher -> student label map stored at build time (None for BPE teachers)."""
        stored = self.meta.get("vocab_map")
        if stored is None:
            return None
        return VocabBridge(self.labels, Vocabulary(tuple(stored["student_labels"])), tuple(stored["index"]))

    def resolve_request(self, request: TeacherRequest) -> tuple[int, ...]:
        """The request's hidden layers as stored indices; CacheError for anything the cache lacks."""
        facts, top = self.facts, self.facts["num_layers"]
        layers = tuple(dict.fromkeys(layer + top + 1 if layer < 0 else layer for layer in request.hidden_layers))
        missing = [layer for layer in layers if layer not in facts["hidden_layers"]]
        problems = []
        if missing:
            problems.append(f"hidden layers {missing} (cached: {facts['hidden_layers']})")
        if request.attentions and not facts["attentions"]:
            problems.append("attention maps (built with attentions: false)")
        if request.nbest > facts["nbest"]:
            problems.append(f"{request.nbest}-best lists (cached: {facts['nbest']})")
        if request.log_probs and facts["family"] == "ctc" and not facts["log_probs"]:
            problems.append("log-probs (built with top_k: 0)")
        if problems:
            raise CacheError(f"{self.directory}: the cache lacks {'; '.join(problems)}; rebuild it with "
                             "cache-teacher settings that include them")
        return layers

    def items(self, ids: Sequence[str], names: Sequence[str]) -> list[CachedItem]:
        """The stored tensors ``names`` of each id (CacheError naming ids the cache does not hold)."""
        from safetensors import safe_open

        self._check_ids(ids)
        by_shard: dict[str, list[str]] = {}
        for utt_id in dict.fromkeys(ids):
            by_shard.setdefault(self.index["utterances"][utt_id], []).append(utt_id)
        loaded = {}
        for shard, shard_ids in by_shard.items():
            path = self.directory / SHARD_DIR / shard
            stored = _shard_items(str(path), path.stat().st_mtime_ns)
            with safe_open(str(path), framework="pt") as f:
                for utt_id in shard_ids:
                    tensors = {name: f.get_tensor(f"{utt_id}/{name}") for name in names}
                    item = stored[utt_id]
                    loaded[utt_id] = CachedItem(utt_id, int(item["frames"]), tensors, _hypotheses(item.get("nbest")))
        return [loaded[utt_id] for utt_id in ids]

    def _check_ids(self, ids: Sequence[str]) -> None:
        missing = [utt_id for utt_id in ids if utt_id not in self.index["utterances"]]
        if not missing:
            return
        skipped = {utt_id: self.index["skipped"][utt_id] for utt_id in missing if utt_id in self.index["skipped"]}
        unknown = [utt_id for utt_id in missing if utt_id not in skipped]
        parts = [f"{utt_id!r} was skipped when the cache was built ({reason})"
                 for utt_id, reason in list(skipped.items())[:MAX_LISTED_IDS]]
        if unknown:
            shown = ", ".join(map(repr, unknown[:MAX_LISTED_IDS])) + (" ..." if len(unknown) > MAX_LISTED_IDS else "")
            manifest = self.meta["manifest"]
            parts.append(f"{len(unknown)} id(s) not in the manifest it was built from ({manifest.get('source')}, "
                         f"{manifest.get('utterances')} utterances): {shown}")
        raise CacheError(f"{self.directory}: {len(missing)} utterance(s) missing from the teacher cache: "
                         + "; ".join(parts))

    def outputs(self, ids: Sequence[str], request: TeacherRequest | None = None,
                device: torch.device | str = "cpu") -> TeacherOutput:
        """A padded ``TeacherOutput`` for ``ids`` (in that order) holding what ``request`` asks for
        (None: the default request, log-probs only)."""
        request = request or TeacherRequest()
        layers = self.resolve_request(request)
        use_log_probs = request.log_probs and bool(self.facts["log_probs"])
        names = [f"hidden_{layer}" for layer in layers]
        names += ["log_probs_vals", "log_probs_idx", "log_probs_other"] if use_log_probs else []
        names += [f"attention_{i}" for i in range(1, self.facts["num_layers"] + 1)] if request.attentions else []
        items = self.items(ids, names)
        lengths = torch.tensor([it.frames for it in items], dtype=torch.long, device=device)
        frames = int(lengths.max()) if items else 0
        return TeacherOutput(
            lengths=lengths, frame_period_ms=self.frame_period_ms, labels=self.labels,
            log_probs=self._log_probs(items, lengths, frames, device) if use_log_probs else None,
            hidden_states={layer: pad_stack([it.tensors[f"hidden_{layer}"] for it in items], frames, device)
                           for layer in layers},
            attentions=self._attentions(items, frames, device) if request.attentions else None,
            nbest=tuple(cut_nbest(it.nbest or (), request.nbest) for it in items) if request.nbest else None)

    def _log_probs(self, items: list[CachedItem], lengths: torch.Tensor, frames: int,
                   device: torch.device | str) -> torch.Tensor:
        values = pad_stack([it.tensors["log_probs_vals"] for it in items], frames, device, dtype=None)
        ids = pad_stack([it.tensors["log_probs_idx"] for it in items], frames, device, dtype=None)
        other = pad_stack([it.tensors["log_probs_other"] for it in items], frames, device, dtype=None,
                          fill=LOG_ZERO)
        dense = topk_decode(values, ids, other, len(self.labels))
        return mask_log_probs(dense, lengths, int(self.facts["blank_id"]))

    def _attentions(self, items: list[CachedItem], frames: int, device: torch.device | str) -> tuple[torch.Tensor, ...]:
        maps = []
        for i in range(1, self.facts["num_layers"] + 1):
            stored = [it.tensors[f"attention_{i}"] for it in items]
            out = torch.zeros(len(items), self.facts["attention_heads"], frames, frames, device=device)
            for row, a in enumerate(stored):
                out[row, :, :a.shape[-1], :a.shape[-1]] = a.to(device, torch.float32)
            maps.append(out)
        return tuple(maps)


def pad_stack(tensors: Sequence[torch.Tensor], frames: int, device: torch.device | str,
              dtype: torch.dtype | None = torch.float32, fill: float = 0.0) -> torch.Tensor:
    """Stack (T_i, ...) tensors into (B, frames, ...) on ``device``, padding with ``fill``."""
    if not tensors:
        return torch.zeros(0, frames, device=device)
    first = tensors[0]
    out = torch.full((len(tensors), frames, *first.shape[1:]), fill, dtype=dtype or first.dtype, device=device)
    for row, t in enumerate(tensors):
        out[row, :t.shape[0]] = t.to(device, out.dtype)
    return out


def open_cache(directory: str | Path, expected_key: CacheKey | None = None) -> TeacherCache:
    """Open a complete cache; refuse an incomplete one, or one whose key differs from ``expected_key``
    (CacheMismatchError naming what differs: manifest, teacher or settings; None parts are not checked)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CacheError(f"{directory}: no such teacher cache directory")
    meta = read_meta(directory)
    if meta is None:
        raise CacheError(f"{directory}: not a teacher cache (no cache.json)")
    index = read_index(directory)
    if index is None:
        have = len(list((directory / SHARD_DIR).glob("shard-*.safetensors")))
        raise CacheError(f"{directory}: incomplete teacher cache ({have} shard(s) written, no index.json); rerun "
                         "`speechdistill cache-teacher` with the same config to finish it")
    if expected_key is not None:
        problems = key_differences(meta, expected_key)
        if problems:
            raise CacheMismatchError(f"{directory}: this teacher cache was built for {'; '.join(problems)}")
    return TeacherCache(directory, meta, index)


class CachedTeacherSource:
    """``TeacherSource`` reading caches: teacher name -> cache directory, what each loss needs per teacher.

    requests: teacher name -> ``TeacherRequest`` (missing names get the default request). device: where
    outputs go (None: the batch's device). expected_keys: teacher name -> key the cache must match.
    Everything a request asks for is checked against the caches here, before training starts.
    """

    def __init__(self, cache_dirs: Mapping[str, str | Path], requests: Mapping[str, TeacherRequest] | None = None,
                 device: torch.device | str | None = None, expected_keys: Mapping[str, CacheKey] | None = None):
        expected_keys = expected_keys or {}
        self.names = tuple(cache_dirs)
        self.caches = {name: open_cache(path, expected_keys.get(name)) for name, path in cache_dirs.items()}
        self.requests = {name: (requests or {}).get(name, TeacherRequest()) for name in self.names}
        unknown = sorted(set(requests or {}) - set(self.names))
        if unknown:
            raise ValueError(f"requests for teachers without a cache: {', '.join(unknown)}")
        for name in self.names:
            self.caches[name].resolve_request(self.requests[name])
        self.device = device

    def outputs(self, batch: Batch) -> dict[str, TeacherOutput]:
        """Cached outputs of every teacher for ``batch.ids``, on ``device`` (or the batch's)."""
        device = self.device if self.device is not None else batch.waveforms.device
        return {name: self.caches[name].outputs(batch.ids, self.requests[name], device) for name in self.names}

    @property
    def hidden_sizes(self) -> dict[str, int]:
        """Width of the hidden states each cache holds (its ``feature_dim`` when projected): what the feature
        loss's projections must be sized for, which the teacher's own config would get wrong."""
        return {name: cache.hidden_dim for name, cache in self.caches.items()}


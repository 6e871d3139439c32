"""``build_cache``: run a teacher once over a manifest and store what distillation reads (layout: ``store``).

Utterances are cut, in manifest order, into shards of ``shard_size``. Each process takes the shards
``i % world_size == rank`` (rank and world size from torch.distributed when initialised, else the RANK
and WORLD_SIZE variables ``torchrun`` sets, else 0 and 1), so ``torchrun --nproc_per_node N`` or N
processes started by hand split the work without talking to each other. A shard file that exists is
complete (written to a temporary file and renamed) and is not computed again, so an interrupted job
resumes where it stopped. Whichever process finds every shard present at its end writes the index
(and the disk figures in cache.json): index.json appears last, and a cache without it is incomplete.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import config_to_dict
from ..data.audio import load_audio
from ..data.batching import duration_batches
from ..data.errors import DataError, SkipReport
from ..data.manifests import read_manifest
from ..data.records import Utterance
from ..decode.beam import BeamSearchOptions
from ..progress import progress_bar
from ..teachers import build_vocab_bridge, load_teacher
from ..teachers.base import HFTeacher, TeacherOutput
from ..text import Vocabulary
from .config import CacheConfig
from .disk import DiskUsage, measure_disk
from .encode import orthogonal_projection, pool_attention, pool_log_probs, pool_time, to_fp16, topk_encode
from .key import (
    CacheKey,
    CacheMismatchError,
    key_differences,
    manifest_description,
    settings_description,
    teacher_description,
)
from .store import (
    FORMAT,
    CacheError,
    build_index,
    prepare_directory,
    read_meta,
    read_shard_info,
    shard_path,
    write_index,
    write_meta,
    write_shard,
)

ShardHook = Callable[[int], None]
ItemOutput = tuple[Utterance, TeacherOutput, int]  # an utterance, its batch's output, its row there


@dataclass(frozen=True)
class BuildResult:
    """What one ``build_cache`` call did: shards it ``written`` and found already ``reused``; ``complete`` when
    the index exists (then ``usage`` holds the disk figures)."""

    out_dir: Path
    rank: int
    world_size: int
    num_shards: int
    written: tuple[int, ...]
    reused: tuple[int, ...]
    complete: bool
    usage: DiskUsage | None = None


def process_rank() -> tuple[int, int]:
    """(rank, world size): torch.distributed's when initialised, else RANK / WORLD_SIZE, else (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def shard_plan(num_utterances: int, shard_size: int) -> list[range]:
    """Utterance index ranges of each shard, in manifest order."""
    return [range(start, min(start + shard_size, num_utterances)) for start in range(0, num_utterances, shard_size)]


def build_cache(config: CacheConfig, *, rank: int | None = None, world_size: int | None = None,
                after_shard: ShardHook | None = None, progress: bool = False) -> BuildResult:
    """Compute this process's missing shards of the cache ``config`` describes; write the index if all exist.

    ``after_shard(i)`` is called after shard i is written (tests); ``progress``: a progress bar of this process's
    utterances (shards already written count as done). A cache directory holding a
    cache for another manifest, teacher or settings is refused (CacheMismatchError naming the difference).
    """
    env_rank, env_world = process_rank()
    rank, world_size = env_rank if rank is None else rank, env_world if world_size is None else world_size
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} outside 0..{world_size - 1}")
    report = SkipReport(config.on_error)
    utterances = read_manifest(config.manifest, labelled=False, vocab=None, report=report)
    teacher = _load(config)
    meta = cache_meta(config, teacher, utterances)
    out_dir = Path(config.out_dir)
    _check_existing(out_dir, meta)
    prepare_directory(out_dir, meta)
    plan = shard_plan(len(utterances), config.shard_size)
    writer = ShardWriter(teacher, config, meta)
    written, reused = [], []
    mine = range(rank, len(plan), world_size)
    desc = "cache" if world_size == 1 else f"cache rank {rank}/{world_size}"
    with progress_bar(total=sum(len(plan[i]) for i in mine), desc=desc, unit="utt", disable=not progress) as bar:
        for i in mine:
            if _shard_done(out_dir, i, meta["key"]["digest"]):
                reused.append(i)
            else:
                writer.write(shard_path(out_dir, i), [utterances[j] for j in plan[i]])
                written.append(i)
                if after_shard is not None:
                    after_shard(i)
            bar.update(len(plan[i]))
    usage = finalize(out_dir, len(plan), report.skipped)
    return BuildResult(out_dir, rank, world_size, len(plan), tuple(written), tuple(reused), usage is not None, usage)


def _load(config: CacheConfig) -> HFTeacher:
    device = config.device
    if device == "auto":  # under torchrun each process of a node takes its own GPU
        local = int(os.environ.get("LOCAL_RANK", 0))
        device = f"cuda:{local % torch.cuda.device_count()}" if torch.cuda.is_available() else "cpu"
    beam = BeamSearchOptions(beam_size=config.beam_size) if config.beam_size else None
    return load_teacher(config.teacher, device=device, dtype=getattr(torch, config.dtype), nbest=config.nbest,
                        beam=beam, window_s=config.window_s, backend=config.backend,
                        compute_type=config.compute_type)


def cache_meta(config: CacheConfig, teacher: HFTeacher, utterances: Sequence[Utterance]) -> dict:
    """cache.json before completion: format, config, key (+ descriptions), teacher facts, vocabulary map."""
    student = Vocabulary.load(config.student_vocab) if config.student_vocab else Vocabulary.default()
    settings = settings_description({**config.settings(), "student_labels": list(student.labels)})
    manifest = manifest_description(utterances, config.manifest)
    teacher_part = teacher_description(config.teacher)
    key = CacheKey.from_descriptions(manifest, teacher_part, settings)
    return {"format": FORMAT, "config": config_to_dict(config), "key": key.to_json(), "manifest": manifest,
            "teacher": teacher_part, "settings": settings, "outputs": teacher_facts(teacher, config),
            "vocab_map": _vocab_map(teacher, student, config.unknown_to_unk), "complete": False}


def teacher_facts(teacher: HFTeacher, config: CacheConfig) -> dict:
    """What a reader needs to rebuild ``TeacherOutput``s: labels, frame period, stored layers and sizes."""
    model_config = teacher.model.config
    hidden_size = int(getattr(model_config, "hidden_size", None) or model_config.d_model)
    heads = getattr(model_config, "num_attention_heads", None) or model_config.encoder_attention_heads
    ctc = teacher.family == "ctc"
    return {"family": teacher.family, "labels": list(teacher.labels), "blank_id": teacher.blank_id if ctc else None,
            "frame_period_ms": teacher.frame_period_ms * config.time_pool,
            "teacher_frame_period_ms": teacher.frame_period_ms, "time_pool": config.time_pool,
            "num_layers": teacher.num_layers, "log_probs": ctc and config.top_k > 0,
            "top_k": min(config.top_k, len(teacher.labels)) if ctc else 0,
            "hidden_layers": list(teacher.resolve_layers(config.hidden_layers)), "hidden_size": hidden_size,
            "hidden_dim": config.feature_dim or hidden_size, "projection_seed": config.projection_seed,
            "attentions": config.attentions, "attention_heads": int(heads), "nbest": config.nbest}


def _vocab_map(teacher: HFTeacher, student: Vocabulary, unknown_to_unk: bool) -> dict | None:
    if teacher.family != "ctc":
        return None  # BPE teachers bridge at the text level (bridge_text)
    bridge = build_vocab_bridge(teacher.labels, student, teacher_blank=teacher.labels[teacher.blank_id],
                                teacher_delimiter=teacher.beam.sil_token, unknown_to_unk=unknown_to_unk)
    return {"student_labels": list(student.labels), "index": list(bridge.index)}


def _check_existing(out_dir: Path, meta: dict) -> None:
    stored = read_meta(out_dir)
    if stored is None:
        return
    expected = CacheKey(**{part: meta["key"][part] for part in ("manifest", "teacher", "settings")},
                        details={part: meta[part] for part in ("manifest", "teacher", "settings")})
    problems = key_differences(stored, expected)
    if problems:
        raise CacheMismatchError(f"{out_dir} holds a cache built for {'; '.join(problems)}; choose another "
                                 "out_dir or delete this one")


def _shard_done(out_dir: Path, index: int, digest: str) -> bool:
    path = shard_path(out_dir, index)
    if not path.is_file():
        return False
    if read_shard_info(path).digest != digest:
        raise CacheError(f"{path} belongs to another cache (key differs); delete it to rebuild the shard")
    return True


def finalize(out_dir: Path, num_shards: int, manifest_skipped: list) -> DiskUsage | None:
    """When every shard exists: disk figures into cache.json, then index.json (last). None while shards are missing."""
    if not all(shard_path(out_dir, i).is_file() for i in range(num_shards)):
        return None
    index = build_index(out_dir, num_shards)
    usage = measure_disk(out_dir)
    meta = read_meta(out_dir)
    skipped = len(index["skipped"]) + len(manifest_skipped)
    meta.update(complete=True, utterances=len(index["utterances"]), skipped=skipped, disk=usage.to_json())
    write_meta(out_dir, meta)
    write_index(out_dir, index, manifest_skipped)
    return usage


class ShardWriter:
    """Runs the teacher over one shard's utterances and writes the shard file."""

    def __init__(self, teacher: HFTeacher, config: CacheConfig, meta: dict):
        self.teacher = teacher
        self.config = config
        self.facts = meta["outputs"]
        self.digest = meta["key"]["digest"]
        self.projection = None
        if config.feature_dim and self.facts["hidden_layers"]:
            self.projection = orthogonal_projection(self.facts["hidden_size"], config.feature_dim,
                                                    config.projection_seed).to(teacher.device)

    def write(self, path: Path, utterances: Sequence[Utterance]) -> Path:
        """Compute and atomically write one shard."""
        tensors, items, skipped = {}, {}, []
        audio = self._load_audio(utterances, skipped)
        loaded = [u for u in utterances if u.id in audio]
        for batch in duration_batches([u.duration_s for u in loaded], self.config.batch_seconds, 0, shuffle=False):
            for utt, out, row in self._run([loaded[i] for i in batch], audio, skipped):
                item_tensors, frames = self.encode(out, row)
                tensors.update({f"{utt.id}/{name}": t for name, t in item_tensors.items()})
                items[utt.id] = {"frames": frames, "duration_s": utt.duration_s, **self._nbest(out, row)}
        ordered = {u.id: items[u.id] for u in utterances if u.id in items}  # manifest order, not batch order
        return write_shard(path, tensors, ordered, skipped, self.digest)

    def _load_audio(self, utterances: Sequence[Utterance], skipped: list) -> dict[str, np.ndarray]:
        audio = {}
        for utt in utterances:
            try:
                audio[utt.id] = load_audio(utt.audio_path, self.teacher.sample_rate)
            except DataError as exc:
                self._skip(utt, exc, skipped)
        return audio

    def _skip(self, utt: Utterance, exc: DataError, skipped: list) -> None:
        error = DataError(f"utterance {utt.id!r} ({utt.audio_path})", exc.reason)
        if self.config.on_error == "raise":
            raise error from None
        skipped.append({"id": utt.id, "where": error.where, "reason": error.reason})

    def _run(self, utterances: list[Utterance], audio: dict, skipped: list) -> list[ItemOutput]:
        """Teacher outputs per utterance; a batch that fails on bad input is retried item by item."""
        try:
            out = self.teacher([audio[u.id] for u in utterances], hidden_layers=self.facts["hidden_layers"],
                               attentions=self.config.attentions, nbest=self.config.nbest)
            return [(u, out, row) for row, u in enumerate(utterances)]
        except DataError as exc:
            if len(utterances) == 1:
                self._skip(utterances[0], exc, skipped)
                return []
        return [result for u in utterances for result in self._run([u], audio, skipped)]

    def encode(self, out: TeacherOutput, row: int) -> tuple[dict[str, torch.Tensor], int]:
        """One item's tensors (names without the utt id prefix) and its frame count after pooling."""
        frames, k = int(out.lengths[row]), self.config.time_pool
        tensors = {}
        if self.facts["log_probs"]:
            values, ids, other = topk_encode(pool_log_probs(out.log_probs[row, :frames], k), self.config.top_k)
            tensors.update(log_probs_vals=values, log_probs_idx=ids, log_probs_other=other)
        for layer, hidden in out.hidden_states.items():
            x = hidden[row, :frames].float()
            x = x @ self.projection if self.projection is not None else x
            tensors[f"hidden_{layer}"] = to_fp16(pool_time(x, k))
        for layer, attention in enumerate(out.attentions or (), 1):
            tensors[f"attention_{layer}"] = to_fp16(pool_attention(attention[row, :, :frames, :frames], k))
        return tensors, math.ceil(frames / k)

    @staticmethod
    def _nbest(out: TeacherOutput, row: int) -> dict:
        if out.nbest is None:
            return {}
        hyps = [{"text": h.text, "score": h.score, "posterior": h.posterior,
                 **({"tokens": list(h.tokens)} if h.tokens else {})} for h in out.nbest[row]]
        return {"nbest": hyps}

"""`speechdistill teacher train`: train a teacher from scratch when none exists for the domain.

Usage:
    speechdistill teacher train recipes/teachers/wav2vec2.yaml [key=value ...] [--resume]

The recipe names the data, the architecture and its config, and the training budget. The best
checkpoint by dev WER is saved as a standard Hugging Face directory with a model card.
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from ..config import config_to_dict, load_config
from ..data.augment_pipeline import WaveformAugmentConfig, build_waveform_augment
from ..data.dataset import UtteranceDataset
from ..data.errors import SkipReport
from ..data.manifests import read_manifest
from ..data.validate import validate_audio
from ..io import atomic_write_text
from ..markers import MARKER_NAME, Marker, read_marker, write_marker
from ..text import Vocabulary
from ..train.loop import TrainOptions, train
from .architectures import get_architecture
from .model_card import hardware_description, write_model_card


@dataclass(frozen=True)
class TeacherDataConfig:
    """Manifests (NeMo JSONL, LibriSpeech/Kaldi dirs, HF datasets on disk) for training and evaluation."""

    train: str
    dev: str
    test: dict[str, str] = field(default_factory=dict)
    max_duration_s: float = 20.0
    on_error: Literal["raise", "skip"] = "raise"
    dev_max_utterances: int | None = 300


@dataclass(frozen=True)
class TeacherConfig:
    """A teacher recipe. ``model`` holds architecture config overrides (checked against the HF config)."""

    architecture: Literal["wav2vec2", "whisper"]
    out_dir: str
    data: TeacherDataConfig
    model: dict[str, Any] = field(default_factory=dict)
    train: TrainOptions = field(default_factory=TrainOptions)
    augment: WaveformAugmentConfig = field(default_factory=WaveformAugmentConfig)
    save_dtype: Literal["float32", "float16"] = "float32"
    title: str = "speechdistill teacher"
    # Start from the weights of an earlier teacher of the same architecture (e.g. the shipped fp16 one)
    # instead of random ones: how a CPU run continues across sessions without a full training checkpoint.
    init_from: str | None = None


def read_split(path: str, config: TeacherDataConfig, report: SkipReport, vocab: Vocabulary,
               limit: int | None = None):
    """A labelled manifest read and its audio checked (bad entries raise or are skipped into ``report``)."""
    utterances = read_manifest(path, labelled=True, report=report, vocab=vocab, max_duration_s=config.max_duration_s)
    if limit is not None:
        utterances = utterances[:limit]
    return validate_audio(utterances, report)


def train_teacher(config: TeacherConfig, *, resume: bool = False, command: str = "") -> Path:
    """Train the teacher described by ``config``; return the directory of the best model."""
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_resolved_config(out_dir, config)
    vocab = Vocabulary.default()
    report = SkipReport(config.data.on_error)
    train_utts = read_split(config.data.train, config.data, report, vocab)
    dev_utts = read_split(config.data.dev, config.data, report, vocab, config.data.dev_max_utterances)
    if len(report):
        print(f"{report.summary()}; see {report.write(out_dir / 'skipped.jsonl')}", file=sys.stderr)
    prior = prior_history(config.init_from)
    arch = get_architecture(config.architecture)
    model = arch.build(vocab, config.model, [u.text for u in train_utts], out_dir)
    if config.init_from is not None and not (resume and (out_dir / "checkpoints" / "last").is_dir()):
        init_weights(model, config.init_from)
    augment = build_waveform_augment(config.augment)
    train_set = UtteranceDataset(train_utts, vocab, augment=augment, seed=config.train.seed)
    dev_set = UtteranceDataset(dev_utts, vocab)
    best_dir = out_dir / "best"

    def on_best(best_model: torch.nn.Module, metrics: dict[str, float], state: dict) -> None:
        arch.save(best_model, best_dir)
        # Whisper teachers speak BPE, not the character vocabulary: their marker names no vocabulary.
        labels = vocab.labels if config.architecture == "wav2vec2" else None
        write_marker(best_dir, Marker(kind="teacher", vocabulary=labels,
                                      extra={"architecture": config.architecture, "update": state["update"],
                                             "dev_wer": metrics["wer"]}))

    result = train(model, train_set, arch.step, arch.eval_fn(dev_set), out_dir, config.train,
                   on_best=on_best, resume=resume)
    return _finish(config, arch, vocab, best_dir, result, report, command, prior)


def init_weights(model: torch.nn.Module, source: str | Path) -> None:
    """Copy the weights of the HF teacher directory ``source`` into ``model`` (same architecture and shapes)."""
    from safetensors.torch import load_file

    weights = Path(source) / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"init_from: {weights} not found")
    state = {k: v.float() for k, v in load_file(str(weights)).items()}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        raise ValueError(f"init_from {source}: weights do not fit this model: {str(exc).splitlines()[0]}") from None
    # Tied or buffer-like entries may be absent from a checkpoint; anything else means another architecture.
    real_missing = [k for k in missing if not k.endswith(("masked_spec_embed", "embed_positions.weight", "proj_out.weight"))]
    if real_missing or unexpected:
        raise ValueError(f"init_from {source}: not the same architecture (missing {real_missing[:3]}, "
                         f"unexpected {list(unexpected)[:3]})")


def _finish(config, arch, vocab, best_dir: Path, result, report, command: str, prior: list[dict]) -> Path:
    """Score the best model on dev and test splits, then write its model card (and fp16 copy)."""
    from transformers import AutoConfig

    hf_config = AutoConfig.from_pretrained(best_dir)
    model = _load_best(best_dir, hf_config)
    metrics = {"dev": arch.eval_fn(UtteranceDataset(read_split(config.data.dev, config.data, report, vocab), vocab))(model)["wer"]}
    for name, path in config.data.test.items():
        metrics[name] = arch.eval_fn(UtteranceDataset(read_split(path, config.data, report, vocab), vocab))(model)["wer"]
    if config.save_dtype == "float16":
        arch.save(model, best_dir, torch.float16)
    marker = read_marker(best_dir)
    history = [*prior, {
        "updates": result.updates, "best_update": marker.extra["update"], "audio_hours_seen": round(result.audio_hours_seen, 3),
        "wall_s": round(result.wall_s, 1), "hardware": hardware_description(), "command": command}]
    write_marker(best_dir, dataclasses.replace(marker, extra={**marker.extra, "history": history, "wer": metrics}))
    write_model_card(best_dir, title=config.title, architecture=config.architecture,
                     params=sum(p.numel() for p in model.parameters()), data=config.data.train, history=history,
                     metrics=metrics)
    print("; ".join(f"{k} WER {v * 100:.1f}%" for k, v in metrics.items()))
    return best_dir


def prior_history(init_from: str | None) -> list[dict]:
    """The training runs behind the weights a run starts from (their marker's ``history``). Weights with
    no recorded history (another tool's checkpoint) get one entry saying so, with nothing counted."""
    if init_from is None:
        return []
    marker = read_marker(init_from)
    history = marker.extra.get("history") if marker is not None else None
    if history:
        return list(history)
    return [{"updates": 0, "best_update": 0, "audio_hours_seen": 0.0, "wall_s": 0.0, "hardware": "unknown",
             "command": f"# weights from {init_from}: no training history recorded in its {MARKER_NAME}"}]


def _load_best(best_dir: Path, hf_config) -> torch.nn.Module:
    from transformers import AutoModelForCTC, WhisperForConditionalGeneration

    cls = WhisperForConditionalGeneration if hf_config.model_type == "whisper" else AutoModelForCTC
    model = cls.from_pretrained(best_dir, dtype=torch.float32)
    return model.to("cuda" if torch.cuda.is_available() else "cpu").eval()


def write_resolved_config(out_dir: Path, config) -> Path:
    """``out_dir/config.resolved.yaml``: the recipe as this run resolved it (overrides applied)."""
    return atomic_write_text(out_dir / "config.resolved.yaml", _yaml(config_to_dict(config)))


def _yaml(data: dict) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False)


def train_teacher_from_config(path: str | Path, overrides: list[str], *, resume: bool = False) -> Path:
    """CLI entry: load the recipe with overrides and train."""
    from ..config import apply_overrides, read_yaml_mapping

    # A resumed run's card must say so: its updates were not all made by this one command.
    command = shlex.join(["speechdistill", "teacher", "train", str(path), *overrides, *(["--resume"] if resume else [])])
    architecture = apply_overrides(read_yaml_mapping(path), overrides).get("architecture")
    if architecture == "whisper-ctc":
        from .train_whisper_ctc import WhisperCTCRecipe, train_whisper_ctc

        return train_whisper_ctc(load_config(WhisperCTCRecipe, path, overrides), resume=resume, command=command)
    if architecture == "whisper-lora":
        from .train_whisper_lora import WhisperLoRARecipe, train_whisper_lora

        return train_whisper_lora(load_config(WhisperLoRARecipe, path, overrides), resume=resume, command=command)
    config = load_config(TeacherConfig, path, overrides)
    return train_teacher(config, resume=resume, command=command)

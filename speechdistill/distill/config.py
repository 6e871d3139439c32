"""A distillation recipe: YAML (with an optional ``base:`` include) -> frozen ``DistillConfig``.

A recipe may start from a shared base::

    base: _base.yaml          # path relative to this file; bases may have bases of their own
    out_dir: runs/distill/frame_kl
    losses: {...}

The base is read first and the recipe is merged over it: mappings merge key by key, any other value
(lists, scalars) replaces the base's. ``key=value`` overrides from the command line apply last. The
merged mapping is then checked against ``DistillConfig`` like every other recipe in the package
(``speechdistill.config``): unknown keys are errors that name the key and the valid ones.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..config import ConfigError, apply_overrides, build_config, read_yaml_mapping
from ..data.augment_pipeline import WaveformAugmentConfig
from ..teachers.ct2_decoder import check_backend
from ..train.loop import TrainOptions

BASE_KEY = "base"


@dataclass(frozen=True)
class StudentSpec:
    """YAML ``student``: a preset of a student family, fields of its config replaced by ``overrides``.

    init_from_teacher: name of a teacher (a wav2vec2-family CTC model) whose evenly spaced layers seed a
    ``wav2vec2`` student where shapes allow (see ``speechdistill.students.init_from_teacher``).
    """

    family: Literal["conformer", "wav2vec2"] = "conformer"
    size: str = "1m"
    overrides: dict[str, Any] = field(default_factory=dict)
    init_from_teacher: str | None = None

    def __post_init__(self) -> None:
        if self.init_from_teacher is not None and self.family != "wav2vec2":
            raise ValueError(f"init_from_teacher needs a wav2vec2 student (shapes must match), not {self.family!r}")


@dataclass(frozen=True)
class TeacherSpec:
    """YAML ``teachers.<name>``: a local model directory, hub id or packaged teacher name (``whisper-base``),
    the dtype to run it in and its beam.

    beam_size: beams for N-best lists (CTC flashlight search or Whisper beam search); None keeps the
    teacher's default. window_s: Whisper teachers only: encoder window in seconds (None: the model's own,
    30 s for OpenAI's); with ``teacher_source: cache`` it must equal the window the cache was built with.
    backend / compute_type: Whisper teachers only: "ctranslate2" beam-searches the N-best lists with
    CTranslate2 (in ``compute_type``) over the torch encoder's output; "torch" (default) with Hugging Face.
    """

    spec: str
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    beam_size: int | None = None
    window_s: float | None = None
    backend: Literal["torch", "ctranslate2"] = "torch"
    compute_type: str = "int8"

    def __post_init__(self) -> None:
        check_backend(self.backend, self.compute_type)
        if self.beam_size is not None and self.beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {self.beam_size}")
        if self.window_s is not None and self.window_s <= 0:
            raise ValueError(f"window_s must be positive, got {self.window_s}")


@dataclass(frozen=True)
class DistillDataConfig:
    """YAML ``data``: manifests (NeMo JSONL, Kaldi/LibriSpeech dirs, HF datasets on disk).

    unlabelled: the training audio is read without transcripts (any present are dropped), so only
    teacher outputs teach the student; dev and test stay labelled for WER.
    labelled_fraction: keep the transcripts of this share of the training utterances only (a subset fixed by
    their ids, ``speechdistill.data.subsets``); the rest is audio without transcripts, which only teacher
    outputs teach. keep_unlabelled: false trains on the labelled share alone (the baseline of that setting).
    """

    train: str
    dev: str
    test: dict[str, str] = field(default_factory=dict)
    unlabelled: bool = False
    labelled_fraction: float = 1.0
    keep_unlabelled: bool = True
    max_duration_s: float = 20.0
    on_error: Literal["raise", "skip"] = "raise"
    dev_max_utterances: int | None = 300

    def __post_init__(self) -> None:
        if not 0.0 < self.labelled_fraction <= 1.0:
            raise ValueError(f"labelled_fraction must be in (0, 1], got {self.labelled_fraction}")


@dataclass(frozen=True)
class DistillConfig:
    """A distillation recipe (see the module docstring and recipes/synthetic_commands/README.md).

    losses: the ``losses:`` section handed to ``speechdistill.losses.build_mix`` (checked there).
    teacher_source: ``live`` runs the teachers on every batch; ``cache`` reads outputs precomputed per
    utterance from ``cache_dirs`` (teacher name -> directory), which requires un-stretched audio.
    """

    out_dir: str
    student: StudentSpec
    data: DistillDataConfig
    losses: dict[str, Any]
    teachers: dict[str, TeacherSpec] = field(default_factory=dict)
    teacher_source: Literal["live", "cache"] = "live"
    cache_dirs: dict[str, str] = field(default_factory=dict)
    train: TrainOptions = field(default_factory=TrainOptions)
    augment: WaveformAugmentConfig = field(default_factory=WaveformAugmentConfig)
    title: str = "speechdistill student"

    def __post_init__(self) -> None:
        if self.teacher_source == "cache" and self.augment.stretches_time:
            raise ValueError(
                f"teacher_source 'cache' with augment.speed_factors {list(self.augment.speed_factors)}: speed "
                "perturbation changes the audio's length and timing, so cached teacher frames no longer line up "
                "with the student's; set augment.speed_factors: [1.0] (or use teacher_source: live)")
        name = self.student.init_from_teacher
        if name is not None and name not in self.teachers:
            raise ValueError(f"student.init_from_teacher names {name!r}, which is not under teachers "
                             f"({', '.join(self.teachers) or 'none'})")


def read_recipe(path: str | Path, seen: tuple[Path, ...] = ()) -> dict:
    """The recipe mapping at ``path`` with its ``base:`` chain merged in (base first, recipe over it)."""
    path = Path(path).resolve()
    if path in seen:
        raise ConfigError(f"{path}: base include cycle ({' -> '.join(p.name for p in (*seen, path))})")
    data = _read_yaml(path)
    base = data.pop(BASE_KEY, None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(f"{path}: {BASE_KEY}: expected a path relative to the recipe, got {base!r}")
    return merge(read_recipe(path.parent / base, (*seen, path)), data)


def merge(base: dict, over: dict) -> dict:
    """``over`` merged into ``base``: mappings merge key by key, other values replace."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def load_distill_config(path: str | Path, overrides: list[str] | None = None) -> DistillConfig:
    """Read a recipe (resolving ``base:``), apply ``key=value`` overrides, build the frozen config."""
    return build_config(DistillConfig, apply_overrides(read_recipe(path), overrides or []), str(path))


def recipe_keys() -> tuple[str, ...]:
    """Top-level keys a recipe (or a base fragment) may hold."""
    return (BASE_KEY, *(f.name for f in dataclasses.fields(DistillConfig)))


def _read_yaml(path: Path) -> dict:
    return read_yaml_mapping(path)

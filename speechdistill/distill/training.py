"""`speechdistill distill`: distil teachers into a small CTC student with the package's one training loop.

Usage:
    speechdistill distill recipes/synthetic_commands/frame_kl.yaml [key=value ...] [--resume]

``prepare`` turns a recipe into a ``Distillation`` (data, student, teacher source, ``DistillModule``);
``fit`` trains it (dev WER every ``train.eval_every`` updates; the best student by dev WER is saved with
its model card, ``checkpoints/last`` is the resumable state); ``finish`` scores the best student on dev
and the test manifests and completes its card. ``distill`` runs all three.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from accelerate import Accelerator
from torch import nn

from ..config import ConfigError, config_to_dict
from ..data.augment_pipeline import build_waveform_augment
from ..data.dataset import UtteranceDataset
from ..data.errors import SkipReport
from ..data.manifests import read_manifest
from ..data.records import Utterance
from ..data.subsets import labelled_ids
from ..data.validate import validate_audio
from ..io import atomic_write_text
from ..losses.base import LossContext
from ..losses.registry import build_mix
from ..students import build_student, init_from_teacher, load_student, save_student
from ..text import Vocabulary
from ..train.loop import TrainResult, build_accelerator, train
from .card import card_notes, facts_for, read_facts, write_facts
from .config import DistillConfig, DistillDataConfig, StudentSpec, load_distill_config
from .inplace import external_requests, with_self_teachers
from .live import LiveTeacherSource, hidden_size
from .module import DistillModule, NoTeachers, dev_eval_fn, distill_step, score_student
from .plan import Plan, check_student, plan_recipe
from .sources import TeacherRequest, TeacherSource

BEST_DIR = "best"


@dataclass(frozen=True)
class Distillation:
    """Everything one run needs, built from a recipe by :func:`prepare`."""

    config: DistillConfig
    plan: Plan
    vocab: Vocabulary
    module: DistillModule
    source: TeacherSource
    train_set: UtteranceDataset
    dev_set: UtteranceDataset
    accelerator: Accelerator

    @property
    def out_dir(self) -> Path:
        return Path(self.config.out_dir)


def prepare(config: DistillConfig, *, source: TeacherSource | None = None) -> Distillation:
    """Check the recipe, read the data, build the student, the teacher source and the loss.

    source: use this teacher source instead of the one the recipe names (tests, custom caches).
    """
    vocab = Vocabulary.default()
    plan = plan_recipe(config, vocab)
    accelerator = build_accelerator(config.train)
    if accelerator.is_main_process:
        Path(config.out_dir).mkdir(parents=True, exist_ok=True)
        atomic_write_text(Path(config.out_dir) / "config.resolved.yaml", _yaml(config_to_dict(config)))
    report = SkipReport(config.data.on_error)
    train_utts = read_training_audio(config.data, report, vocab)
    dev_utts = read_labelled(config.data.dev, config.data, report, vocab, config.data.dev_max_utterances)
    _report_skips(report, Path(config.out_dir), accelerator.is_main_process)
    source = source or open_source(config, external_requests(config, plan.requests), accelerator.device)
    torch.manual_seed(config.train.seed)
    student = make_student(config.student, vocab)
    if config.student.init_from_teacher:
        _init_student(student, config, source)
    source = with_self_teachers(source, config, plan.requests, student, vocab)  # in-place KD (spec self:...)
    context = LossContext(vocab, student_dim=student_width(student), teacher_dims=teacher_widths(config, source, plan))
    module = DistillModule(student, build_mix(config.losses, context), hidden_layers=plan.needs.student_hidden,
                           attention_layers=plan.needs.student_attentions)
    augment = build_waveform_augment(config.augment, seed=config.train.seed)
    train_set = UtteranceDataset(train_utts, vocab, augment=augment, seed=config.train.seed)
    return Distillation(config, plan, vocab, module, source, train_set, UtteranceDataset(dev_utts, vocab), accelerator)


def read_training_audio(data: DistillDataConfig, report: SkipReport, vocab: Vocabulary) -> list[Utterance]:
    """The training utterances; with ``unlabelled`` every transcript is dropped, even where the manifest has one,
    and with ``labelled_fraction`` < 1 all but that share's (whose audio ``keep_unlabelled: false`` drops)."""
    if not data.unlabelled and data.labelled_fraction < 1.0:
        utts = read_labelled(data.train, data, report, vocab)
        keep = labelled_ids([u.id for u in utts], data.labelled_fraction)
        if not data.keep_unlabelled:
            return [u for u in utts if u.id in keep]
        return [u if u.id in keep else dataclasses.replace(u, text=None) for u in utts]
    if not data.unlabelled:
        return read_labelled(data.train, data, report, vocab)
    utts = read_manifest(data.train, labelled=False, report=report, vocab=None, max_duration_s=data.max_duration_s)
    return validate_audio([dataclasses.replace(u, text=None) for u in utts], report)


def read_labelled(path: str, data: DistillDataConfig, report: SkipReport, vocab: Vocabulary,
                  limit: int | None = None) -> list[Utterance]:
    """Labelled utterances of a manifest (the first ``limit`` of them), audio checked."""
    utts = read_manifest(path, labelled=True, report=report, vocab=vocab, max_duration_s=data.max_duration_s)
    return validate_audio(utts[:limit] if limit is not None else utts, report)


def open_source(config: DistillConfig, requests: Mapping[str, TeacherRequest], device: torch.device) -> TeacherSource:
    """The recipe's teacher source: none, the live teachers, or the cache (``speechdistill.cache``)."""
    if not requests:
        return NoTeachers()
    if config.teacher_source == "live":
        return LiveTeacherSource.load(config.teachers, requests, device)
    return open_cached_source(config, requests, device)


def open_cached_source(config: DistillConfig, requests: Mapping[str, TeacherRequest],
                       device: torch.device) -> TeacherSource:
    """``speechdistill.cache.CachedTeacherSource`` over ``config.cache_dirs``, imported only when asked for.

    Each cache must have been built from the training manifest and the recipe's teacher (its key is
    checked; the build settings are not, since the requests check what the losses read) with the
    teacher's ``window_s``.
    """
    try:
        from ..cache import CachedTeacherSource, expected_key
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("speechdistill.cache"):
            raise
        raise ConfigError("teacher_source: cache needs speechdistill.cache, which this installation lacks; "
                          "use teacher_source: live") from None
    keys = {name: expected_key(config.data.train, config.teachers[name].spec) for name in requests}
    source = CachedTeacherSource({name: Path(config.cache_dirs[name]) for name in requests}, dict(requests),
                                 device=device, expected_keys=keys)
    for name, cache in source.caches.items():
        built_with = cache.meta.get("config", {}).get("window_s")
        if built_with != config.teachers[name].window_s:
            raise ConfigError(f"teachers.{name}.window_s is {config.teachers[name].window_s}, but its cache "
                              f"{cache.directory} was built with window_s {built_with}; set them equal")
    return source


def make_student(spec: StudentSpec, vocab: Vocabulary) -> nn.Module:
    """A fresh student of ``spec``'s family and preset (``check_student`` has vetted the overrides)."""
    check_student(spec)
    return build_student(spec.family, spec.size, vocab_size=len(vocab), **spec.overrides)


def student_width(student: nn.Module) -> int:
    """Hidden width of a student (feature-loss projections)."""
    return int(getattr(student.config, "d_model", None) or student.config.hidden_size)


def teacher_widths(config: DistillConfig, source: TeacherSource, plan: Plan) -> dict[str, int]:
    """Hidden width of each teacher whose hidden states a loss reads: from the source when it knows,
    else from the teacher's Hugging Face config (no weights are loaded for that)."""
    known = dict(getattr(source, "hidden_sizes", None) or {})
    for name, request in plan.requests.items():
        if request.hidden_layers and name not in known:
            known[name] = _config_width(name, config.teachers[name].spec)
    return known


def _config_width(name: str, spec: str) -> int:
    from transformers import AutoConfig

    from ..teachers.loader import hub_offline

    try:
        return hidden_size(AutoConfig.from_pretrained(spec, local_files_only=hub_offline()))
    except OSError as exc:
        raise ConfigError(f"teachers.{name}: cannot read its config to size the feature projections ({exc}); "
                          "set losses.feature.teacher_dim") from None


def _init_student(student: nn.Module, config: DistillConfig, source: TeacherSource) -> None:
    name = config.student.init_from_teacher
    teachers = getattr(source, "teachers", {})
    if name in teachers:
        model = teachers[name].model
    else:
        from ..teachers.loader import load_teacher

        model = load_teacher(config.teachers[name].spec).model
    print(init_from_teacher(student, model).summary(), file=sys.stderr)


def fit(run: Distillation, *, resume: bool = False, recipe: str = "", command: str = "") -> TrainResult:
    """Train ``run.module`` with the shared loop; each new best student (by dev WER) is saved to ``best/``."""
    best_dir = run.out_dir / BEST_DIR
    teachers = tuple(run.plan.requests)

    def on_best(module: nn.Module, metrics: dict[str, float], state: dict) -> None:
        facts = facts_for(run.config, teachers, state, {"dev": metrics["wer"]}, recipe=recipe, command=command)
        save_student(module.student, run.vocab, best_dir, notes=card_notes(facts))
        write_facts(best_dir, facts)

    return train(run.module, run.train_set, distill_step(run.source), dev_eval_fn(run.dev_set, run.vocab),
                 run.out_dir, run.config.train, on_best=on_best, resume=resume, accelerator=run.accelerator)


def finish(run: Distillation, result: TrainResult) -> Path:
    """Score the best student on dev and the test manifests; write metrics.json and complete its card."""
    best_dir = run.out_dir / BEST_DIR
    if not run.accelerator.is_main_process:
        return best_dir
    config, report = run.config, SkipReport(run.config.data.on_error)
    loaded = load_student(best_dir, device=run.accelerator.device)
    splits = {"dev": config.data.dev, **config.data.test}
    wer = {name: score_student(loaded.model, UtteranceDataset(read_labelled(path, config.data, report, run.vocab),
                                                              run.vocab), run.vocab)["wer"]
           for name, path in splits.items()}
    facts = dataclasses.replace(read_facts(best_dir), wer=wer, total_updates=result.updates)
    save_student(loaded.model, loaded.vocab, best_dir, notes=card_notes(facts))
    write_facts(best_dir, facts)
    atomic_write_text(run.out_dir / "metrics.json", json.dumps({"wer": wer, "best_update": result.best_update,
                                                                 "updates": result.updates,
                                                                 "audio_hours_seen": result.audio_hours_seen,
                                                                 "train_wall_s": result.wall_s},
                                                                indent=2) + "\n")
    print("; ".join(f"{name} WER {value * 100:.1f}%" for name, value in wer.items()))
    return best_dir


def distill(config: DistillConfig, *, resume: bool = False, recipe: str = "", command: str = "",
            source: TeacherSource | None = None) -> Path:
    """Prepare, train and score a student; return the directory of the best one."""
    run = prepare(config, source=source)
    result = fit(run, resume=resume, recipe=recipe, command=command)
    return finish(run, result)


def distill_from_config(path: str | Path, overrides: list[str], *, resume: bool = False) -> Path:
    """CLI entry: load the recipe (``base:`` resolved) with ``key=value`` overrides and distil."""
    config = load_distill_config(path, overrides)
    command = shlex.join(["speechdistill", "distill", str(path), *overrides])
    return distill(config, resume=resume, recipe=str(path), command=command)


def _report_skips(report: SkipReport, out_dir: Path, main: bool) -> None:
    if len(report) and main:
        print(f"{report.summary()}; see {report.write(out_dir / 'skipped.jsonl')}", file=sys.stderr)


def _yaml(data: dict) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False)

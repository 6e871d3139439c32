"""The demo's stages, in order; each reads what earlier ones recorded and returns what it made.

corpus -> teachers -> cache -> students (hard_only and the KD recipe, side by side on two cores) -> export ->
bench -> report. A finished stage leaves
``stages/<name>.json`` (settings digest, outputs, wall time) and is skipped on a rerun with the same
settings; a killed stage starts again (corpus synthesis, caching and distillation resume inside it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..io import atomic_write_text
from .settings import COMPARISON_JSON, REPO, DemoSettings, finished_comparison

SYNTHETIC = REPO / "recipes" / "synthetic_commands"
DEFAULT_BEST = "frame_kl"
STUDENT_RUNS = "runs"
POLL_S = 10.0  # how often the side-by-side students' logs are read for progress
# padded audio the 1m student trains on per second of wall time on the 2-core box: on both threads (measured
# 2026-12-01, before the training fbank got ~3x faster: 12000 updates of 60 s in 84 min), on one thread beside
# another job (measured 2026-12-08: the comparison's hard_only seed 1, 2500 updates of 60 s in 874 s with its dev
# evaluations); a KD student reading a cache is slower (measured 2026-12-08: streaming_kd's frame KL from the
# cache took 1120 s where streaming_hard_only took 980 s for the same 2500 updates)
TWO_THREADS_AUDIO_S_PER_S = 143.0
ONE_THREAD_AUDIO_S_PER_S = 172.0
KD_SLOWDOWN = 1.14


@dataclass
class DemoContext:
    out: Path
    settings: DemoSettings
    outputs: dict  # stage name -> its recorded outputs

    @property
    def corpus(self) -> Path:
        return self.out / "corpus"


@dataclass(frozen=True)
class Stage:
    name: str
    minutes: Callable[[DemoSettings], float]  # wall-time estimate on 2 CPU cores (printed at start)
    run: Callable[[DemoContext], dict]


def best_method(settings: DemoSettings) -> tuple[str, str]:
    """(method, why): the settings' choice, else the comparison's best KD recipe, else frame_kl."""
    if settings.best_method:
        return settings.best_method, "set in the demo settings"
    comparison = finished_comparison()
    shown = COMPARISON_JSON.relative_to(REPO)
    if comparison and comparison.get("best_method"):
        return comparison["best_method"], f"the best KD recipe by dev WER in {shown}"
    return DEFAULT_BEST, f"no finished {shown} yet: the default KD recipe"


# ----------------------------------------------------------------------------------------------- stages


def run_corpus(ctx: DemoContext) -> dict:
    from ..data.synth.build import SynthOptions, build_corpus

    summary = build_corpus(SynthOptions(out=ctx.corpus, hours=ctx.settings.hours, seed=ctx.settings.seed,
                                        jobs=max(1, os.cpu_count() or 1)))
    return {"path": str(ctx.corpus), "hours": summary["hours_total"]}


def _teacher_dir(spec: str) -> Path:
    path = Path(spec)
    return path if path.is_absolute() else REPO / path


def _teacher_spec(spec: str) -> str:
    """A packaged teacher's name as it is, a directory relative to the repository made absolute."""
    from ..teachers.packaged import is_packaged_name

    return spec if is_packaged_name(spec) else str(_teacher_dir(spec))


def _teacher_present(spec: str) -> bool:
    """A packaged teacher is always there (its wheels are part of the demo's install; a missing wheel is an error
    naming the extra when it loads); a directory is there when it holds a teacher."""
    from ..markers import directory_kind
    from ..teachers.packaged import is_packaged_name

    if is_packaged_name(spec):
        return True
    try:
        return directory_kind(_teacher_dir(spec)) == "teacher"
    except ValueError:
        return False


# A CPU run of a teacher recipe: smaller batches (measured: ~3 s per update of 60 s of audio for the
# wav2vec2 teacher on 2 cores) and a learning-rate schedule that ends with the time box.
CPU_TEACHER_OVERRIDES = ("train.batch_seconds=60.0", "train.warmup_updates=150", "train.decay_over_wall=true")
GPU_TEACHER_MINUTES = 10.0  # not measured for these recipes: a 16.5M wav2vec2 teacher took 3.5 min on one H100


def _on_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def needed_teachers(settings: DemoSettings) -> tuple[str, ...]:
    """The teachers the best recipe's losses read (the hard_only baseline reads none)."""
    from ..distill.config import load_distill_config
    from ..distill.plan import plan_recipe

    method, _ = best_method(settings)
    return tuple(plan_recipe(load_distill_config(SYNTHETIC / f"{method}.yaml", [])).requests)


def missing_teachers(settings: DemoSettings) -> list[str]:
    """Needed teachers whose shipped directory is absent: the demo trains them."""
    return [name for name in needed_teachers(settings)
            if name in settings.teachers and not _teacher_present(settings.teachers[name])]


def _teacher_minutes(settings: DemoSettings) -> float:
    # a CPU run is time-boxed, then its best checkpoint is scored on dev and the test splits (~3 min)
    per_teacher = GPU_TEACHER_MINUTES if _on_gpu() else settings.teacher_minutes + 3.0
    return per_teacher * len(missing_teachers(settings))


def run_teachers(ctx: DemoContext) -> dict:
    """The teachers the chosen recipe reads: the shipped ones, or trained here (and said so) when absent."""
    from ..distill.plan import plan_recipe
    from ..markers import read_marker

    method, why = best_method(ctx.settings)
    needed = plan_recipe(_recipe(ctx, method, cache=False)).requests  # only the teachers a loss reads
    found = {}
    for name in needed:
        if name not in ctx.settings.teachers:
            raise ValueError(f"demo: recipe {method} reads teacher {name!r}, which the demo has no directory for")
        spec = ctx.settings.teachers[name]
        trained_here = not _teacher_present(spec)
        path = str(train_missing_teacher(ctx, name, _teacher_dir(spec))) if trained_here else _teacher_spec(spec)
        marker = read_marker(path) if Path(path).is_dir() else None
        found[name] = {"path": path, "params": (marker.extra or {}).get("num_parameters") if marker else None,
                       "trained_here": trained_here}
    return {"method": method, "why": why, "teachers": found}


def train_missing_teacher(ctx: DemoContext, name: str, shipped: Path) -> Path:
    """Train teacher ``name`` with its recipe on the demo corpus (time-boxed on CPU); returns its best/ dir."""
    from ..teachers.training import train_teacher_from_config

    s = ctx.settings
    if name not in s.teacher_recipes:
        raise FileNotFoundError(f"{shipped}: teacher {name!r} is not there and the demo has no recipe to train it; "
                                "train it with `speechdistill teacher train recipes/teachers/<arch>.yaml`")
    recipe = _teacher_dir(s.teacher_recipes[name])
    out = ctx.out / "teachers" / name
    tests = ", ".join(f"{split}: {ctx.corpus / f'{split}.jsonl'}" for split in s.bench_manifests)
    overrides = [f"out_dir={out}", f"data.train={ctx.corpus / 'train.jsonl'}", f"data.dev={ctx.corpus / 'dev.jsonl'}",
                 f"data.test={{{tests}}}"]
    if _on_gpu():
        budget = f"the recipe's own budget on the GPU (about {GPU_TEACHER_MINUTES:.0f} min)"
    else:
        overrides += [*CPU_TEACHER_OVERRIDES, f"train.max_wall_minutes={s.teacher_minutes}"]
        budget = (f"time-boxed to {s.teacher_minutes:g} min on this CPU (batches of 60 s of audio, the learning "
                  "rate decaying over the box); expect a far weaker teacher than a GPU run makes")
    overrides += list(s.teacher_overrides.get(name, ()))
    resume = (out / "checkpoints" / "last").is_dir()
    print(f"[teachers] {shipped} is missing: training teacher {name!r} with {recipe.relative_to(REPO)}: {budget}"
          + ("; resuming" if resume else ""), file=sys.stderr)
    return train_teacher_from_config(recipe, overrides, resume=resume)


def _teacher_paths(ctx: DemoContext) -> dict[str, str]:
    """Teacher name -> directory or packaged name: the teachers stage's record (shipped or trained here), else
    the settings'."""
    recorded = ctx.outputs.get("teachers", {}).get("teachers", {})
    return {name: recorded[name]["path"] if name in recorded else _teacher_spec(spec)
            for name, spec in ctx.settings.teachers.items()}


def _recipe(ctx: DemoContext, method: str, **extra):
    from ..distill.config import load_distill_config

    return load_distill_config(SYNTHETIC / f"{method}.yaml", _overrides(ctx, method, **extra))


def _overrides(ctx: DemoContext, method: str, *, cache: bool = True) -> list[str]:
    s = ctx.settings
    corpus = ctx.corpus
    tests = ", ".join(f"{name}: {corpus / f'{name}.jsonl'}" for name in s.bench_manifests)
    overrides = [f"out_dir={ctx.out / STUDENT_RUNS / method}", f"data.train={corpus / 'train.jsonl'}",
                 f"data.dev={corpus / 'dev.jsonl'}", f"data.test={{{tests}}}", f"student.size={s.student_size}",
                 f"student.overrides={json.dumps(s.student_overrides)}", f"train.max_updates={s.updates}",
                 f"train.batch_seconds={s.batch_seconds}", f"train.lr={s.lr}", f"train.warmup_updates={s.warmup_updates}",
                 f"train.eval_every={s.eval_every}", f"train.checkpoint_every={s.eval_every}", "train.log_every=10",
                 "augment.speed_factors=[1.0]",
                 *(f"teachers.{name}.spec={path}" for name, path in _teacher_paths(ctx).items())]
    if cache:
        overrides += ["teacher_source=cache",
                      *(f"cache_dirs.{name}={ctx.out / 'cache' / name}" for name in ctx.outputs["teachers"]["teachers"])]
    return overrides


def run_cache(ctx: DemoContext) -> dict:
    """Teacher outputs for the best recipe, computed once over the training split."""
    from ..cache import CacheConfig, build_cache
    from ..distill.plan import plan_recipe

    method = ctx.outputs["teachers"]["method"]
    plan = plan_recipe(_recipe(ctx, method, cache=False))
    made = {}
    for name, request in plan.requests.items():
        config = CacheConfig(teacher=_teacher_paths(ctx)[name],
                             manifest=str(ctx.corpus / "train.jsonl"), out_dir=str(ctx.out / "cache" / name),
                             top_k=8 if request.log_probs else 0, nbest=request.nbest,
                             hidden_layers=tuple(request.hidden_layers), attentions=request.attentions, device="cpu")
        result = build_cache(config, progress=True)
        made[name] = {"path": config.out_dir, "disk": result.usage.summary() if result.usage else None}
    return made


def _student_config(ctx: DemoContext, method: str):
    return _recipe(ctx, method, cache=method != "hard_only")  # plain CTC reads no teacher and no cache


def _student_outputs(method: str, out: Path, best: Path) -> dict:
    metrics = json.loads((out / "metrics.json").read_text())
    return {"method": method, "best": str(best), "wer": metrics["wer"], "updates": metrics["updates"],
            "audio_hours_seen": metrics["audio_hours_seen"]}


def _distill_here(ctx: DemoContext, method: str) -> dict:
    """Distil ``method`` in this process (every core torch is allowed)."""
    from ..distill.training import distill

    config = _student_config(ctx, method)
    out = Path(config.out_dir)
    best = distill(config, resume=(out / "checkpoints" / "last").is_dir(), recipe=str(SYNTHETIC / f"{method}.yaml"),
                   command=f"speechdistill demo (stage students, {method})")
    return _student_outputs(method, out, best)


def _distill_side_by_side(ctx: DemoContext, methods: list[str]) -> dict:
    """One child process per student, one thread each (two small students on two cores finish together in
    about the time one takes with both cores); progress read from their training logs."""
    from ..progress import progress_bar

    runs = {}
    for method in methods:
        out = Path(_student_config(ctx, method).out_dir)
        out.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "speechdistill", "distill", str(SYNTHETIC / f"{method}.yaml"),
                   *_overrides(ctx, method, cache=method != "hard_only"),
                   *(["--resume"] if (out / "checkpoints" / "last").is_dir() else [])]
        log = open(out / "demo.log", "w")  # noqa: SIM115 (closed below, once the child is done)
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                 env={**os.environ, "OMP_NUM_THREADS": "1"})
        runs[method] = (out, child, log, progress_bar(total=ctx.settings.updates, desc=method, unit="update"))
    while any(child.poll() is None for _, child, _, _ in runs.values()):
        time.sleep(POLL_S)
        for out, _, _, bar in runs.values():
            bar.update(max(0, _last_update(out) - bar.n))
    for method, (out, child, log, bar) in runs.items():
        bar.close()
        log.close()
        if child.returncode != 0:
            tail = (out / "demo.log").read_text().strip().splitlines()[-1:] or [""]
            raise RuntimeError(f"demo: student {method} failed (exit {child.returncode}): {tail[0]} "
                               f"(log: {out / 'demo.log'})")
    return {method: _student_outputs(method, out, out / "best") for method, (out, *_) in runs.items()}


def _last_update(out: Path) -> int:
    """The last training update a run's log.jsonl records (0 before it has one)."""
    from ..train.loop import read_log

    if not (out / "log.jsonl").is_file():
        return 0
    return max((row["update"] for row in read_log(out) if row.get("split") == "train"), default=0)


def side_by_side(settings: DemoSettings) -> bool:
    """Both students at once, one core each, when there are two cores and no GPU."""
    return settings.side_by_side and (os.cpu_count() or 1) >= 2 and not _on_gpu()


def run_students(ctx: DemoContext) -> dict:
    """``hard_only`` and the chosen KD recipe under the same budget: {"hard_only": ..., "best": ...}."""
    method = ctx.outputs["teachers"]["method"]
    if side_by_side(ctx.settings):
        both = _distill_side_by_side(ctx, ["hard_only", method])
        return {"hard_only": both["hard_only"], "best": both[method]}
    return {"hard_only": _distill_here(ctx, "hard_only"), "best": _distill_here(ctx, method)}


def _students(ctx: DemoContext) -> dict:
    return ctx.outputs["students"]


def _winner(ctx: DemoContext) -> dict:
    """The better of the two students by dev WER (ties: the KD one)."""
    hard, best = _students(ctx)["hard_only"], _students(ctx)["best"]
    return hard if hard["wer"]["dev"] < best["wer"]["dev"] else best


def run_export(ctx: DemoContext) -> dict:
    from ..export import export_bundle

    student = _winner(ctx)
    result = export_bundle(student["best"], ctx.out / "bundle")
    return {"path": str(result.path), "student": student["method"], "sizes_mb": result.sizes_mb}


def run_bench(ctx: DemoContext) -> dict:
    from ..bench.config import BenchConfig, ModelSpec, PeerSettings
    from ..bench.runner import run_bench as bench

    s = ctx.settings
    teachers = ctx.outputs["teachers"]["teachers"]
    models = [ModelSpec(f"{name}-teacher", info["path"], "teacher") for name, info in teachers.items()]
    for student in _students(ctx).values():
        models.append(ModelSpec(f"{student['method']}-student", student["best"], "student"))
    bundle = ctx.outputs["export"]
    models.append(ModelSpec(f"{bundle['student']}-bundle", bundle["path"], "student", ("onnx-fp32", "onnx-int8")))
    if s.faster_whisper:  # what an app developer would ship instead: Whisper through faster-whisper, int8
        models.append(ModelSpec(f"{s.faster_whisper}-faster-whisper", s.faster_whisper, "peer", ("faster-whisper-int8",)))
    config = BenchConfig(name="demo", models=tuple(models), out_dir=str(ctx.out / "bench"),
                         manifests={name: str(ctx.corpus / f"{name}.jsonl") for name in s.bench_manifests},
                         corpus=f"speechdistill demo corpus: {s.hours:g} h of synthetic voice commands (seed {s.seed})",
                         max_utterances=s.bench_utterances, warmup=1, repeats=3, memory_probe=s.bench_memory,
                         peers=PeerSettings(pocketsphinx=s.pocketsphinx, domain_lm=s.pocketsphinx,
                                            train_manifest=str(ctx.corpus / "train.jsonl")))
    return {"path": str(bench(config))}


def run_report(ctx: DemoContext) -> dict:
    from .report import write_demo_report

    return write_demo_report(ctx)


def _distill_minutes(s: DemoSettings) -> float:
    """Both students' stage: one after the other on both cores, or side by side on one core each; the KD student
    is the slower one (it reads its teacher's cache), plus dev evaluations and the final scoring (~0.7 min)."""
    audio_s = s.updates * s.batch_seconds
    if side_by_side(s):
        return audio_s * KD_SLOWDOWN / ONE_THREAD_AUDIO_S_PER_S / 60 + 0.7
    return audio_s * (1 + KD_SLOWDOWN) / TWO_THREADS_AUDIO_S_PER_S / 60 + 1.4


def _bench_minutes(s: DemoSettings) -> float:
    # measured 2026-12-08: 622 s for 4 x 40 utterances with faster-whisper, ~3.7 s per utterance in all; the split
    # (~2.0 s for the package's models and PocketSphinx, ~1.7 s for faster-whisper's two passes) is an estimate
    utterances = (s.bench_utterances or 60) * len(s.bench_manifests)
    return 0.5 + utterances * (2.0 + (1.7 if s.faster_whisper else 0.0)) / 60


STAGES = (
    Stage("corpus", lambda s: s.hours * 60 / 80 + 0.2, run_corpus),  # ~80x real time on 2 cores
    Stage("teachers", _teacher_minutes, run_teachers),
    Stage("cache", lambda s: s.hours * 60 / 24 + 0.3, run_cache),  # whisper-ctc: 151 s for a 1 h corpus (2026-12-08)
    Stage("students", _distill_minutes, run_students),
    Stage("export", lambda s: 0.5, run_export),
    Stage("bench", _bench_minutes, run_bench),
    Stage("report", lambda s: 0.0, run_report),
)


def stage_path(out: Path, name: str) -> Path:
    return out / "stages" / f"{name}.json"


def run_stages(out: Path, settings: DemoSettings, say: Callable[[str], None]) -> dict:
    """Run (or reuse) every stage; returns stage name -> outputs."""
    ctx = DemoContext(out, settings, {})
    digest = settings.digest()
    for stage in STAGES:
        path = stage_path(out, stage.name)
        if path.is_file():
            record = json.loads(path.read_text())
            if record.get("digest") == digest:
                ctx.outputs[stage.name] = record["outputs"]
                say(f"[{stage.name}] reused (finished in an earlier run, {record['wall_s']:.0f} s)")
                continue
        say(f"[{stage.name}] running (about {stage.minutes(settings):.1f} min)")
        started = time.perf_counter()
        outputs = stage.run(ctx)
        wall = time.perf_counter() - started
        ctx.outputs[stage.name] = outputs
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps({"digest": digest, "outputs": outputs, "wall_s": wall}, indent=2) + "\n")
        say(f"[{stage.name}] done in {wall:.0f} s")
    return ctx.outputs

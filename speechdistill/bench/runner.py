"""``speechdistill bench``: every model x runtime x test manifest -> results.json, report.md, pareto.png.

For each model and runtime ONE model object is opened and used for everything: the one-thread timed
run (whose transcripts are scored with the eval code's scorer), the batched RTFx run and the 5 s
latency. Peak memory comes from a separate probe process (:mod:`speechdistill.bench.memory`). Inputs
are checked before anything runs: an empty manifest or an unknown model path is an error.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.audio import load_audio
from ..data.manifests import read_manifest
from ..data.records import Utterance
from ..eval import bootstrap_wer_ci, cer, get_normalizer, score_corpus
from ..io import atomic_write_text
from .config import BenchConfig, ModelSpec, load_bench_config
from .environment import run_header
from .memory import MB, measure_memory
from .peers import peer_models
from .report import RESULTS_NAME
from .runtimes import BenchModel, get_runtime, stored_dtypes
from .timing import OneThreadRun, make_clip, time_batched, time_latency, time_one_thread


@dataclass(frozen=True)
class TestSet:
    """A test manifest's first ``max_utterances`` utterances."""

    name: str
    path: str
    utterances: tuple[Utterance, ...]


def log(message: str) -> None:
    """Progress on stderr (benchmarks run for a long time)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def run_bench_file(config_path: str | Path, overrides: Sequence[str] = (), *, quick: bool = False) -> Path:
    """Load the YAML (with ``key=value`` overrides) and run it; returns the results folder."""
    return run_bench(load_bench_config(config_path, list(overrides)), quick=quick)


def run_bench(config: BenchConfig, *, quick: bool = False, today: datetime.date | None = None) -> Path:
    """Run the benchmark described by ``config`` and write its folder; returns the folder."""
    settings = config.for_quick() if quick else config
    today = today or datetime.date.today()
    test_sets = load_test_sets(settings)
    check_models(settings.models)
    out = results_dir(settings, today, quick)
    header = run_header(settings, today, quick)
    peers, notes = peer_models(settings.peers, out)
    check_models(peers)
    notes.update({spec.name: "; ".join(getattr(get_runtime(r), "description", r) for r in spec.runtimes)
                  for spec in settings.models if spec.role == "peer"})  # peers listed in the YAML
    header["peers"] = notes
    rows = []
    for spec in (*settings.models, *peers):
        for runtime in spec.runtimes:
            rows += bench_model(spec, runtime, test_sets, settings)
    results = {"header": header, "rows": rows}
    atomic_write_text(out / RESULTS_NAME, json.dumps(results, indent=2) + "\n")
    write_outputs(out, results)
    return out


def write_outputs(out: Path, results: dict) -> None:
    """report.md and pareto.png from ``results``."""
    from .plot import write_pareto
    from .report import write_report

    write_report(out, results)
    write_pareto(out / "pareto.png", results)


def results_dir(config: BenchConfig, today: datetime.date, quick: bool) -> Path:
    """``<out_dir>/<YYYY-MM-DD>_<name>[-quick]``, created."""
    out = Path(config.out_dir) / f"{today.isoformat()}_{config.name}{'-quick' if quick else ''}"
    out.mkdir(parents=True, exist_ok=True)
    return out


def load_test_sets(config: BenchConfig) -> list[TestSet]:
    """Each manifest read (labelled, bad entries raise) and cut to ``max_utterances``; empty is an error."""
    normalizer = get_normalizer(config.normalizer)
    sets = []
    for name, path in config.manifests.items():
        utterances = read_manifest(path, labelled=True, vocab=None)[: config.max_utterances]
        if not utterances:
            raise ValueError(f"manifest {name!r} ({path}): empty, no utterances to benchmark (an empty set has no WER)")
        empty = [u.id for u in utterances if not normalizer(u.text or "")]
        if empty:
            raise ValueError(f"manifest {name!r} ({path}): utterance {empty[0]} has an empty reference")
        sets.append(TestSet(name, str(path), tuple(utterances)))
    return sets


def check_models(specs: Sequence[ModelSpec]) -> None:
    """A clear error for a missing path or an unknown runtime, before anything is timed (a packaged teacher
    name such as ``whisper-base`` stands for its converted directory)."""
    from ..teachers.packaged import is_packaged_name

    for spec in specs:
        if not Path(spec.path).expanduser().exists() and not is_packaged_name(spec.path):
            raise FileNotFoundError(f"model {spec.name!r}: {spec.path} not found (paths are relative to the "
                                    f"directory the command runs in: {Path.cwd()})")
        for name in spec.runtimes:
            get_runtime(name).check(str(Path(spec.path).expanduser()))


def bench_model(spec: ModelSpec, runtime_name: str, test_sets: Sequence[TestSet], config: BenchConfig) -> list[dict]:
    """Rows for one model on one runtime, one per test set, all from one opened model."""
    log(f"{spec.name} ({runtime_name}): loading")
    model = get_runtime(runtime_name).open(str(Path(spec.path).expanduser()))
    first = waveforms(test_sets[0], model)
    shared = model_figures(spec, runtime_name, model, first, config)
    rows = []
    for test_set in test_sets:
        log(f"{spec.name} ({runtime_name}) on {test_set.name}: {len(test_set.utterances)} utterances")
        audio = first if test_set is test_sets[0] else waveforms(test_set, model)
        rows.append({"model": spec.name, "role": spec.role, "runtime": runtime_name, "manifest": test_set.name,
                     **measure(model, test_set, audio, config), **shared, "path": spec.path})
    return rows


def waveforms(test_set: TestSet, model: BenchModel) -> list[np.ndarray]:
    """The test set's audio at the model's rate (longer than the model accepts: an error naming the file)."""
    return [load_audio(u.audio_path, model.sample_rate, model.max_duration_s) for u in test_set.utterances]


def measure(model: BenchModel, test_set: TestSet, audio: list[np.ndarray], config: BenchConfig) -> dict:
    """WER/CER of the one-thread timed transcripts, the RTF figures and RTFx on one test set."""
    one = time_one_thread(model, [(u.id, w) for u, w in zip(test_set.utterances, audio)], config.warmup)
    threads = config.threads or os.cpu_count() or 1
    if model.parallel:
        rtfx, rtfx_threads = time_batched(model, audio, threads, config.batch_seconds).rtfx, threads
    else:  # a single-stream engine: its throughput is the sequential one-thread run
        rtfx, rtfx_threads = one.rtfx, 1
    return {**score(test_set, one, config.normalizer), "rtf_1thread_median": one.rtf_median,
            "rtf_1thread_p90": one.rtf_p90, "rtfx": rtfx, "rtfx_threads": rtfx_threads,
            "num_utterances": len(one.records), "audio_s": sum(r.audio_s for r in one.records)}


def score(test_set: TestSet, run: OneThreadRun, normalizer_name: str) -> dict:
    """WER and CER (fractions) with the eval code's scorer, and a bootstrap 95% interval for WER."""
    normalizer = get_normalizer(normalizer_name)
    refs = [u.text or "" for u in test_set.utterances]
    if [r.id for r in run.records] != [u.id for u in test_set.utterances]:
        raise AssertionError("timed records are out of step with the test set")
    corpus = score_corpus(refs, run.texts, normalizer)
    per_utt = corpus.utterances
    lo, hi = bootstrap_wer_ci([u.errors for u in per_utt], [u.ref_words for u in per_utt])
    return {"wer": corpus.counts.wer, "cer": cer(refs, run.texts, normalizer), "wer_ci95": [lo, hi],
            "ref_words": corpus.counts.reference_words}


def model_figures(spec: ModelSpec, runtime_name: str, model: BenchModel, audio: list[np.ndarray],
                  config: BenchConfig) -> dict:
    """Figures of the model itself: parameters, size on disk, 5 s latency and peak memory (probe process)."""
    files = model.weights_files()
    log(f"{spec.name} ({runtime_name}): latency and memory")
    return {"params": model.num_parameters, "size_mb": sum(f.stat().st_size for f in files) / MB,
            "weights_files": [f.name for f in files], "weights_dtypes": stored_dtypes(files),
            **latency_figures(spec, model, audio, config),
            **memory_figures(spec, runtime_name, audio, config)}


def latency_figures(spec: ModelSpec, model: BenchModel, audio: list[np.ndarray], config: BenchConfig) -> dict:
    """Median one-thread latency of a ``latency_seconds`` clip; None for a model whose window is shorter."""
    if model.max_duration_s is not None and model.max_duration_s < config.latency_seconds:
        log(f"{spec.name}: no latency figure, its {model.max_duration_s:g} s window is shorter than the "
            f"{config.latency_seconds:g} s clip")
        return {"latency_5s_ms": None, "latency_clip_s": None}
    clip = make_clip(audio, config.latency_seconds, model.sample_rate)
    return {"latency_5s_ms": time_latency(model, clip, config.repeats), "latency_clip_s": len(clip) / model.sample_rate}


def memory_figures(spec: ModelSpec, runtime_name: str, audio: list[np.ndarray], config: BenchConfig) -> dict:
    """Peak RSS from the probe process (all None when ``memory_probe`` is off)."""
    if not config.memory_probe:
        return dict.fromkeys(("peak_mem_mb", "peak_mem_baseline_mb", "peak_mem_delta_mb", "memory_utterances"))
    memory = measure_memory(runtime_name, str(Path(spec.path).expanduser()), audio[: config.memory_utterances])
    return {"peak_mem_mb": memory.peak_mb, "peak_mem_baseline_mb": memory.baseline_mb,
            "peak_mem_delta_mb": memory.delta_mb, "memory_utterances": memory.utterances}

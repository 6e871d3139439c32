"""Build the offline synthetic voice-command corpus: plan, render in parallel, write manifests.

Usage:
    speechdistill corpus synth --out DIR --hours 1 --seed 0 --jobs 2

Writes ``DIR/<split>.jsonl`` (NeMo-style manifests, ``audio_filepath`` relative to DIR), 16 kHz FLAC under
``DIR/audio/<split>/``, ``DIR/corpus.json`` (the summary) and the ``speechdistill.json`` marker. A rerun
with the same options renders only the files that are missing.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ... import SAMPLE_RATE_HZ
from ...io import atomic_write_text
from ...markers import Marker, write_marker
from ...progress import progress_bar
from ...text import Vocabulary, normalize_text
from ...threads import torch_threads
from ..audio import audio_duration_s
from .engines import Engine, EngineUnavailable, load_engine
from .plan import UtterancePlan, VoiceSets, estimate_seconds, plan_split
from .render import Renderer, init_worker, render_job
from .report import manifest_row, summarise
from .splits import SPLITS, is_held_out_voice

OPTIONAL_ENGINES = ("hibari", "piper")


@dataclass(frozen=True)
class SynthOptions:
    """What to build. ``eval_share`` is each eval split's share of ``hours``; ``hibari_share`` is hibari's
    share of the utterances in the seen-voice splits (the rest are espeak-ng)."""

    out: Path
    hours: float = 1.0
    seed: int = 0
    jobs: int = 2
    hibari_share: float = 0.3
    eval_share: float = 0.04
    min_eval_utterances: int = 20
    progress: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", Path(self.out))
        if self.hours <= 0:
            raise ValueError(f"--hours must be positive, got {self.hours}")
        if self.jobs < 1:
            raise ValueError(f"--jobs must be at least 1, got {self.jobs}")
        if not 0 <= self.hibari_share < 1 or not 0 < self.eval_share < 0.2:
            raise ValueError("hibari_share must be in [0, 1) and eval_share in (0, 0.2)")


def _say(opts: SynthOptions, message: str) -> None:
    if opts.progress:
        print(message, file=sys.stderr)


def load_engines(opts: SynthOptions) -> tuple[dict[str, Engine], dict[str, str]]:
    """espeak-ng (required) plus the optional engines that are installed, and why any are missing."""
    engines: dict[str, Engine] = {"espeak": load_engine("espeak")}
    missing: dict[str, str] = {}
    for name in OPTIONAL_ENGINES:
        try:
            engines[name] = load_engine(name)
        except EngineUnavailable as exc:
            missing[name] = str(exc)
            _say(opts, f"warning: {exc}; building without it")
    return engines, missing


def voice_sets(engines: Mapping[str, Engine], hibari_share: float) -> VoiceSets:
    """Validated espeak voices split into seen and held out; hibari seen; piper the unseen engine."""
    espeak_voices = engines["espeak"].voices()
    seen = {"espeak": [v for v in espeak_voices if not is_held_out_voice(v)]}
    weights = {"espeak": 1.0 - hibari_share}
    if "hibari" in engines:
        seen["hibari"], weights["hibari"] = engines["hibari"].voices(), hibari_share
    unseen_engine = {"piper": engines["piper"].voices()} if "piper" in engines else {}
    held_out = {"espeak": [v for v in espeak_voices if is_held_out_voice(v)]}
    return VoiceSets(seen=seen, held_out=held_out, unseen_engine=unseen_engine, engine_weights=weights)


def make_plan(opts: SynthOptions, sets: VoiceSets, engines: Mapping[str, Engine]) -> list[UtterancePlan]:
    """Every utterance of every split. Eval splits are planned first; train gets the remaining hours."""
    total_s = opts.hours * 3600.0
    by_split: dict[str, list[UtterancePlan]] = {}
    for index, spec in enumerate(SPLITS):
        if spec.is_eval and any(sets.for_split(spec).values()):
            by_split[spec.name] = plan_split(opts.seed, spec, index, opts.eval_share * total_s,
                                             opts.min_eval_utterances, sets, engines)
    eval_s = sum(estimate_seconds(p, engines[p.engine]) for plans in by_split.values() for p in plans)
    train_s = max(total_s - eval_s, 0.5 * total_s)
    by_split["train"] = plan_split(opts.seed, SPLITS[0], 0, train_s, opts.min_eval_utterances, sets, engines)
    plans = [p for spec in SPLITS for p in by_split.get(spec.name, [])]
    check_transcripts(plans)
    return plans


def check_transcripts(plans: list[UtterancePlan]) -> None:
    """Every transcript is already normalised and spellable by the default vocabulary."""
    vocabulary = Vocabulary.default()
    for plan in plans:
        if normalize_text(plan.text) != plan.text or vocabulary.unknown_chars(plan.text):
            raise ValueError(f"grammar produced a transcript that is not normalised/spellable: {plan.text!r}")


def _slowest_first(todo: list[UtterancePlan], engines: Mapping[str, Engine]) -> list[UtterancePlan]:
    """Longest-processing-time-first order, so the slow engines do not leave one worker busy at the end."""
    def cost(plan: UtterancePlan) -> float:
        return estimate_seconds(plan, engines[plan.engine]) / engines[plan.engine].x_real_time

    return sorted(todo, key=cost, reverse=True)


@contextmanager
def _render_stream(opts: SynthOptions, todo: list[UtterancePlan]) -> Iterator[Iterator[tuple[str, float]]]:
    """(path, duration) for each of ``todo`` as it finishes: in this process (jobs=1) or in a pool."""
    if opts.jobs == 1 or len(todo) < 2:
        renderer = Renderer()
        # the effects are many small ops, where a thread pool only adds contention
        with torch_threads(1):
            yield ((plan.audio_path, renderer.render_to(opts.out, plan)) for plan in todo)
        return
    # fork where available: workers start at once instead of re-importing torch. The pool is made
    # before the progress bar so that no tqdm monitor thread exists at fork time.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(opts.jobs, initializer=init_worker) as pool:
        yield pool.imap_unordered(render_job, [(opts.out, plan) for plan in todo])


def render_all(opts: SynthOptions, plans: list[UtterancePlan],
               engines: Mapping[str, Engine]) -> tuple[dict[str, float], int, float]:
    """Durations of every planned file, rendering the missing ones; also (files rendered, seconds rendered)."""
    for stale in opts.out.glob("audio/*/.*.tmp"):   # left by a build that was killed mid-write
        stale.unlink()
    durations = {p.audio_path: audio_duration_s(opts.out / p.audio_path)
                 for p in plans if (opts.out / p.audio_path).is_file()}
    todo = _slowest_first([p for p in plans if p.audio_path not in durations], engines)
    if durations:
        _say(opts, f"resuming: {len(durations)} of {len(plans)} files already rendered")
    rendered_s = 0.0
    with _render_stream(opts, todo) as results, \
            progress_bar(total=len(todo), unit="utt", desc="synthesising", disable=not opts.progress or not todo) as bar:
        for path, seconds in results:
            durations[path] = seconds
            rendered_s += seconds
            bar.update()
    return durations, len(todo), rendered_s


def write_manifests(out: Path, plans: list[UtterancePlan], durations: Mapping[str, float]) -> dict[str, list[dict]]:
    """``out/<split>.jsonl`` for every planned split, each written atomically."""
    rows: dict[str, list[dict]] = {}
    for plan in plans:
        rows.setdefault(plan.split, []).append(manifest_row(plan, durations[plan.audio_path]))
    for split, split_rows in rows.items():
        atomic_write_text(out / f"{split}.jsonl", "".join(json.dumps(r) + "\n" for r in split_rows))
    return rows


def build_corpus(opts: SynthOptions) -> dict:
    """Build (or finish building) the corpus described by ``opts``; returns the corpus.json summary."""
    started = time.perf_counter()
    engines, missing = load_engines(opts)
    sets = voice_sets(engines, opts.hibari_share)
    dropped = engines["espeak"].dropped
    _say(opts, f"espeak-ng: {len(engines['espeak'].voices())} voices usable, {len(dropped)} dropped by validation")
    plans = make_plan(opts, sets, engines)
    durations, rendered, rendered_s = render_all(opts, plans, engines)
    rows = write_manifests(opts.out, plans, durations)
    build_s = time.perf_counter() - started
    summary = summarise(rows, sets, engines, missing, dropped,
                        {"seed": opts.seed, "hours_requested": opts.hours, "jobs": opts.jobs,
                         "sample_rate": SAMPLE_RATE_HZ, "utterances_rendered": rendered,
                         "utterances_reused": len(plans) - rendered, "build_time_s": round(build_s, 2),
                         "rendered_hours": round(rendered_s / 3600, 4),
                         "x_real_time": round(rendered_s / build_s, 1)})
    atomic_write_text(opts.out / "corpus.json", json.dumps(summary, indent=2) + "\n")
    write_marker(opts.out, Marker(kind="corpus", vocabulary=Vocabulary.default().labels,
                                  extra={"splits": list(rows), "generator": "speechdistill corpus synth"}))
    return summary

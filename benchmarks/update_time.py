"""Seconds per optimiser update with hard labels only, with a live teacher and with its cached outputs, and
the teacher-output cache's disk per audio hour for every content type.

Usage (from the repository root):
    python benchmarks/update_time.py --corpus runs/corpus [--teacher embedded_teachers/whisper_ctc] [--updates 30]
        [--batch-seconds 60] [--threads 1] [--hours 0.5] [--disk-utterances 40] [--repeats 2] [--out DIR]
        [--work DIR] [key=value ...]

1. A training subset of ``--hours`` of ``corpus/train.jsonl`` (the cache must hold whatever the sampler draws).
2. The teacher outputs ``frame_kl`` reads (top-8 log-posteriors) cached over it; for the disk figures a
   second cache of every content type (top-8 log-posteriors, 4-best lists, two hidden layers, attention
   maps) over the first ``--disk-utterances`` utterances.
3. The ``hard_only`` and ``frame_kl`` recipes (same student, batches and data order; speed perturbation off
   so that cached frames line up), ``frame_kl`` once with the live teacher and once from the cache, for
   ``--updates`` updates each with no evaluation inside the loop: seconds per update = the loop's wall
   time / updates. The distillation issue's target: cached <= 1.2x hard_only.

Writes ``results.json`` and ``update_time.md`` into ``--out`` (default
``benchmarks/results/<YYYY-MM-DD>_update_time``); caches and runs go to ``--work`` (default
``runs/update_time``). Trailing ``key=value`` overrides apply to every run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

from speechdistill.cache import CacheConfig, build_cache
from speechdistill.distill.training import distill_from_config
from speechdistill.io import atomic_write_text
from speechdistill.threads import torch_threads

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "recipes" / "synthetic_commands"
TARGET = 1.2  # cached update time against hard_only's
RUNS = {"hard_only": ("hard_only", None), "frame_kl_live": ("frame_kl", "live"), "frame_kl_cached": ("frame_kl", "cache")}


def head_manifest(source: Path, target: Path, *, hours: float | None = None, count: int | None = None) -> float:
    """Copy the first lines of a NeMo manifest, up to ``hours`` of audio or ``count`` lines, audio paths made
    absolute (they are relative to the manifest's folder); returns the hours kept."""
    kept, seconds = [], 0.0
    for line in source.read_text().splitlines():
        if not line.strip():
            continue
        if (hours is not None and seconds >= hours * 3600) or (count is not None and len(kept) >= count):
            break
        item = json.loads(line)
        item["audio_filepath"] = str((source.parent / item["audio_filepath"]).resolve())
        kept.append(json.dumps(item))
        seconds += float(item["duration"])
    atomic_write_text(target, "\n".join(kept) + "\n")
    return seconds / 3600


def run_overrides(args, data: dict[str, Path], out: Path, source: str | None, cache: Path) -> list[str]:
    never = 10**9  # no evaluation or checkpoint inside the timed loop
    overrides = [f"out_dir={out}", f"data.train={data['train']}", f"data.dev={data['dev']}",
                 f"data.test={{dev: {data['dev']}}}", f"teachers.w2v.spec={args.teacher}",
                 f"train.max_updates={args.updates}", f"train.batch_seconds={args.batch_seconds}",
                 f"train.eval_every={never}", f"train.checkpoint_every={never}", "train.warmup_updates=1",
                 "augment.speed_factors=[1.0]"]
    if source == "cache":
        overrides += ["teacher_source=cache", f"cache_dirs.w2v={cache}"]
    return [*overrides, *args.overrides]


def shown(path: Path) -> str:
    """A path as the repository's README would show it."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def measure(args) -> dict:
    load = [round(x, 2) for x in os.getloadavg()]
    work = args.work
    data = {"train": work / "train.jsonl", "dev": work / "dev.jsonl"}
    hours = head_manifest(args.corpus / "train.jsonl", data["train"], hours=args.hours)
    head_manifest(args.corpus / "dev.jsonl", data["dev"], count=4)
    head_manifest(args.corpus / "train.jsonl", work / "disk.jsonl", count=args.disk_utterances)
    with torch_threads(args.threads):
        cache = build_cache(CacheConfig(teacher=str(args.teacher), manifest=str(data["train"]),
                                        out_dir=str(work / "cache_frame_kl"), top_k=8, device="cpu"))
        everything = build_cache(CacheConfig(teacher=str(args.teacher), manifest=str(work / "disk.jsonl"),
                                             out_dir=str(work / "cache_all"), top_k=8, nbest=4,
                                             hidden_layers=(4, -1), attentions=True, device="cpu"))
        every: dict[str, list[float]] = {}
        for repeat in range(args.repeats):  # interleaved, so that a slow spell of the machine hits every run
            for name, (recipe, source) in RUNS.items():
                out = work / f"{name}_r{repeat}"
                distill_from_config(RECIPES / f"{recipe}.yaml", run_overrides(args, data, out, source, cache.out_dir))
                metrics = json.loads((out / "metrics.json").read_text())
                every.setdefault(name, []).append(metrics["train_wall_s"] / metrics["updates"])
    seconds = {name: min(values) for name, values in every.items()}  # the least disturbed repeat
    base = seconds["hard_only"]
    return {"date": datetime.date.today().isoformat(), "machine": platform.processor() or platform.machine(),
            "threads": args.threads, "updates": args.updates, "batch_seconds": args.batch_seconds,
            "teacher": shown(args.teacher), "train_subset_hours": round(hours, 3), "seconds_per_update": seconds,
            "seconds_per_update_every_repeat": every, "load_average_at_start": load,
            "ratio_to_hard_only": {name: value / base for name, value in seconds.items()},
            "cached_target": TARGET, "cached_target_met": seconds["frame_kl_cached"] / base <= TARGET,
            "disk_per_audio_hour": {"frame_kl cache": cache.usage.to_json()["bytes_per_audio_hour"],
                                    "every content type": everything.usage.to_json()["bytes_per_audio_hour"]},
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])}


def render(result: dict) -> str:
    every = result["seconds_per_update_every_repeat"]
    rows = "\n".join(f"| {name} | {value:.3f} | {result['ratio_to_hard_only'][name]:.2f}x | "
                     f"{', '.join(f'{v:.3f}' for v in every[name])} |" for name, value in result["seconds_per_update"].items())
    disk = result["disk_per_audio_hour"]["every content type"]
    disk_rows = "\n".join(f"| {kind} | {value / 1e6:.2f} |" for kind, value in disk.items())
    verdict = "met" if result["cached_target_met"] else "not met"
    return f"""# Update time: hard labels vs live teacher vs cached teacher outputs

Written by `benchmarks/update_time.py` on {result['date']} ({result['machine']}, {result['threads']} thread(s)):
{result['updates']} updates of {result['batch_seconds']:g} s of audio each, teacher `{result['teacher']}`,
training subset {result['train_subset_hours']} h; load average at start {result['load_average_at_start']}.
Every run repeated {len(next(iter(every.values())))} time(s), interleaved; the fastest repeat counts.
Command: `{result['command']}`.

| run | seconds per update | vs hard_only | every repeat |
|---|---|---|---|
{rows}

Cached frame_kl against hard_only: target <= {result['cached_target']}x: {verdict}.

Cache disk per audio hour, every content type (top-8 log-posteriors, 4-best, hidden layers 4 and last at
the teacher's width, every layer's attention maps), MB:

| content | MB per audio hour |
|---|---|
{disk_rows}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="key=value overrides for every run")
    parser.add_argument("--corpus", type=Path, required=True, help="folder with train.jsonl and dev.jsonl")
    parser.add_argument("--teacher", type=Path, default=REPO / "embedded_teachers" / "whisper_ctc")
    parser.add_argument("--updates", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved repeats of every run; the fastest counts")
    parser.add_argument("--batch-seconds", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--hours", type=float, default=0.5, help="training subset (the cache covers it)")
    parser.add_argument("--disk-utterances", type=int, default=40)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--work", type=Path, default=Path("runs/update_time"))
    args = parser.parse_args(argv)
    args.out = args.out or REPO / "benchmarks" / "results" / f"{datetime.date.today().isoformat()}_update_time"
    result = measure(args)
    atomic_write_text(args.out / "results.json", json.dumps(result, indent=2) + "\n")
    atomic_write_text(args.out / "update_time.md", render(result))
    print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

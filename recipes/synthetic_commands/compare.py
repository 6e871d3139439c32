"""The method comparison: every recipe here under one budget, hard_only and the best KD recipe over 3 seeds.

Usage:
    python recipes/synthetic_commands/compare.py [key=value ...] [--seeds 3] [--methods hard_only frame_kl ...]
                                                 [--work runs/compare] [--resume] [--jobs N]
    python recipes/synthetic_commands/compare.py --render-only      # rewrite the outputs from finished runs

1. Every method runs once (seed 0) with the same overrides (budget, data, teachers).
2. The best KD method is the one with the lowest dev WER (dev, not test: the test splits stay unseen by
   every choice); it and ``hard_only`` run again with seeds 1..N-1.
3. ``comparison.json`` (per method: mean WER per split with the per-seed values beside it, seeds, student
   and teacher parameters, updates, audio hours, hardware) and the "Method comparison" section of
   ``RESULTS.md`` (other sections are left alone) are written from the runs' ``metrics.json``.

Each run is ``speechdistill distill <method>.yaml out_dir=<work>/<method>/seed<k> train.seed=<k> ...``;
finished runs (a ``metrics.json``) are reused, interrupted ones resume with ``--resume``. ``--jobs N`` runs N
of them at once, each in its own process (log in ``<run>/run.log``; threads per process: cores / N) — on one
GPU the small students share it; on CPU, use it with one thread per run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPLITS = ("dev", "test", "test_unseen_voices", "test_unseen_engine", "test_noisy")
METHODS = tuple(sorted((p.stem for p in HERE.glob("[!_]*.yaml")), key=lambda n: (n != "hard_only", n)))  # hard_only first
START, END = "<!-- comparison:start -->", "<!-- comparison:end -->"
TARGET_RATIO = 0.8  # the best KD recipe's test WER against hard_only's


def run_dir(work: Path, method: str, seed: int) -> Path:
    return work / method / f"seed{seed}"


def run_method(method: str, seed: int, work: Path, overrides: list[str], resume: bool, in_process: bool = True) -> dict:
    """Train (or reuse) one run; returns its metrics.json. ``in_process=False``: in a child process."""
    out = run_dir(work, method, seed)
    metrics = out / "metrics.json"
    if not metrics.is_file():
        run_overrides = [*overrides, f"out_dir={out}", f"train.seed={seed}"]
        resume = resume and (out / "checkpoints" / "last").is_dir()
        if in_process:
            from speechdistill.distill.training import distill_from_config

            distill_from_config(HERE / f"{method}.yaml", run_overrides, resume=resume)
        else:
            _run_child(HERE / f"{method}.yaml", run_overrides, resume, out)
    return json.loads(metrics.read_text())


def _run_child(recipe: Path, overrides: list[str], resume: bool, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "speechdistill", "distill", str(recipe), *overrides, *(["--resume"] if resume else [])]
    with open(out / "run.log", "w") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
    if done.returncode != 0:
        tail = (out / "run.log").read_text().strip().splitlines()[-1:] or [""]
        raise RuntimeError(f"{recipe.stem} ({out}) failed with exit code {done.returncode}: {tail[0]} "
                           f"(log: {out / 'run.log'})")


def run_all(runs: list[tuple[str, int]], work: Path, overrides: list[str], resume: bool, jobs: int) -> None:
    """Every (method, seed) run: one after another in this process, or ``jobs`` child processes at once."""
    if jobs <= 1:
        for method, seed in runs:
            run_method(method, seed, work, overrides, resume)
        return
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
    with ThreadPoolExecutor(jobs) as pool:
        for future in [pool.submit(run_method, m, s, work, overrides, resume, False) for m, s in runs]:
            future.result()


def safetensors_params(directory: Path) -> int | None:
    """Parameter count from a model directory's safetensors header (no tensor loaded)."""
    total, found = 0, False
    for path in directory.glob("*.safetensors"):
        with open(path, "rb") as stream:
            (size,) = struct.unpack("<Q", stream.read(8))
            header = json.loads(stream.read(size))
        for name, info in header.items():
            if name != "__metadata__":
                found = True
                count = 1
                for dim in info["shape"]:
                    count *= dim
                total += count
    return total if found else None


def run_facts(directory: Path) -> dict:
    """Student and teacher parameters of a finished run (from its best/ directory)."""
    best = directory / "best"
    facts = json.loads((best / "distillation.json").read_text())
    marker = json.loads((best / "speechdistill.json").read_text())
    teachers = {name: safetensors_params(Path(spec)) for name, spec in facts["teachers"].items()}
    return {"params": marker["extra"]["num_parameters"], "teachers": facts["teachers"],
            "teacher_params": max((p for p in teachers.values() if p), default=None)}


def hardware() -> str:
    import os

    import torch

    if torch.cuda.is_available():
        return f"1x {torch.cuda.get_device_name(0)}"
    return f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def summarise(method: str, runs: dict[int, dict], facts: dict, hardware_note: str) -> dict:
    seeds = sorted(runs)
    row: dict = {}
    for split in SPLITS:
        values = [runs[s]["wer"][split] for s in seeds if split in runs[s]["wer"]]
        if values:
            row[f"{split}_wer"] = statistics.fmean(values)
            row[f"{split}_wer_per_seed"] = values
    row.update(seeds=seeds, params=facts["params"], teacher_params=facts["teacher_params"],
               teachers=facts["teachers"], updates=runs[seeds[0]]["updates"],
               audio_hours_seen=statistics.fmean(runs[s]["audio_hours_seen"] for s in seeds), hardware=hardware_note)
    return row


def best_kd(methods: dict[str, dict]) -> str | None:
    kd = {name: row["dev_wer"] for name, row in methods.items() if name != "hard_only" and "dev_wer" in row}
    return min(kd, key=kd.get) if kd else None


def render(comparison: dict) -> str:
    methods = comparison["methods"]
    lines = [START, "## Method comparison", "",
             f"Written by `python recipes/synthetic_commands/compare.py` (do not edit by hand). Budget: "
             f"{comparison['budget']}. Hardware: {comparison['hardware']}. WER in %, greedy decoding; over several "
             "seeds the mean, per-seed values in brackets.", "",
             "| method | " + " | ".join(SPLITS) + " | seeds | student params | teacher params |",
             "|---|" + "---|" * (len(SPLITS) + 3)]
    for name, row in methods.items():
        cells = []
        for split in SPLITS:
            if f"{split}_wer" not in row:
                cells.append("-")
                continue
            mean, per_seed = row[f"{split}_wer"] * 100, row[f"{split}_wer_per_seed"]
            cells.append(f"{mean:.1f}" + (f" ({', '.join(f'{v * 100:.1f}' for v in per_seed)})"
                                          if len(per_seed) > 1 else ""))
        teacher = f"{row['teacher_params'] / 1e6:.2f}M" if row.get("teacher_params") else "-"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {len(row['seeds'])} | {row['params'] / 1e6:.2f}M | "
                     f"{teacher} |")
    best = comparison.get("best_method")
    if best and "hard_only" in methods:
        ratio = methods[best]["test_wer"] / max(methods["hard_only"]["test_wer"], 1e-9)
        size = methods[best]["params"] / methods[best]["teacher_params"] if methods[best].get("teacher_params") else None
        verdict = "met" if ratio <= TARGET_RATIO and (size is None or size <= 1 / 8) else "not met"
        lines += ["", f"Best KD recipe by dev WER: `{best}`; its test WER is {ratio:.2f}x hard_only's "
                  f"(target <= {TARGET_RATIO}x with a student <= 1/8 of its teacher"
                  + (f", here {size:.3f}" if size else "") + f"): {verdict}."]
    lines.append(END)
    return "\n".join(lines)


def collect(work: Path, methods: list[str], budget: str) -> dict:
    note = hardware()
    rows = {}
    for method in methods:
        runs = {int(p.parent.name[4:]): json.loads(p.read_text()) for p in sorted((work / method).glob("seed*/metrics.json"))}
        if runs:
            rows[method] = summarise(method, runs, run_facts(run_dir(work, method, min(runs))), note)
    return {"budget": budget, "hardware": note, "best_method": best_kd(rows), "methods": rows}


def write_outputs(comparison: dict, json_path: Path, results_md: Path) -> None:
    from speechdistill.io import atomic_write_text
    from speechdistill.markdown import replace_section

    atomic_write_text(json_path, json.dumps(comparison, indent=2) + "\n")
    text = results_md.read_text() if results_md.is_file() else "# Results: synthetic voice commands\n"
    atomic_write_text(results_md, replace_section(text, START, END, render(comparison)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="key=value overrides for every run (budget, data, teachers)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds for hard_only and the best KD recipe")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--work", type=Path, default=Path("runs/compare"))
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, each in its own process")
    parser.add_argument("--render-only", action="store_true", help="only rewrite the outputs from finished runs")
    parser.add_argument("--json", type=Path, default=HERE / "comparison.json", help=argparse.SUPPRESS)
    parser.add_argument("--results-md", type=Path, default=HERE / "RESULTS.md", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    budget = " ".join(args.overrides) or "the recipes' own (_base.yaml)"
    if not args.render_only:
        run_all([(method, 0) for method in args.methods], args.work, args.overrides, args.resume, args.jobs)
        best = collect(args.work, args.methods, budget)["best_method"]
        run_all([(method, seed) for method in ("hard_only", best) if method in args.methods
                 for seed in range(1, args.seeds)], args.work, args.overrides, args.resume, args.jobs)
    comparison = collect(args.work, args.methods, budget)
    write_outputs(comparison, args.json, args.results_md)
    print(render(comparison))
    return 0


if __name__ == "__main__":
    sys.exit(main())

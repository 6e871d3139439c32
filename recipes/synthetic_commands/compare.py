"""The method comparison: every recipe here under one budget, in two scenarios, each baseline and best over 3 seeds.

Usage:
    python recipes/synthetic_commands/compare.py [key=value ...] [--seeds 3] [--methods hard_only frame_kl ...]
                                                 [--work runs/compare] [--resume] [--jobs N]
    python recipes/synthetic_commands/compare.py [key=value ...] --render-only   # rewrite the outputs from the records
    python recipes/synthetic_commands/compare.py [key=value ...] --only features attention:0   # a share now
    python recipes/synthetic_commands/compare.py [key=value ...] --teachers      # teacher WER + RTFs, once

Two scenarios, by recipe name: A, "labelled" (every ``<method>.yaml`` not named ``labels10_*`` or
``streaming_*``; baseline ``hard_only``) and B, "10% labelled" (``labels10_*.yaml``: only a fixed 10% of the
train split keeps its transcripts; baseline ``labels10_hard_only``).

1. Every method runs once (seed 0) with the same overrides (budget, data, teachers).
2. Per scenario, the best KD method is the one with the lowest dev WER (dev, not test: the test splits stay
   unseen by every choice); it and the scenario's baseline run again with seeds 1..N-1.
3. ``comparison.json`` (per scenario and method: mean WER per split with the per-seed values beside it, seeds,
   student and teacher parameters, updates, audio hours, hardware, WER relative to each teacher and the
   teachers' one-thread RTF against the student's; the verdicts) and the "Method comparison" section of
   ``RESULTS.md`` (other sections are left alone) are written from the records below.

Every finished run leaves a record, ``comparison_runs/<method>/seed<k>.json`` (tracked, a few KB: its
metrics, student/teacher facts and fingerprint), so that a comparison too long for one working session
(many CPU-hours on 2 cores) is spread over several: each session runs some methods and commits their
records, and a later one reuses them. The fingerprint is the resolved recipe (``out_dir`` aside), a sha256
of the weights of every teacher the run reads and one of the training manifest's transcripts; a record
whose fingerprint no longer matches (a retrained teacher, another budget) is not reused and is named.

``--teachers`` measures, once, every teacher the compared methods read: WER on dev and every test split and
the one-thread RTF, and the student's RTF (the baseline's seed-0 run under ``--work``); recorded as
``comparison_runs/_teachers/<name>.json`` and ``comparison_runs/_student_rtf.json`` (see comparison_teachers.py).

Each run is ``speechdistill distill <method>.yaml out_dir=<work>/<method>/seed<k> train.seed=<k> ...``;
finished runs (a ``metrics.json``) are reused, interrupted ones resume with ``--resume``. ``--jobs N`` runs N
of them at once, each in its own process (log in ``<run>/run.log``; threads per process: cores / N) — on one
GPU the small students share it; on CPU, use it with one thread per run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the sibling modules, also when this file is loaded by path (the tests)
    sys.path.insert(0, str(HERE))

import comparison_teachers as teacher_facts  # noqa: E402
from comparison_report import render, target_verdict, verdicts, write_outputs  # noqa: E402
from comparison_teachers import weights_digest  # noqa: E402

SPLITS = ("dev", "test", "test_unseen_voices", "test_unseen_engine", "test_noisy")


class Scenario(NamedTuple):
    """One comparison setting: its methods are the recipes whose name starts with ``prefix`` (and no other
    scenario's longer prefix); ``target_ratio``: the best KD method's test WER against the baseline's."""

    title: str
    prefix: str
    baseline: str
    target_ratio: float


SCENARIOS = {"A": Scenario("labelled (every training transcript)", "", "hard_only", 0.8),
             "B": Scenario("10% labelled (a fixed 10% of the train split keeps its transcripts)", "labels10_",
                           "labels10_hard_only", 0.6)}


def scenario_of(method: str) -> str:
    """The key of the scenario a recipe belongs to, by its name."""
    return max((key for key, s in SCENARIOS.items() if method.startswith(s.prefix)),
               key=lambda key: len(SCENARIOS[key].prefix))


def _members(methods: list[str], key: str) -> list[str]:
    return [method for method in methods if scenario_of(method) == key]


def _method_order(name: str) -> tuple:
    return scenario_of(name), name != SCENARIOS[scenario_of(name)].baseline, name


# per scenario, baseline first; streaming_* recipes train a streaming student, compared among themselves
# (benchmarks/streaming.py)
METHODS = tuple(sorted((p.stem for p in HERE.glob("[!_]*.yaml") if not p.stem.startswith("streaming_")),
                       key=_method_order))
RECORDS = HERE / "comparison_runs"


def run_dir(work: Path, method: str, seed: int) -> Path:
    return work / method / f"seed{seed}"


def run_method(method: str, seed: int, work: Path, overrides: list[str], resume: bool, in_process: bool = True,
               records: Path = RECORDS) -> dict:
    """Train (or reuse) one run and record it; returns its record. ``in_process=False``: in a child process."""
    wanted = fingerprint(method, seed, overrides)
    record = read_record(records, method, seed)
    out = run_dir(work, method, seed)
    if record is not None and record["fingerprint"] == wanted:
        if "dev_curve" not in record and (out / "log.jsonl").is_file():  # a record written before curves were kept
            write_record(records, {**record, "dev_curve": dev_curve(out)})
            record = read_record(records, method, seed)
        return record
    metrics, found = out / "metrics.json", out / "fingerprint.json"
    if metrics.is_file() and found.is_file() and json.loads(found.read_text()) != wanted:
        changed = stale_parts(json.loads(found.read_text()), wanted)
        raise RuntimeError(f"{out} holds a run of other settings ({changed} changed): remove it or use another --work")
    if not metrics.is_file():
        from speechdistill.io import atomic_write_text

        run_overrides = [*overrides, f"out_dir={out}", f"train.seed={seed}"]
        resume = resume and (out / "checkpoints" / "last").is_dir()
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(found, json.dumps(wanted, indent=1))
        if in_process:
            from speechdistill.distill.training import distill_from_config

            distill_from_config(HERE / f"{method}.yaml", run_overrides, resume=resume)
        else:
            _run_child(HERE / f"{method}.yaml", run_overrides, resume, out)
    record = {"method": method, "seed": seed, "fingerprint": wanted, "metrics": json.loads(metrics.read_text()),
              "facts": run_facts(out), "hardware": hardware(), "dev_curve": dev_curve(out)}
    write_record(records, record)
    return record


def dev_curve(directory: Path) -> list[list[float]]:
    """[update, dev WER] at every evaluation of a run, from its log.jsonl."""
    from speechdistill.train.loop import read_log

    return [[row["update"], row["wer"]] for row in read_log(directory) if row.get("split") == "dev" and "wer" in row]


def resolved(method: str, overrides: list[str]):
    """A recipe of this folder, resolved with the overrides."""
    from speechdistill.distill.config import load_distill_config

    return load_distill_config(HERE / f"{method}.yaml", overrides)


def fingerprint(method: str, seed: int, overrides: list[str]) -> dict:
    """What makes two runs the same experiment: the resolved recipe (``out_dir`` aside), the weights of the
    teachers it reads (a hub id is taken by name) and the training transcripts."""
    from speechdistill.config import config_to_dict
    from speechdistill.distill.plan import plan_recipe

    config = resolved(method, [*overrides, f"train.seed={seed}"])
    recipe = config_to_dict(config)
    recipe.pop("out_dir", None)
    teachers = {}
    for name in sorted(plan_recipe(config).requests):
        spec = Path(config.teachers[name].spec)
        teachers[name] = weights_digest(str(spec))
    manifest = Path(config.data.train)
    texts = [json.loads(line).get("text", "") for line in manifest.read_text().splitlines() if line.strip()] \
        if manifest.is_file() else [f"missing:{manifest}"]
    return {"recipe": hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16],
            "teachers": teachers, "train_texts": hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]}


def stale_parts(old: dict, new: dict) -> str:
    """Which parts of a fingerprint differ, in words."""
    parts = [key for key in ("recipe", "train_texts") if old.get(key) != new.get(key)]
    parts += [f"teacher {name}" for name in sorted(set(old.get("teachers", {})) | set(new.get("teachers", {})))
              if old.get("teachers", {}).get(name) != new.get("teachers", {}).get(name)]
    return ", ".join(parts) or "nothing"


def record_path(records: Path, method: str, seed: int) -> Path:
    """Where the record of one finished run lives."""
    return records / method / f"seed{seed}.json"


def read_record(records: Path, method: str, seed: int) -> dict | None:
    path = record_path(records, method, seed)
    return json.loads(path.read_text()) if path.is_file() else None


def write_record(records: Path, record: dict) -> None:
    from speechdistill.io import atomic_write_text

    path = record_path(records, record["method"], record["seed"])
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(record, indent=1) + "\n")


def _run_child(recipe: Path, overrides: list[str], resume: bool, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "speechdistill", "distill", str(recipe), *overrides, *(["--resume"] if resume else [])]
    with open(out / "run.log", "w") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
    if done.returncode != 0:
        tail = (out / "run.log").read_text().strip().splitlines()[-1:] or [""]
        raise RuntimeError(f"{recipe.stem} ({out}) failed with exit code {done.returncode}: {tail[0]} "
                           f"(log: {out / 'run.log'})")


def run_all(runs: list[tuple[str, int]], work: Path, overrides: list[str], resume: bool, jobs: int,
            records: Path = RECORDS) -> None:
    """Every (method, seed) run: one after another in this process, or ``jobs`` child processes at once."""
    if jobs <= 1:
        for method, seed in runs:
            run_method(method, seed, work, overrides, resume, records=records)
        return
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
    with ThreadPoolExecutor(jobs) as pool:
        for future in [pool.submit(run_method, m, s, work, overrides, resume, False, records) for m, s in runs]:
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


def summarise(method: str, runs: dict[int, dict], facts: dict, hardware_note: str,
              curves_by_seed: dict[int, list] | None = None) -> dict:
    curves_by_seed = curves_by_seed or {}
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
    curves = [dict(map(tuple, curves_by_seed[s])) for s in seeds if curves_by_seed.get(s)]
    shared = sorted(set.intersection(*(set(c) for c in curves))) if curves else []
    row["dev_curve"] = [[update, statistics.fmean(c[update] for c in curves)] for update in shared]
    return row


def levelling(row: dict) -> dict | None:
    """How much a method's (seed-mean) dev WER still moved over the last quarter of the budget."""
    curve = row.get("dev_curve") or []
    if len(curve) < 2:
        return None
    last_update, last_wer = curve[-1]
    start_update, start_wer = min(curve, key=lambda point: abs(point[0] - 0.75 * last_update))
    change = (last_wer - start_wer) / max(start_wer, 1e-9)
    return {"from_update": start_update, "from_dev_wer": start_wer, "to_update": last_update, "to_dev_wer": last_wer,
            "relative_change": change}


def best_kd(methods: dict[str, dict], baseline: str) -> str | None:
    """The method other than the baseline with the lowest (seed-mean) dev WER."""
    kd = {name: row["dev_wer"] for name, row in methods.items() if name != baseline and "dev_wer" in row}
    return min(kd, key=kd.get) if kd else None


def collect(records: Path, methods: list[str], overrides: list[str], budget: str) -> dict:
    """The comparison from the records (and teacher facts) whose fingerprint matches these settings; stale ones
    are named."""
    rows, stale, machines = {}, [], []
    for method in methods:
        used = []
        for path in sorted((records / method).glob("seed*.json")):
            record = json.loads(path.read_text())
            current = fingerprint(method, record["seed"], overrides)
            if record["fingerprint"] == current:
                used.append(record)
            else:
                stale.append(f"{method}/seed{record['seed']} ({stale_parts(record['fingerprint'], current)} changed)")
        if used:
            where = "; ".join(dict.fromkeys(r["hardware"] for r in used))
            rows[method] = summarise(method, {r["seed"]: r["metrics"] for r in used}, used[0]["facts"], where,
                                     {r["seed"]: r.get("dev_curve") for r in used})
            machines += [r["hardware"] for r in used]
    baseline = resolved(SCENARIOS["A"].baseline, overrides)
    teachers, student = teacher_facts.read_facts(
        records, teacher_facts.compared_teachers([resolved(m, overrides) for m in methods]), baseline, stale)
    for row in rows.values():
        row.update(teacher_facts.teacher_relative(row, teachers, student))
        measured = [teachers[name].get("params") for name in row["teachers"] if name in teachers]
        if measured and all(measured):  # parameters in use, where the safetensors count sees a head alone
            row["teacher_params"] = max(measured)
    if stale:
        print(f"not reused (stale records): {', '.join(stale)}", file=sys.stderr)
    comparison = {"budget": budget, "hardware": "; ".join(dict.fromkeys(machines)) or hardware(),
                  "teachers": teachers, "student_rtf": student, "scenarios": by_scenario(rows, methods)}
    return {**comparison, "verdicts": verdicts(comparison)}


def by_scenario(rows: dict[str, dict], methods: list[str]) -> dict:
    """The rows grouped by scenario (those with a compared method), each with its baseline and best KD method."""
    scenarios = {}
    for key, scenario in SCENARIOS.items():
        members = _members(methods, key)
        if not members:
            continue
        found = {m: rows[m] for m in members if m in rows}
        entry = {"title": scenario.title, "baseline": scenario.baseline,
                 "best_method": best_kd(found, scenario.baseline), "target_ratio": scenario.target_ratio,
                 "levelling": levelling(found[scenario.baseline]) if scenario.baseline in found else None,
                 "methods": found}
        scenarios[key] = {**entry, "verdict": target_verdict(entry)}
    return scenarios


def describe_budget(overrides: list[str]) -> str:
    """The budget every run shares, in words, from the resolved hard_only recipe (plus the overrides given)."""
    config = resolved(SCENARIOS["A"].baseline, overrides)
    train, augment = config.train, config.augment
    hours = train.max_updates * train.batch_seconds / 3600
    text = (f"{train.max_updates} updates of {train.batch_seconds:g} s of padded audio (~{hours:.0f} h; lr "
            f"{train.lr:g}, {train.warmup_updates} warm-up updates), student {config.student.family} "
            f"{config.student.size}, speed factors {list(augment.speed_factors)}")
    return text + (f"; overrides: `{' '.join(overrides)}`" if overrides else "")


def planned_runs(methods: list[str], comparison: dict, seeds: int) -> list[tuple[str, int]]:
    """Every run the comparison needs: seed 0 of each method, then per scenario seeds 1..N-1 of its baseline
    and of its best KD method (known once every seed-0 run of the scenario is in)."""
    runs = [(method, 0) for method in methods]
    for key, scenario in comparison["scenarios"].items():
        members = _members(methods, key)
        chosen = (scenario["baseline"], scenario["best_method"]) if _seed0_done(scenario, members) \
            else (scenario["baseline"],)
        runs += [(method, seed) for method in dict.fromkeys(chosen) if method in members for seed in range(1, seeds)]
    return runs


def _seed0_done(scenario: dict, members: list[str]) -> bool:
    """Whether every method of the scenario has a recorded run (so its best KD method is known)."""
    return all(method in scenario["methods"] for method in members)


def missing_runs(methods: list[str], comparison: dict, seeds: int) -> list[str]:
    """The runs still to do, and per scenario still waiting on seed 0, the later seeds it will need."""
    scenarios = comparison["scenarios"]
    have = {(m, s) for scenario in scenarios.values() for m, row in scenario["methods"].items() for s in row["seeds"]}
    missing = [f"{m}:{s}" for m, s in planned_runs(methods, comparison, seeds) if (m, s) not in have]
    for key, scenario in scenarios.items():
        if seeds > 1 and not _seed0_done(scenario, _members(methods, key)):
            missing.append(f"seeds 1..{seeds - 1} of scenario {key}'s best KD method")
    return missing


def parse_only(items: list[str], methods: list[str]) -> list[tuple[str, int]]:
    runs = []
    for item in items:
        method, _, seed = item.partition(":")
        if method not in methods or (seed and not seed.isdigit()):
            raise SystemExit(f"--only {item}: expected METHOD or METHOD:SEED with METHOD one of {', '.join(methods)}")
        runs.append((method, int(seed or 0)))
    return runs


def _finished_as(run: Path, wanted: dict) -> bool:
    """A finished run in the work folder made with these settings."""
    found = run / "fingerprint.json"
    return (run / "best").is_dir() and found.is_file() and json.loads(found.read_text()) == wanted


def measure_teachers(methods: list[str], overrides: list[str], records: Path, work: Path, seeds: int) -> None:
    """``--teachers``: the facts of every teacher the methods read, and the RTF of a finished baseline student
    (every student shares one architecture): scenario A's lowest finished seed, else another scenario's."""
    baselines = [SCENARIOS[key].baseline for key in SCENARIOS if _members(methods, key)]
    finished = (run_dir(work, b, seed) for b in baselines for seed in range(seeds)
                if _finished_as(run_dir(work, b, seed), fingerprint(b, seed, overrides)))
    student = next((run / "best" for run in finished), None)  # stops at the first: each check hashes the data
    teacher_facts.measure([resolved(m, overrides) for m in methods], resolved(SCENARIOS["A"].baseline, overrides),
                          records, student)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="key=value overrides for every run (budget, data, teachers)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds for each scenario's baseline and best KD recipe")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS, help="the methods compared")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--only", nargs="+", default=None, metavar="METHOD[:SEED]",
                      help="run just these now (a share of a comparison spread over sessions), then render")
    parser.add_argument("--work", type=Path, default=Path("runs/compare"))
    parser.add_argument("--records", type=Path, default=RECORDS, help="where finished runs are recorded")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, each in its own process")
    what.add_argument("--render-only", action="store_true", help="only rewrite the outputs from the records")
    what.add_argument("--teachers", action="store_true",
                      help="measure the teachers' WER and one-thread RTF and the student's (once), then render")
    parser.add_argument("--json", type=Path, default=HERE / "comparison.json", help=argparse.SUPPRESS)
    parser.add_argument("--results-md", type=Path, default=HERE / "RESULTS.md", help=argparse.SUPPRESS)
    parser.add_argument("--readme", type=Path, default=None, help=argparse.SUPPRESS)  # default: see below
    args = parser.parse_args(argv)
    budget = describe_budget(args.overrides)

    def go(runs: list[tuple[str, int]]) -> None:
        run_all(runs, args.work, args.overrides, args.resume, args.jobs, args.records)

    if args.teachers:
        measure_teachers(args.methods, args.overrides, args.records, args.work, args.seeds)
    elif args.only:
        go(parse_only(args.only, args.methods))
    elif not args.render_only:
        go([(method, 0) for method in args.methods])
        seed0 = collect(args.records, args.methods, args.overrides, budget)
        go(planned_runs(args.methods, seed0, args.seeds)[len(args.methods):])
    comparison = collect(args.records, args.methods, args.overrides, budget)
    comparison["missing_runs"] = missing_runs(args.methods, comparison, args.seeds)
    # the repository's README summarises the repository's records only (a comparison kept elsewhere leaves it be)
    readme = args.readme or (HERE.parents[1] / "README.md" if args.records == RECORDS else None)
    write_outputs(comparison, args.json, args.results_md, readme)
    print(render(comparison))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The demo's report: ``REPORT.md`` in the run folder and, for the full demo, the "Demo" section of
``recipes/synthetic_commands/RESULTS.md`` (the "Method comparison" section there is left alone)."""

from __future__ import annotations

import json
import platform
from pathlib import Path

from ..bench.report import manifest_tables
from ..io import atomic_write_text
from ..markdown import replace_section
from .settings import REPO, finished_comparison

RESULTS_MD = REPO / "recipes" / "synthetic_commands" / "RESULTS.md"
START, END = "<!-- demo:start -->", "<!-- demo:end -->"


def ranking(hard: dict, best: dict, split: str = "test") -> str:
    """'kd' when the KD student has the lower WER on ``split``, 'hard_only' otherwise."""
    return "kd" if best["wer"][split] < hard["wer"][split] else "hard_only"


def comparison_ranking(best_method: str) -> str | None:
    """The same ranking read off ``comparison.json`` (mean test WER), None while there is no finished one."""
    comparison = finished_comparison()
    if comparison is None:
        return None
    methods = comparison["methods"]
    if "hard_only" not in methods or best_method not in methods:
        return None
    return "kd" if methods[best_method]["test_wer"] < methods["hard_only"]["test_wer"] else "hard_only"


def demo_section(outputs: dict, wall_s: float, settings_line: str, bench: dict, agreement: str) -> str:
    hard, best = outputs["students"]["hard_only"], outputs["students"]["best"]
    splits = list(hard["wer"])
    rows = "\n".join(f"| {o['method']} | " + " | ".join(f"{o['wer'][s] * 100:.1f}" for s in splits)
                     + f" | {o['updates']} | {o['audio_hours_seen']:.2f} |" for o in (hard, best))
    return f"""{START}
## Demo

Written by `speechdistill demo` (do not edit by hand). {settings_line}
Wall time {wall_s / 60:.1f} min on {platform.machine()} with {_cores()} CPU cores.

Students (PyTorch, greedy decoding, WER % on the demo corpus's splits):

| student | {' | '.join(splits)} | updates | audio h |
|---|{'---|' * (len(splits) + 2)}
{rows}

Ranking of `hard_only` against `{best['method']}` on test: {agreement}

Benchmark of the teachers, both students, the exported bundle (int8 and fp32) and the peers (PocketSphinx, Whisper through faster-whisper):

{manifest_tables(bench, '###')}
{END}"""


def teachers_line(teachers: dict) -> str:
    """Where each teacher came from: shipped with the repository or trained by this demo run."""
    parts = []
    for name, info in teachers.items():
        where = "trained by this demo run" if info.get("trained_here") else "shipped"
        path = Path(info["path"])
        shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        parts.append(f"`{name}` {where} (`{shown}`)")
    return ("Teachers: " + ", ".join(parts) + ".") if parts else "No teacher."


def _cores() -> int:
    import os

    return os.cpu_count() or 1


def write_demo_report(ctx) -> dict:
    outputs, settings = ctx.outputs, ctx.settings
    bench_dir = Path(outputs["bench"]["path"])
    bench = json.loads((bench_dir / "results.json").read_text())
    stages = [json.loads(p.read_text()) for p in sorted((ctx.out / "stages").glob("*.json"))]
    wall = sum(r["wall_s"] for r in stages)
    students = outputs["students"]
    demo = ranking(students["hard_only"], students["best"])
    reference = comparison_ranking(students["best"]["method"])
    agreement = (f"the demo ranks {'the KD student' if demo == 'kd' else 'hard_only'} first; "
                 + ("no method comparison to check against yet" if reference is None else
                    f"the method comparison {'agrees' if reference == demo else 'DISAGREES'}"))
    settings_line = (f"Corpus {settings.hours:g} h (seed {settings.seed}); each student {settings.updates} updates of "
                     f"{settings.batch_seconds:g} s of audio; student preset {settings.student_size}. "
                     + teachers_line(outputs["teachers"]["teachers"]))
    section = demo_section(outputs, wall, settings_line, bench, agreement)
    report = atomic_write_text(ctx.out / "REPORT.md", "# speechdistill demo\n\n" + section + "\n")
    if settings.write_results:
        text = RESULTS_MD.read_text() if RESULTS_MD.is_file() else "# Results: synthetic voice commands\n"
        atomic_write_text(RESULTS_MD, replace_section(text, START, END, section))
    return {"report": str(report), "plot": str(bench_dir / "pareto.png"), "bundle": outputs["export"]["path"],
            "ranking": demo, "comparison_ranking": reference, "wall_s": wall}

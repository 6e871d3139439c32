"""The method comparison's verdicts and outputs: the "Method comparison" section of RESULTS.md and comparison.png.

Everything here reads the comparison dict ``compare.py`` builds (the content of ``comparison.json``), nothing else.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

START, END = "<!-- comparison:start -->", "<!-- comparison:end -->"
README_START, README_END = "<!-- distillation:start -->", "<!-- distillation:end -->"  # the README's summary
COLUMNS = {"dev": "dev", "test": "test", "test_unseen_voices": "unseen voices", "test_unseen_engine": "unseen engine",
           "test_noisy": "noisy"}
WHISPER = "whisper"  # the teacher whose distillation the unseen-engine target is about
WHISPER_SPLIT = "test_unseen_engine"
WHISPER_CUT = 0.30  # the best Whisper-reading method's relative WER cut on that split against hard_only
SIZE_RATIO = 1 / 8  # the student against the smallest teacher, in parameters


def target_verdict(scenario: dict) -> dict | None:
    """The best KD method's test WER against the baseline's, and whether it meets the scenario's target."""
    methods, best, baseline = scenario["methods"], scenario["best_method"], scenario["baseline"]
    if not best or baseline not in methods or "test_wer" not in methods[best]:
        return None
    ratio = methods[best]["test_wer"] / max(methods[baseline]["test_wer"], 1e-9)
    return {"best_method": best, "test_ratio": ratio, "met": ratio <= scenario["target_ratio"]}


def whisper_verdict(scenario: dict | None) -> dict | None:
    """Of the scenario-A methods that read the Whisper teacher, the one that cuts the unseen-engine WER most
    against the baseline: its relative cut and whether it reaches ``WHISPER_CUT``."""
    if scenario is None or f"{WHISPER_SPLIT}_wer" not in scenario["methods"].get(scenario["baseline"], {}):
        return None
    base = scenario["methods"][scenario["baseline"]][f"{WHISPER_SPLIT}_wer"]
    cuts = {name: 1 - row[f"{WHISPER_SPLIT}_wer"] / max(base, 1e-9) for name, row in scenario["methods"].items()
            if WHISPER in row.get("teachers", {}) and f"{WHISPER_SPLIT}_wer" in row}
    if not cuts:
        return None
    best = max(cuts, key=cuts.get)
    return {"methods": sorted(cuts), "best_method": best, "relative_cut": cuts[best], "target_cut": WHISPER_CUT,
            "met": cuts[best] >= WHISPER_CUT}


def size_verdict(comparison: dict) -> dict | None:
    """The student's parameters against the smallest teacher's parameters in use, from the measured teacher facts
    (``compare.py --teachers``); None before they exist (a run record's safetensors count sees the whisper-ctc
    head alone, not the encoder it runs on, so it cannot judge the ratio)."""
    rows = [row for scenario in comparison["scenarios"].values() for row in scenario["methods"].values()]
    measured = {name: t["params"] for name, t in comparison.get("teachers", {}).items() if t.get("params")}
    if not rows or not measured:
        return None
    teacher = min(measured, key=measured.get)
    ratio = rows[0]["params"] / measured[teacher]
    return {"student_params": rows[0]["params"], "teacher": teacher, "teacher_params": measured[teacher],
            "ratio": ratio, "target_ratio": SIZE_RATIO, "met": ratio <= SIZE_RATIO}


def verdicts(comparison: dict) -> dict:
    """The cross-scenario verdicts (the per-scenario targets live in each scenario's ``verdict``)."""
    return {"whisper_unseen_engine": whisper_verdict(comparison["scenarios"].get("A")),
            "student_size": size_verdict(comparison)}


def _wer_cell(row: dict, split: str) -> str:
    if f"{split}_wer" not in row:
        return "-"
    per_seed = row[f"{split}_wer_per_seed"]
    extra = f" ({', '.join(f'{v * 100:.1f}' for v in per_seed)})" if len(per_seed) > 1 else ""
    return f"{row[f'{split}_wer'] * 100:.1f}{extra}"


def _millions(count: int | None) -> str:
    return f"{count / 1e6:.2f}M" if count else "-"


def teachers_table(comparison: dict) -> list[str]:
    """One row per teacher the compared methods read: its WER per split and one-thread RTF ('-' unmeasured)."""
    teachers, student = comparison.get("teachers") or {}, comparison.get("student_rtf")
    if not teachers:
        return []
    lines = ["| teacher | decoding | params | " + " | ".join(COLUMNS.values()) + " | one-thread RTF |",
             "|---|" + "---|" * (len(COLUMNS) + 3)]
    for name, facts in teachers.items():
        wer = facts.get("wer", {})
        cells = [f"{wer[split] * 100:.1f}" if split in wer else "-" for split in COLUMNS]
        rtf = f"{facts['rtf_1thread']['median']:.4f}" if "rtf_1thread" in facts else "-"
        lines.append(f"| {name} (`{facts['spec']}`) | {facts['decoding']} | {_millions(facts.get('params'))} | "
                     + " | ".join(cells) + f" | {rtf} |")
    timing = student["rtf_1thread"] if student else None
    lines += ["", "Teachers scored on every split (dev: the first `data.dev_max_utterances`, as in training); RTF: "
              "batch 1 on one CPU thread, median over the same test utterances for teachers and student"
              + (f" ({timing['utterances']}, on {student['cpu']}); the student's: {timing['median']:.4f}."
                 if timing else "; the student's is not measured yet.")
              + (" Measure them with `compare.py --teachers`." if not all("wer" in t for t in teachers.values())
                 or not timing else "")]
    return lines


def scenario_tables(scenario: dict, teacher_names: list[str]) -> list[str]:
    """The WER table of one scenario, then its test WER relative to each teacher and the RTF ratios."""
    lines = ["| method | " + " | ".join(COLUMNS.values()) + " | seeds | params | teacher params |",
             "|---|" + "---|" * (len(COLUMNS) + 3)]
    for name, row in scenario["methods"].items():
        lines.append(f"| {name} | " + " | ".join(_wer_cell(row, split) for split in COLUMNS)
                     + f" | {len(row['seeds'])} | {_millions(row['params'])} | "
                     f"{_millions(row.get('teacher_params'))} |")
    if not teacher_names or not scenario["methods"]:
        return lines
    lines += ["", "| method | " + " | ".join(f"test WER / {t}'s" for t in teacher_names)
              + " | " + " | ".join(f"{t}'s RTF / student's" for t in teacher_names) + " |",
              "|---|" + "---|" * (2 * len(teacher_names))]
    for name, row in scenario["methods"].items():
        relative = [row.get("relative_to_teacher", {}).get(t, {}).get("test") for t in teacher_names]
        speed = [row.get("rtf_ratio", {}).get(t) for t in teacher_names]
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" if v is not None else "-" for v in relative) + " | "
                     + " | ".join(f"{v:.1f}x" if v is not None else "-" for v in speed) + " |")
    return lines


def scenario_lines(key: str, scenario: dict) -> list[str]:
    """The verdict and the budget line of one scenario."""
    baseline, verdict, lines = scenario["baseline"], scenario.get("verdict"), []
    if verdict:
        lines.append(f"Scenario {key} target: the best KD recipe by dev WER, `{verdict['best_method']}`, has "
                     f"{verdict['test_ratio']:.2f}x {baseline}'s test WER (target <= {scenario['target_ratio']}x): "
                     f"{'met' if verdict['met'] else 'not met'}.")
    else:
        lines.append(f"Scenario {key} target (best KD recipe's test WER <= {scenario['target_ratio']}x "
                     f"{baseline}'s): not judged yet, runs missing.")
    level = scenario.get("levelling")
    if level:
        lines.append(f"Budget: over its last quarter {baseline}'s dev WER still moved "
                     f"{level['relative_change'] * 100:+.1f}% relative ({level['from_dev_wer'] * 100:.1f}% at update "
                     f"{level['from_update']} -> {level['to_dev_wer'] * 100:.1f}% at {level['to_update']}).")
    return lines


def cross_lines(comparison: dict) -> list[str]:
    """The Whisper unseen-engine verdict and the student-size check."""
    lines, found = [], comparison.get("verdicts") or {}
    whisper = found.get("whisper_unseen_engine")
    if whisper:
        lines.append(f"Distillation from Whisper cuts {WHISPER_SPLIT} WER by >= {WHISPER_CUT:.0%} relative against "
                     f"hard_only: best of {', '.join(f'`{m}`' for m in whisper['methods'])} is "
                     f"`{whisper['best_method']}`, {whisper['relative_cut'] * 100:+.1f}% cut: "
                     f"{'met' if whisper['met'] else 'not met'}.")
    elif "A" in comparison["scenarios"]:
        lines.append(f"Distillation from Whisper cuts {WHISPER_SPLIT} WER by >= {WHISPER_CUT:.0%} relative against "
                     "hard_only: not judged yet (no scenario-A method reading the Whisper teacher has run).")
    size = found.get("student_size")
    if size:
        lines.append(f"Student size: {_millions(size['student_params'])} parameters, {size['ratio']:.3f} of the "
                     f"smallest teacher's ({size['teacher']}, {_millions(size['teacher_params'])} in use; "
                     f"target <= 1/8): {'met' if size['met'] else 'not met'}.")
    elif any(scenario["methods"] for scenario in comparison["scenarios"].values()):
        lines.append("Student size against the smallest teacher (target <= 1/8): not judged yet (the teachers' "
                     "parameters in use are measured by `compare.py --teachers`).")
    return lines


def render(comparison: dict) -> str:
    """The "Method comparison" section of RESULTS.md, between its markers."""
    teachers = list(comparison.get("teachers") or {})
    lines = [START, "## Method comparison", "",
             f"Written by `python recipes/synthetic_commands/compare.py` (do not edit by hand). Budget: "
             f"{comparison['budget']}. Hardware: {comparison['hardware']}. WER in %, greedy decoding; over several "
             "seeds the mean, per-seed values in brackets.", ""]
    table = teachers_table(comparison)
    if table:
        lines += ["### Teachers", "", *table, ""]
    for key, scenario in comparison["scenarios"].items():
        lines += [f"### Scenario {key}: {scenario['title']}", "", *scenario_tables(scenario, teachers)]
        lines += [part for line in scenario_lines(key, scenario) for part in ("", line)]
        lines.append("")
    lines += [part for line in cross_lines(comparison) for part in (line, "")][:-1]
    if comparison.get("plot"):
        lines += ["", f"![dev WER by update, every method]({comparison['plot']})"]
    if comparison.get("missing_runs"):
        lines += ["", f"Incomplete: still to run {', '.join(comparison['missing_runs'])} "
                  "(`compare.py` with the same overrides picks up from the records)."]
    lines.append(END)
    return "\n".join(lines)


def write_plot(path: Path, comparison: dict) -> Path:
    """Dev WER against updates, one panel per scenario, one line per method (seed mean; the baseline black and
    thick), drawn on matplotlib's Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from speechdistill.io import atomic_write

    scenarios = comparison["scenarios"]
    figure = Figure(figsize=(6.5 * len(scenarios), 4.5), dpi=120)
    FigureCanvasAgg(figure)
    for index, (key, scenario) in enumerate(scenarios.items()):
        axes = figure.add_subplot(1, len(scenarios), index + 1)
        for name, row in scenario["methods"].items():
            curve = row.get("dev_curve") or []
            if curve:
                baseline = name == scenario["baseline"]
                style = {"color": "black", "linewidth": 2.5, "zorder": 3} if baseline else {"linewidth": 1}
                axes.plot([u for u, _ in curve], [w * 100 for _, w in curve], marker=".", label=name, **style)
        axes.set_xlabel("update")
        axes.set_ylabel("dev WER (%)")
        axes.set_ylim(0, 110)
        axes.set_title(f"Scenario {key}: {scenario['title']}", fontsize=8)
        axes.grid(True, alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize=7)
    figure.suptitle(f"Method comparison, dev WER by update ({comparison['hardware']})", fontsize=8)
    figure.tight_layout()
    return atomic_write(path, lambda tmp: figure.savefig(str(tmp), format="png"))


def _seeds(row: dict) -> str:
    return f" ({len(row['seeds'])} seeds)" if len(row["seeds"]) > 1 else ""


def scenario_summary(scenario: dict) -> str:
    """One sentence: the baseline's and the best KD recipe's test WER and the target, or what is missing."""
    methods, baseline, verdict = scenario["methods"], scenario["baseline"], scenario["verdict"]
    head = f"**{scenario['title'][0].upper()}{scenario['title'][1:]}:** "
    if baseline not in methods:
        return head + f"not measured yet (`{baseline}` has not run)."
    base = methods[baseline]
    text = head + f"`{baseline}` {base['test_wer'] * 100:.1f}% test WER{_seeds(base)}"
    if verdict is None:
        return text + "; no KD recipe has run yet."
    best = methods[verdict["best_method"]]
    return (text + f"; the best KD recipe by dev WER, `{verdict['best_method']}`, {best['test_wer'] * 100:.1f}%"
            f"{_seeds(best)}: {verdict['test_ratio']:.2f}x (target <= {scenario['target_ratio']:g}x, "
            f"{'met' if verdict['met'] else 'not met'}), out of {len(methods) - 1} KD recipes run.")


def readme_summary(comparison: dict) -> str:
    """The README's "what distillation buys" lines (between their markers), from the comparison alone."""
    lines = [README_START,
             "What distillation buys, as measured so far by `python recipes/synthetic_commands/compare.py` (written by "
             f"it; do not edit by hand). Every student has the same budget: "
             f"{comparison['budget'].split('; overrides')[0]}; trained on {comparison['hardware']}.", ""]
    lines += [f"- {scenario_summary(scenario)}" for scenario in comparison["scenarios"].values()]
    whisper = (comparison.get("verdicts") or {}).get("whisper_unseen_engine")
    if whisper:
        base = comparison["scenarios"]["A"]["methods"][comparison["scenarios"]["A"]["baseline"]]
        best = comparison["scenarios"]["A"]["methods"][whisper["best_method"]]
        lines.append(f"- **On the voice engine no student heard** ({WHISPER_SPLIT}): `hard_only` "
                     f"{base[f'{WHISPER_SPLIT}_wer'] * 100:.1f}%, the best recipe reading Whisper, "
                     f"`{whisper['best_method']}`, {best[f'{WHISPER_SPLIT}_wer'] * 100:.1f}% "
                     f"({whisper['relative_cut'] * 100:+.1f}% cut; target >= {WHISPER_CUT:.0%}, "
                     f"{'met' if whisper['met'] else 'not met'}).")
    missing = comparison.get("missing_runs") or []
    lines.append(f"- **Still to run:** {', '.join(missing)}." if missing else "- Every planned run is in.")
    lines += ["", "Tables, curves and the teachers' own WER: "
              "[recipes/synthetic_commands/RESULTS.md](recipes/synthetic_commands/RESULTS.md).", README_END]
    return "\n".join(lines)


def write_outputs(comparison: dict, json_path: Path, results_md: Path, readme: Path | None = None) -> None:
    """comparison.json, comparison.png beside it (when some run logged a dev curve), the RESULTS.md section and,
    given a README holding the distillation markers, its summary."""
    from speechdistill.io import atomic_write_text
    from speechdistill.markdown import replace_section

    plot = json_path.with_suffix(".png")
    rows = [row for scenario in comparison["scenarios"].values() for row in scenario["methods"].values()]
    if any(row.get("dev_curve") for row in rows):
        write_plot(plot, comparison)
        comparison = {**comparison, "plot": os.path.relpath(plot, results_md.parent)}
    atomic_write_text(json_path, json.dumps(comparison, indent=2) + "\n")
    text = results_md.read_text() if results_md.is_file() else "# Results: synthetic voice commands\n"
    atomic_write_text(results_md, replace_section(text, START, END, render(comparison)))
    if readme is not None and readme.is_file() and README_START in (readme_text := readme.read_text()):
        atomic_write_text(readme, replace_section(readme_text, README_START, README_END, readme_summary(comparison)))

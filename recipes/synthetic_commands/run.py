"""Run distillation recipes of this folder and print their word error rates as a Markdown table.

Usage:
    python recipes/synthetic_commands/run.py frame_kl [key=value ...] [--resume]
    python recipes/synthetic_commands/run.py --all [key=value ...] [--resume]

A recipe is named by its file stem (``frame_kl`` -> ``frame_kl.yaml`` beside this script) or given as a
path. One recipe is the same as ``speechdistill distill recipes/synthetic_commands/frame_kl.yaml ...``;
``--all`` runs every recipe in turn with the same overrides (each writes its own ``out_dir``), then
prints one row of WERs per method from each run's ``metrics.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from speechdistill.distill.config import load_distill_config
from speechdistill.distill.training import distill_from_config

HERE = Path(__file__).resolve().parent


def recipe_path(name: str) -> Path:
    """``name`` as a path if it is one, else ``<name>.yaml`` in this folder."""
    path = Path(name)
    return path if path.suffix in (".yaml", ".yml") else HERE / f"{name}.yaml"


def all_recipes() -> list[Path]:
    """Every runnable recipe here (``_*.yaml`` are shared fragments)."""
    return sorted(p for p in HERE.glob("*.yaml") if not p.name.startswith("_"))


def results_table(metrics: dict[str, dict]) -> str:
    """Markdown table: one row per method, one WER column per split (from each run's metrics.json)."""
    splits = list(dict.fromkeys(split for m in metrics.values() for split in m["wer"]))
    lines = ["| method | " + " | ".join(splits) + " | updates | audio h |",
             "|---|" + "---|" * (len(splits) + 2)]
    for method, m in metrics.items():
        cells = [f"{m['wer'][s] * 100:.1f}%" if s in m["wer"] else "-" for s in splits]
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {m['updates']} | {m['audio_hours_seen']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", nargs="?", help="recipe name (file stem) or path; omit with --all")
    parser.add_argument("overrides", nargs="*", help="key=value overrides for every recipe run")
    parser.add_argument("--all", action="store_true", help="run every recipe in this folder")
    parser.add_argument("--resume", action="store_true", help="continue each run from its last checkpoint")
    args = parser.parse_args(argv)
    if args.all == (args.recipe is not None and "=" not in args.recipe):
        parser.error("name one recipe or pass --all")
    overrides = ([args.recipe] if args.all and args.recipe else []) + args.overrides
    recipes = all_recipes() if args.all else [recipe_path(args.recipe)]
    metrics = {}
    for path in recipes:
        distill_from_config(path, overrides, resume=args.resume)
        out_dir = Path(load_distill_config(path, overrides).out_dir)
        metrics[path.stem] = json.loads((out_dir / "metrics.json").read_text())
    print(results_table(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())

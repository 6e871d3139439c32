"""Run a LibriSpeech recipe end to end: teacher-output caches, then distillation, on 1 or 8 GPUs.

    python recipes/librispeech/run.py recipes/librispeech_wav2vec2 [--gpus 8] [--stage cache|distill|all]
                                      [--dry-run] [--resume] [key=value ...]

A recipe folder holds ``recipe.yaml`` (a ``speechdistill distill`` recipe with ``teacher_source: cache``).
Each teacher it caches has a ``cache_<teacher>.yaml`` (``speechdistill cache-teacher`` settings: what to
keep), looked up in the recipe folder first and then here, so recipes sharing a teacher share its cache.
The cache configs name no teacher, manifest or output folder: those come from the recipe
(``teachers.<name>.spec``, ``data.train``, ``cache_dirs.<name>``), so one override such as
``teachers.w2v.spec=/models/my-w2v`` changes both stages.

With ``--gpus N > 1`` the cache is built by ``torchrun --nproc_per_node N`` (every rank takes every N-th
shard) and distillation runs under ``accelerate launch`` with ``recipes/librispeech/accelerate/
{1gpu,8gpu}.yaml`` (other counts: ``--num_processes N``); with one GPU or none, both run in this process.
``--dry-run`` prints the commands instead. Data first: ``python recipes/librispeech/prepare.py manifests``.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

from speechdistill.config import apply_overrides, parse_override
from speechdistill.distill.config import read_recipe

HERE = Path(__file__).resolve().parent
ACCELERATE = {1: HERE / "accelerate" / "1gpu.yaml", 8: HERE / "accelerate" / "8gpu.yaml"}
CACHE_PREFIX = "cache_"


def cache_configs(folder: Path, recipe: dict) -> dict[str, Path]:
    """Teacher name -> its ``cache_<name>.yaml`` (recipe folder first, then this folder) for every cached teacher."""
    found = {}
    for teacher in recipe.get("cache_dirs", {}):
        candidates = [folder / f"{CACHE_PREFIX}{teacher}.yaml", HERE / f"{CACHE_PREFIX}{teacher}.yaml"]
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            raise FileNotFoundError(f"no cache settings for teacher {teacher!r}: looked for "
                                    f"{' and '.join(str(c) for c in candidates)}")
        found[teacher] = path
    return found


def cache_overrides(recipe: dict, teacher: str, where: Path) -> list[str]:
    """The cache-teacher overrides that tie a cache config to the recipe (teacher, manifest, out_dir)."""
    spec = recipe.get("teachers", {}).get(teacher, {}).get("spec")
    out_dir = recipe.get("cache_dirs", {}).get(teacher)
    if spec is None or out_dir is None:
        raise ValueError(f"{where}: recipe needs teachers.{teacher}.spec and cache_dirs.{teacher} for "
                         f"{CACHE_PREFIX}{teacher}.yaml")
    return [f"teacher={spec}", f"manifest={recipe['data']['train']}", f"out_dir={out_dir}"]


def split_overrides(overrides: list[str]) -> tuple[list[str], list[str]]:
    """(recipe overrides, cache overrides): ``cache.<teacher>.key=value`` goes to that teacher's cache config."""
    recipe, cache = [], []
    for item in overrides:
        (cache if parse_override(item)[0][0] == "cache" else recipe).append(item)
    return recipe, cache


def cache_commands(folder: Path, recipe: dict, cache_extra: list[str], gpus: int) -> list[list[str]]:
    commands = []
    for teacher, path in cache_configs(folder, recipe).items():
        own = [item.split(".", 2)[2] for item in cache_extra if item.startswith(f"cache.{teacher}.")]
        args = [str(path), *cache_overrides(recipe, teacher, folder), *own]
        if gpus > 1:
            commands.append(["torchrun", f"--nproc_per_node={gpus}", "-m", "speechdistill", "cache-teacher", *args])
        else:
            commands.append(["speechdistill", "cache-teacher", *args])
    return commands


def distill_command(recipe_path: Path, overrides: list[str], gpus: int, resume: bool) -> list[str]:
    tail = [str(recipe_path), *overrides, *(["--resume"] if resume else [])]
    if gpus <= 1:
        return ["speechdistill", "distill", *tail]
    config = ACCELERATE.get(gpus)
    launch = ["accelerate", "launch", "--config_file", str(config)] if config else [
        "accelerate", "launch", "--multi_gpu", f"--num_processes={gpus}", "--mixed_precision=bf16"]
    return [*launch, "-m", "speechdistill", "distill", *tail]


def run(command: list[str]) -> None:
    """In-process for plain ``speechdistill`` commands (same interpreter), a subprocess for launchers."""
    if command[0] == "speechdistill":
        from speechdistill.cli import main

        code = main(command[1:])
        if code:
            raise SystemExit(code)
    else:
        subprocess.run(command, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="recipe folder, e.g. recipes/librispeech_wav2vec2")
    parser.add_argument("overrides", nargs="*", help="key=value for the recipe; cache.<teacher>.key=value for a cache")
    parser.add_argument("--gpus", type=int, default=1, help="GPUs on this node (0: CPU)")
    parser.add_argument("--stage", choices=("cache", "distill", "all"), default="all")
    parser.add_argument("--resume", action="store_true", help="continue distillation from its last checkpoint")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    recipe_path = args.folder / "recipe.yaml"
    if not recipe_path.is_file():
        parser.error(f"{args.folder}: no recipe.yaml")
    recipe_overrides, cache_extra = split_overrides(args.overrides)
    recipe = apply_overrides(read_recipe(recipe_path), recipe_overrides)
    commands = []
    if args.stage in ("cache", "all") and recipe.get("teacher_source") == "cache":
        commands += cache_commands(args.folder, recipe, cache_extra, args.gpus)
    if args.stage in ("distill", "all"):
        commands.append(distill_command(recipe_path, recipe_overrides, args.gpus, args.resume))
    for command in commands:
        print("+ " + shlex.join(command), file=sys.stderr, flush=True)
        if not args.dry_run:
            run(command)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`speechdistill distill CONFIG.yaml [key=value ...] [--resume]`: distil teachers into a small CTC student."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``distill`` command."""
    parser = subparsers.add_parser("distill", help="distil teachers into a small CTC student")
    parser.add_argument("config", type=Path, help="distillation recipe YAML (e.g. recipes/synthetic_commands/*.yaml)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.max_updates=100")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in out_dir")
    parser.set_defaults(handler=_distill)


def _distill(args: argparse.Namespace) -> int:
    from ..distill.training import distill_from_config

    out = distill_from_config(args.config, args.overrides, resume=args.resume)
    print(f"student saved to {out}")
    return 0

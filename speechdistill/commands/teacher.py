"""`speechdistill teacher train CONFIG.yaml [key=value ...]`: train a teacher from scratch."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``teacher`` command group."""
    teacher = subparsers.add_parser("teacher", help="train teachers from scratch")
    sub = teacher.add_subparsers(dest="teacher_command", required=True, metavar="SUBCOMMAND")
    train = sub.add_parser("train", help="train a wav2vec2- or Whisper-architecture teacher")
    train.add_argument("config", type=Path, help="teacher recipe YAML")
    train.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.max_updates=100")
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint in out_dir")
    train.set_defaults(handler=_train)


def _train(args: argparse.Namespace) -> int:
    from ..teachers.training import train_teacher_from_config

    out = train_teacher_from_config(args.config, args.overrides, resume=args.resume)
    print(f"teacher saved to {out}")
    return 0

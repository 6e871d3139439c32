"""`speechdistill demo`: the whole pipeline on the embedded default, in one command."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` command."""
    demo = subparsers.add_parser("demo", help="synthesise a corpus, distil two students from the shipped teachers, "
                                              "export and benchmark them (~30 min on 2 CPU cores; --quick ~5)")
    demo.add_argument("--out", type=Path, default=Path("runs/demo"), help="run folder (default runs/demo)")
    demo.add_argument("--quick", action="store_true", help="a small corpus and short runs: minutes, not figures")
    demo.add_argument("--force", action="store_true", help="start over when --out holds other settings")
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from ..demo import FULL, QUICK, run_demo

    run_demo(args.out, QUICK if args.quick else FULL, force=args.force)
    return 0

"""`speechdistill bench CONFIG.yaml [key=value ...] [--quick]`: benchmark models, runtimes and peers."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bench`` command."""
    bench = subparsers.add_parser("bench", help="WER, speed, size and memory of models and peers on test manifests")
    bench.add_argument("config", type=Path, help="benchmark YAML, e.g. benchmarks/embedded.yaml")
    bench.add_argument("overrides", nargs="*", help="key=value overrides, e.g. max_utterances=50")
    bench.add_argument("--quick", action="store_true", help="smoke test: few utterances, one repeat")
    bench.set_defaults(handler=_bench)


def _bench(args: argparse.Namespace) -> int:
    from ..bench.runner import run_bench_file

    out = run_bench_file(args.config, args.overrides, quick=args.quick)
    print(f"results: {out / 'results.json'}  report: {out / 'report.md'}  plot: {out / 'pareto.png'}")
    return 0

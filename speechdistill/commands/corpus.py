"""`speechdistill corpus synth|stats`: build the synthetic speech corpus, describe a manifest."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``corpus`` command group."""
    corpus = subparsers.add_parser("corpus", help="build or describe speech corpora")
    sub = corpus.add_subparsers(dest="corpus_command", required=True, metavar="SUBCOMMAND")

    synth = sub.add_parser("synth", help="synthesise the offline voice-command corpus")
    synth.add_argument("--out", type=Path, required=True, help="output directory")
    synth.add_argument("--hours", type=float, default=1.0, help="total hours of audio over all splits")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--jobs", type=int, default=2, help="worker processes")
    synth.set_defaults(handler=_synth)

    stats = sub.add_parser("stats", help="hours, utterances, vocabulary and durations of a manifest")
    stats.add_argument("manifest", type=Path)
    stats.add_argument("--unlabelled", action="store_true", help="the manifest may omit text")
    stats.add_argument("--skip-bad", action="store_true", help="skip bad entries and write a report")
    stats.set_defaults(handler=_stats)


def _synth(args: argparse.Namespace) -> int:
    from ..data.synth import SynthOptions, build_corpus

    summary = build_corpus(SynthOptions(out=args.out, hours=args.hours, seed=args.seed, jobs=args.jobs))
    hours = ", ".join(f"{name} {split['hours']:.2f} h" for name, split in summary["splits"].items())
    print(f"corpus written to {args.out}: {hours}")
    return 0


def _stats(args: argparse.Namespace) -> int:
    from ..data.stats import format_stats, manifest_stats

    print(format_stats(manifest_stats(args.manifest, unlabelled=args.unlabelled, skip_bad=args.skip_bad)))
    return 0

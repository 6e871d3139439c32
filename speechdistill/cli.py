"""The ``speechdistill`` command line: parses arguments and hands them to library functions.

Each command group lives in ``speechdistill/commands/<group>.py`` and exposes ``register(subparsers)``;
this module only wires them together and turns expected errors into one-line messages.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__

# Command groups, in the order `--help` lists them. Each module exposes register(subparsers).
COMMAND_MODULES = ("demo", "corpus", "teacher", "evaluate", "cache", "bench", "distill", "export")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every command group registered."""
    parser = argparse.ArgumentParser(prog="speechdistill", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"speechdistill {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"speechdistill.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may follow flags (`teacher train R.yaml --resume a.b=1`): argparse stops
    # collecting a positional list at the first flag, so the rest arrive here.
    if extra and hasattr(args, "overrides") and all("=" in item and not item.startswith("-") for item in extra):
        args.overrides = [*args.overrides, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        result = args.handler(args)
    except (ValueError, FileNotFoundError, FileExistsError, KeyError) as exc:
        # Expected user errors (bad config, bad data, wrong directory kind) get one line, no traceback.
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"speechdistill {args.command}: error: {message}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())

"""Rewrite README.md's results block from the latest benchmark report (nothing typed by hand).

Usage:
    python benchmarks/update_readme.py [--readme README.md] [--results benchmarks/results/DATE_NAME]
                                       [--include-quick]

Without --results the newest folder under benchmarks/results/ is used (quick runs only with
--include-quick). The block between <!-- results:start --> and <!-- results:end --> is replaced with
the run's labels (corpus, CPU, threads, commit), one table per test manifest and the pareto.png link.
Exit status 2 when the README lacks the markers or there are no results.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from speechdistill.bench.readme import MarkersMissing, latest_results, update_readme

RESULTS_ROOT = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, rewrite the block, say what happened."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    parser.add_argument("--results", type=Path, help="a results folder (default: the newest one)")
    parser.add_argument("--results-root", type=Path, default=RESULTS_ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--include-quick", action="store_true", help="let a --quick run be the newest")
    args = parser.parse_args(argv)
    try:
        results = args.results or latest_results(args.results_root, args.include_quick)
        changed = update_readme(args.readme, results)
    except (MarkersMissing, FileNotFoundError) as exc:
        print(f"update_readme: error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.readme}: {'updated' if changed else 'already up to date'} from {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

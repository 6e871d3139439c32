"""Run a benchmark: WER/CER, one-thread RTF, RTFx, 5 s latency, size and peak memory of every model and peer.

Usage:
    python benchmarks/run.py benchmarks/embedded.yaml [key=value ...] [--quick]

The same as ``speechdistill bench CONFIG.yaml [key=value ...] [--quick]``. Writes results.json, report.md
and pareto.png into benchmarks/results/<YYYY-MM-DD>_<name>[-quick]/ and prints the paths. ``--quick``:
a smoke test with a few utterances and one repeat (not figures to quote). Run from the repository root.
"""

from __future__ import annotations

import sys

from speechdistill.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))

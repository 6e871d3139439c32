"""Benchmarks: WER/CER, on-device speed, size and memory of every model and runtime, beside peers.

``run_bench(config)`` (or ``speechdistill bench CONFIG.yaml``) writes ``results.json``, ``report.md``
and ``pareto.png`` into ``benchmarks/results/<date>_<name>/``. This package imports nothing heavy on
import, so the memory probe (:mod:`speechdistill.bench.memory`) starts from a lean baseline.
"""

from __future__ import annotations

from .config import BenchConfig, ModelSpec, PeerSettings, QuickSettings, load_bench_config

__all__ = ["BenchConfig", "ModelSpec", "PeerSettings", "QuickSettings", "load_bench_config", "run_bench",
           "run_bench_file"]


def __getattr__(name: str):
    # run_bench pulls in torch and the eval code: import it only when asked for.
    if name in ("run_bench", "run_bench_file"):
        from . import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

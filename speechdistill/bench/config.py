"""The benchmark recipe: which models, runtimes and test manifests, and how hard to time them.

Paths in the YAML are relative to the directory the command runs in (the repository root), like the
recipes under ``recipes/``. ``--quick`` swaps in the ``quick`` settings (few utterances, one repeat) for
smoke tests; its results go to a folder whose name ends in ``-quick``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..config import load_config

ROLES = ("teacher", "student", "peer")
DEFAULT_RUNTIMES = ("torch-fp32",)


@dataclass(frozen=True)
class ModelSpec:
    """One model to benchmark: a teacher or student directory (later an exported bundle), run on ``runtimes``."""

    name: str
    path: str
    role: Literal["teacher", "student", "peer"]
    runtimes: tuple[str, ...] = DEFAULT_RUNTIMES

    def __post_init__(self) -> None:
        if not self.name or not self.path:
            raise ValueError("a model needs a name and a path")
        if not self.runtimes:
            raise ValueError(f"model {self.name!r}: empty runtimes list")


@dataclass(frozen=True)
class PeerSettings:
    """Peers run on the same manifests. ``domain_lm``: also run PocketSphinx with an n-gram LM of order
    ``lm_order`` and a dictionary built from ``train_manifest``'s transcripts."""

    pocketsphinx: bool = True
    domain_lm: bool = False
    train_manifest: str | None = None
    lm_order: int = 3

    def __post_init__(self) -> None:
        if self.pocketsphinx and self.domain_lm and not self.train_manifest:
            raise ValueError("peers.domain_lm needs peers.train_manifest (the transcripts the LM is built from)")
        if self.lm_order < 1:
            raise ValueError(f"peers.lm_order must be 1 or more, got {self.lm_order}")


@dataclass(frozen=True)
class QuickSettings:
    """What ``--quick`` uses instead of the full settings."""

    max_utterances: int = 3
    warmup: int = 1
    repeats: int = 1
    memory_utterances: int = 1


@dataclass(frozen=True)
class BenchConfig:
    """A benchmark run.

    ``max_utterances``: the first N of each manifest (None: all). ``warmup``: untimed utterances before
    timing. ``threads``: threads of the batched RTFx run (0: every core); the real-time factor is always
    measured on one thread. ``repeats``: timed runs of the 5 s latency clip (median reported).
    ``batch_seconds``: padded audio per batch in the RTFx run. ``memory_utterances``: utterances the
    separate memory-probe process transcribes (``memory_probe`` false: memory is not measured). ``corpus``: the honest one-line description of the data.
    ``readme``: false keeps the run out of README.md's results block (``benchmarks/update_readme.py`` takes
    the newest run that allows it), for side benchmarks such as ``benchmarks/whisper_peers.yaml``.
    """

    name: str
    models: tuple[ModelSpec, ...]
    manifests: dict[str, str]
    corpus: str = "unspecified corpus"
    out_dir: str = "benchmarks/results"
    max_utterances: int | None = None
    warmup: int = 2
    threads: int = 0
    repeats: int = 3
    batch_seconds: float = 60.0
    memory_utterances: int = 5
    memory_probe: bool = True
    latency_seconds: float = 5.0
    normalizer: str = "default"
    readme: bool = True
    peers: PeerSettings = field(default_factory=PeerSettings)
    quick: QuickSettings = field(default_factory=QuickSettings)

    def __post_init__(self) -> None:
        if not self.manifests:
            raise ValueError("manifests: at least one test manifest is needed")
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"models: duplicate model names in {names}")
        _require_positive(max_utterances=self.max_utterances or 1, repeats=self.repeats,
                          batch_seconds=self.batch_seconds, memory_utterances=self.memory_utterances,
                          latency_seconds=self.latency_seconds)
        if self.warmup < 0 or self.threads < 0:
            raise ValueError("warmup and threads must be 0 or more")

    def for_quick(self) -> BenchConfig:
        """These settings with the ``quick`` ones swapped in (few utterances, one repeat)."""
        q = self.quick
        return dataclasses.replace(self, max_utterances=min(q.max_utterances, self.max_utterances or q.max_utterances),
                                   warmup=q.warmup, repeats=q.repeats, memory_utterances=q.memory_utterances)


def _require_positive(**values: float) -> None:
    for key, value in values.items():
        if value <= 0:
            raise ValueError(f"{key} must be positive, got {value}")


def load_bench_config(path: str | Path, overrides: list[str] | None = None) -> BenchConfig:
    """Read a benchmark YAML (with ``key=value`` overrides) into a :class:`BenchConfig`."""
    return load_config(BenchConfig, path, overrides)

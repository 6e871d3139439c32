"""`speechdistill cache-teacher CONFIG.yaml [key=value ...]`: precompute teacher outputs for distillation.

Run it under ``torchrun --nproc_per_node N`` (or as N processes with RANK / WORLD_SIZE set) to split the
shards over processes; rerun the same command to resume an interrupted job.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``cache-teacher`` command."""
    cache = subparsers.add_parser("cache-teacher", help="precompute teacher outputs (top-k posteriors, N-best, "
                                  "hidden states) into a sharded cache")
    cache.add_argument("config", type=Path, help="cache recipe YAML (see speechdistill.cache.CacheConfig)")
    cache.add_argument("overrides", nargs="*", help="key=value overrides, e.g. top_k=16 nbest=4")
    cache.set_defaults(handler=_cache_teacher)


def _cache_teacher(args: argparse.Namespace) -> int:
    from ..cache import CacheConfig, build_cache
    from ..config import load_config

    result = build_cache(load_config(CacheConfig, args.config, args.overrides), progress=True)
    done = f"rank {result.rank}/{result.world_size}: computed {len(result.written)} shard(s), " \
           f"{len(result.reused)} already done, of {result.num_shards}"
    if not result.complete:
        print(f"{done}; the index is written by the process that finishes last")
        return 0
    print(f"{done}; cache complete in {result.out_dir}")
    print(result.usage.summary())
    return 0

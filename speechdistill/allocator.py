"""Keep freed heap memory in the process (glibc): long CPU jobs allocate and free the same large buffers every
batch (attention scores, padded activations), and glibc hands each one above its mmap threshold back to the
kernel, which then zero-fills it page by page on the next batch. Measured on the 2-core CPU box: 20-25% of the
teacher caches' CPU time was kernel time before, ~0 after (one thread, whisper-base encoder and whisper-ctc
cache); ``MALLOC_*`` environment variables set by the user win."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
KEEP_BYTES = 1 << 30  # buffers below this come from the heap and stay there once freed


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; False (and nothing done) off glibc Linux or when
    any ``MALLOC_`` variable is set. The cost: the process keeps its peak heap instead of returning it."""
    if not sys.platform.startswith("linux") or any(name.startswith("MALLOC_") for name in os.environ):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, KEEP_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, 2 * KEEP_BYTES))

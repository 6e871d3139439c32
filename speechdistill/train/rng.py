"""Capture and restore every random-number state a training step may consume (torch, numpy, random).

Hugging Face's SpecAugment masks draw from numpy's global generator, dropout from torch's, so both must
be restored for a resumed run to match an uninterrupted one exactly.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def capture_rng() -> dict:
    """A JSON-and-tensor representation of the global RNG states."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"torch": torch.get_rng_state(), "numpy_keys": torch.from_numpy(keys.astype(np.int64)),
            "numpy_meta": [name, int(pos), int(has_gauss), float(cached)],
            "python": torch.tensor(random.getstate()[1], dtype=torch.int64), "python_version": random.getstate()[0]}


def restore_rng(state: dict) -> None:
    """Restore states captured by :func:`capture_rng`."""
    torch.set_rng_state(state["torch"])
    name, pos, has_gauss, cached = state["numpy_meta"]
    np.random.set_state((name, state["numpy_keys"].numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate((state["python_version"], tuple(int(x) for x in state["python"].tolist()), None))

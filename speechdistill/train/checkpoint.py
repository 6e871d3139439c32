"""Atomic training checkpoints: a directory is written beside its final name, then renamed into place.

A checkpoint holds model weights (safetensors), optimiser and scheduler state (``torch.save``; read back
with ``weights_only=True``) and a JSON trainer state (update, epoch, position in the epoch, best metric).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .rng import capture_rng, restore_rng

STATE_FILE = "trainer_state.json"
WEIGHTS_FILE = "model.safetensors"
OPTIM_FILE = "optimizer.pt"


def replace_dir_atomically(src: Path, dst: Path) -> None:
    """Move the finished directory ``src`` to ``dst``, replacing any previous ``dst``."""
    old = None
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dst, old)
    os.replace(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _state_dict_for_saving(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    # safetensors refuses shared storage; clone makes tied weights independent copies.
    return {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}


def save_checkpoint(path: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler, state: dict) -> Path:
    """Write a complete checkpoint directory at ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        save_file(_state_dict_for_saving(model), str(tmp / WEIGHTS_FILE))
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": capture_rng()}, tmp / OPTIM_FILE)
        (tmp / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")
        replace_dir_atomically(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def load_checkpoint(path: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None) -> dict:
    """Restore model (and optimiser/scheduler/RNG when given) from ``path``; return the trainer state."""
    path = Path(path)
    for name in (WEIGHTS_FILE, STATE_FILE):
        if not (path / name).is_file():
            raise FileNotFoundError(f"{path}: incomplete checkpoint, {name} is missing")
    model.load_state_dict(load_file(str(path / WEIGHTS_FILE)))
    if optimizer is not None or scheduler is not None:
        extra = torch.load(path / OPTIM_FILE, map_location="cpu", weights_only=True)
        if optimizer is not None:
            optimizer.load_state_dict(extra["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(extra["scheduler"])
        restore_rng(extra["rng"])
    return json.loads((path / STATE_FILE).read_text())

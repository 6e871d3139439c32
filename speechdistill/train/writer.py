"""Metric logging to JSONL (always) and TensorBoard (when installed)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)


class MetricWriter:
    """Appends ``{"split", "update", ...terms}`` records to ``out_dir/log.jsonl`` and TensorBoard scalars."""

    def __init__(self, out_dir: str | Path, enabled: bool = True):
        self.enabled = enabled
        self.path = Path(out_dir) / "log.jsonl"
        self.tb = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            log.warning("tensorboard is not installed: logging to %s only", self.path)
        else:
            self.tb = SummaryWriter(str(Path(out_dir) / "tensorboard"))

    def log(self, split: str, update: int, values: dict[str, float]) -> None:
        """Record scalar ``values`` for ``split`` at optimiser update ``update``."""
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps({"split": split, "update": update, **values}) + "\n")
        if self.tb is not None:
            for key, value in values.items():
                if isinstance(value, int | float):
                    self.tb.add_scalar(f"{split}/{key}", value, update)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()

"""The training loop: accelerate, gradient accumulation, clipping, warm-up + cosine, dev WER, resume.

The caller supplies what differs between models as two functions: ``step_fn(model, batch)`` returns the
loss (and its named terms for logging), ``eval_fn(model)`` returns dev metrics with a ``"wer"`` key.
A "step" is one optimiser update. Checkpoints (``last`` and the best by dev WER) are written atomically
and ``resume=True`` continues with exactly the data order and random state an uninterrupted run has.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.utils.data import DataLoader

from ..data.batching import DurationBatchSampler
from ..data.dataset import Batch, UtteranceDataset, collate
from ..progress import Progress, progress_bar
from .checkpoint import load_checkpoint, save_checkpoint
from .schedule import build_optimizer, warmup_cosine
from .writer import MetricWriter

LAST_CHECKPOINT = "checkpoints/last"


@dataclass(frozen=True)
class TrainOptions:
    """Budget and optimisation settings. Budgets are counted in optimiser updates."""

    max_updates: int = 1000
    lr: float = 1e-3
    warmup_updates: int = 100
    weight_decay: float = 0.01
    grad_accum: int = 1
    clip_norm: float = 1.0
    batch_seconds: float = 60.0
    max_batch_items: int | None = None
    eval_every: int = 200
    checkpoint_every: int = 100
    log_every: int = 10
    seed: int = 0
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"
    num_workers: int = 0
    max_wall_minutes: float | None = None
    decay_over_wall: bool = False  # the cosine also ends with max_wall_minutes (time-boxed runs)
    cpu: bool = False

    def __post_init__(self) -> None:
        for name in ("max_updates", "grad_accum", "eval_every", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.decay_over_wall and not self.max_wall_minutes:
            raise ValueError("decay_over_wall needs max_wall_minutes (the time box the schedule ends with)")


@dataclass(frozen=True)
class StepOutput:
    """What a loss step returns: the loss to back-propagate and named scalar terms to log."""

    loss: torch.Tensor
    terms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainResult:
    """Summary of a finished (or time-boxed) run."""

    updates: int
    best_metric: float
    best_update: int
    audio_hours_seen: float
    wall_s: float
    stopped_early: bool


StepFn = Callable[[torch.nn.Module, Batch], StepOutput]
EvalFn = Callable[[torch.nn.Module], dict[str, float]]
BestFn = Callable[[torch.nn.Module, dict[str, float], dict], None]


def _mixed_precision(choice: str, cpu: bool) -> str:
    if choice != "auto":
        return choice
    return "bf16" if torch.cuda.is_available() and not cpu else "no"


def build_accelerator(options: TrainOptions) -> Accelerator:
    """The Accelerator ``train`` builds for ``options``; build it first when the device is needed earlier
    (e.g. to place frozen teachers) and pass it to ``train``."""
    return Accelerator(mixed_precision=_mixed_precision(options.mixed_precision, options.cpu), cpu=options.cpu)


def _initial_state() -> dict:
    return {"update": 0, "epoch": 0, "batch_in_epoch": 0, "best_metric": math.inf, "best_update": 0,
            "audio_seconds_seen": 0.0, "wall_s": 0.0}


def train(model: torch.nn.Module, dataset: UtteranceDataset, step_fn: StepFn, eval_fn: EvalFn, out_dir: str | Path,
          options: TrainOptions, *, on_best: BestFn | None = None, resume: bool = False,
          accelerator: Accelerator | None = None) -> TrainResult:
    """Train ``model`` on ``dataset`` until ``options.max_updates`` (or the wall-clock limit)."""
    out_dir = Path(out_dir)
    accelerator = accelerator or build_accelerator(options)
    set_seed(options.seed)
    optimizer = build_optimizer(model, options.lr, options.weight_decay)
    clock = WallFraction(options.max_wall_minutes * 60) if options.decay_over_wall else None
    scheduler = warmup_cosine(optimizer, options.warmup_updates, options.max_updates, time_fraction=clock)
    state = _initial_state()
    last = out_dir / LAST_CHECKPOINT
    if resume and last.is_dir():
        state = load_checkpoint(last, model, optimizer, scheduler)
    model, optimizer = accelerator.prepare(model, optimizer)
    sampler = DurationBatchSampler(dataset.durations_s, options.batch_seconds, options.seed,
                                   num_replicas=accelerator.num_processes, rank=accelerator.process_index,
                                   max_batch_items=options.max_batch_items)
    loop = _Loop(accelerator, model, optimizer, scheduler, dataset, sampler, step_fn, eval_fn, out_dir, options,
                 state, on_best, clock)
    return loop.run()


class WallFraction:
    """The share of a time box used by this invocation, as the schedule reads it. The loop sets it before
    each scheduler step (the largest over ranks, so every process uses the same learning rate)."""

    def __init__(self, box_s: float) -> None:
        self.box_s, self.value = box_s, 0.0

    def __call__(self) -> float:
        return self.value

    def set(self, elapsed_s: float, accelerator: Accelerator) -> None:
        value = torch.tensor(min(1.0, elapsed_s / self.box_s), device=accelerator.device)
        if accelerator.num_processes > 1:
            value = accelerator.reduce(value, reduction="max")
        self.value = float(value)


class _Loop:
    """The mutable part of a run; kept private so the public surface is the ``train`` function."""

    def __init__(self, accelerator, model, optimizer, scheduler, dataset, sampler, step_fn, eval_fn, out_dir,
                 options, state, on_best, clock=None):
        self.acc, self.model, self.optimizer, self.scheduler = accelerator, model, optimizer, scheduler
        self.clock = clock
        self.dataset, self.sampler, self.step_fn, self.eval_fn = dataset, sampler, step_fn, eval_fn
        self.out_dir, self.opt, self.state, self.on_best = out_dir, options, state, on_best
        self.writer = MetricWriter(out_dir, enabled=accelerator.is_main_process)
        self.started = time.monotonic()
        self.wall_at_start = state["wall_s"]

    def run(self) -> TrainResult:
        opt, state = self.opt, self.state
        bar = progress_bar(total=opt.max_updates, initial=state["update"], desc="train", unit="upd",
                           disable=not self.acc.is_main_process)
        stopped_early = False
        while state["update"] < opt.max_updates and not stopped_early:
            stopped_early = self._epoch(bar)
        bar.close()
        if state["update"] % opt.eval_every != 0 or stopped_early:
            self._evaluate()
        self._checkpoint()
        self.writer.close()
        return TrainResult(state["update"], state["best_metric"], state["best_update"],
                           state["audio_seconds_seen"] / 3600, state["wall_s"], stopped_early)

    def _loader(self) -> DataLoader:
        self.sampler.set_epoch(self.state["epoch"], skip=self.state["batch_in_epoch"])
        self.dataset.set_epoch(self.state["epoch"])
        # A private generator keeps DataLoader start-up from consuming the global RNG (exact resume).
        generator = torch.Generator().manual_seed(self.opt.seed + self.state["epoch"])
        return DataLoader(self.dataset, batch_sampler=self.sampler, collate_fn=collate,
                          num_workers=self.opt.num_workers, generator=generator,
                          persistent_workers=False)

    def _epoch(self, bar: Progress) -> bool:
        """Run (the rest of) one epoch; return True when the wall-clock limit stopped the run."""
        opt, state = self.opt, self.state
        micro = 0
        for batch in self._loader():
            micro += 1
            sync = micro % opt.grad_accum == 0
            terms = self._forward_backward(batch, sync)
            state["batch_in_epoch"] += 1
            state["audio_seconds_seen"] += self._gathered_seconds(batch)
            if not sync:
                continue
            self._update(terms, bar)
            if state["update"] >= opt.max_updates:
                return False
            if self._out_of_time():
                return True
        state["epoch"] += 1
        state["batch_in_epoch"] = 0
        return False

    def _gathered_seconds(self, batch: Batch) -> float:
        seconds = batch.waveform_lengths.sum().float() / self.dataset.sample_rate
        return float(self.acc.reduce(seconds.to(self.acc.device), reduction="sum"))

    def _forward_backward(self, batch: Batch, sync: bool) -> dict[str, float]:
        batch = batch.to(self.acc.device)
        context = self.acc.no_sync(self.model) if not sync and self.acc.num_processes > 1 else nullcontext()
        with context, self.acc.autocast():
            out = self.step_fn(self.model, batch)
            self.acc.backward(out.loss / self.opt.grad_accum)
        return {"loss": float(out.loss.detach()), **out.terms}

    def _update(self, terms: dict[str, float], bar: Progress) -> None:
        opt, state = self.opt, self.state
        grad_norm = self.acc.clip_grad_norm_(self.model.parameters(), opt.clip_norm)
        self.optimizer.step()
        if self.clock is not None:
            self.clock.set(time.monotonic() - self.started, self.acc)
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        state["update"] += 1
        state["wall_s"] = self.wall_at_start + time.monotonic() - self.started
        bar.update(1)
        if state["update"] % opt.log_every == 0 or state["update"] == 1:
            record = {**terms, "lr": self.scheduler.get_last_lr()[0], "grad_norm": float(grad_norm),
                      "audio_hours_seen": state["audio_seconds_seen"] / 3600}
            self.writer.log("train", state["update"], record)
            bar.set_postfix(loss=f"{terms['loss']:.3f}", best_wer=_fmt(state["best_metric"]))
        if state["update"] % opt.eval_every == 0:
            self._evaluate()
        if state["update"] % opt.checkpoint_every == 0:
            self._checkpoint()

    def _evaluate(self) -> None:
        state = self.state
        if self.acc.is_main_process:
            unwrapped = self.acc.unwrap_model(self.model)
            unwrapped.eval()
            with torch.inference_mode():
                metrics = self.eval_fn(unwrapped)
            unwrapped.train()
            self.writer.log("dev", state["update"], metrics)
            if metrics["wer"] < state["best_metric"]:
                state["best_metric"], state["best_update"] = float(metrics["wer"]), state["update"]
                if self.on_best is not None:
                    self.on_best(unwrapped, metrics, dict(state))
        self.acc.wait_for_everyone()
        state["best_metric"] = float(self.acc.reduce(torch.tensor(state["best_metric"], device=self.acc.device),
                                                     reduction="mean"))

    def _checkpoint(self) -> None:
        if self.acc.is_main_process:
            save_checkpoint(self.out_dir / LAST_CHECKPOINT, self.acc.unwrap_model(self.model),
                            self.optimizer, self.scheduler, self.state)
        self.acc.wait_for_everyone()

    def _out_of_time(self) -> bool:
        limit = self.opt.max_wall_minutes
        return limit is not None and time.monotonic() - self.started > limit * 60


def _fmt(value: float) -> str:
    return "-" if math.isinf(value) else f"{value:.3f}"


def read_log(out_dir: str | Path) -> list[dict]:
    """The JSONL training log of a run."""
    path = Path(out_dir) / "log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

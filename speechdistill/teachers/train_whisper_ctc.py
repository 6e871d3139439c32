"""`speechdistill teacher train recipes/teachers/whisper_ctc.yaml`: a CTC head on Whisper's pretrained encoder.

Usage:
    speechdistill teacher train recipes/teachers/whisper_ctc.yaml [key=value ...] [--resume]

Two stages. First the frozen part of the encoder runs once over the train and dev manifests and its
hidden states are kept in a teacher-output cache (``speechdistill.cache``: sharded, resumable, progress
bar). Then the head (and the encoder layers above ``read_layer``, at a scaled-down learning rate) trains on
those cached states with the shared training loop; dev WER picks the best update, which is saved as a
whisper-ctc teacher directory and scored live (audio -> encoder -> head) on every test split.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from ..cache.build import build_cache
from ..cache.config import CacheConfig
from ..cache.reader import open_cache
from ..data.batching import duration_batches
from ..data.dataset import Batch, UtteranceDataset
from ..data.errors import SkipReport
from ..decode.greedy import greedy_decode
from ..eval.metrics import cer, wer
from ..markers import read_marker, write_marker
from ..text import Vocabulary
from ..train.loop import StepOutput, TrainOptions, train
from .model_card import hardware_description
from .training import TeacherDataConfig, read_split, write_resolved_config
from .whisper_ctc import HeadConfig, WhisperCTCConfig, WhisperCTCHead, build_head
from .whisper_ctc_teacher import load_base_encoder, load_whisper_ctc, save_whisper_ctc


@dataclass(frozen=True)
class WhisperCTCRecipe:
    """A whisper-ctc teacher recipe.

    base: packaged teacher name or Whisper directory. window_s: encoder window (seconds; the longest
    utterance must fit). read_layer: encoder hidden state the trainable part reads (negative: from the end;
    -1 = the final, layer-normed output, i.e. a head on the frozen encoder). cache_layers: what the encoder
    cache keeps (default: read_layer alone; list more to compare layers without encoding again).
    encoder_lr_scale: learning rate of the fine-tuned encoder layers relative to ``train.lr``.
    fine_tune_above: False drops the encoder layers above ``read_layer`` (the head reads that state through a
    new LayerNorm, and the teacher runs only ``read_layer`` encoder layers).
    """

    architecture: Literal["whisper-ctc"]
    out_dir: str
    data: TeacherDataConfig
    base: str = "whisper-base"
    window_s: float = 8.0
    read_layer: int = -1
    cache_layers: tuple[int, ...] = ()
    cache_dir: str | None = None  # default: out_dir/encoder
    head: HeadConfig = field(default_factory=HeadConfig)
    encoder_lr_scale: float = 0.1
    fine_tune_above: bool = True
    train: TrainOptions = field(default_factory=TrainOptions)
    save_dtype: Literal["float32", "float16"] = "float16"
    title: str = "speechdistill whisper-ctc teacher"

    def __post_init__(self) -> None:
        if self.window_s <= 0:
            raise ValueError(f"window_s must be positive, got {self.window_s}")
        if self.encoder_lr_scale < 0:
            raise ValueError(f"encoder_lr_scale must be >= 0, got {self.encoder_lr_scale}")


def encoder_cache_configs(recipe: WhisperCTCRecipe, read_layer: int) -> dict[str, CacheConfig]:
    """The cache-teacher configs of the frozen encoder's outputs over the train and dev manifests."""
    layers = tuple(recipe.cache_layers) or (read_layer,)
    if read_layer not in layers:
        raise ValueError(f"cache_layers {list(layers)} must include read_layer {read_layer}")
    root = Path(recipe.cache_dir or Path(recipe.out_dir) / "encoder")
    return {split: CacheConfig(teacher=recipe.base, manifest=manifest, out_dir=str(root / split), top_k=0,
                               hidden_layers=layers, window_s=recipe.window_s, on_error=recipe.data.on_error,
                               device="cpu" if recipe.train.cpu or not torch.cuda.is_available() else "auto")
            for split, manifest in (("train", recipe.data.train), ("dev", recipe.data.dev))}


def _cached_hidden(cache, ids, layer: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    from ..distill.sources import TeacherRequest

    out = cache.outputs(list(ids), TeacherRequest(hidden_layers=(layer,), log_probs=False), device)
    return out.hidden_states[layer], out.lengths


def make_step(cache, layer: int):
    """``step(head, batch)``: CTC loss of the head on the batch's cached encoder states."""

    def step(head: WhisperCTCHead, batch: Batch) -> StepOutput:
        device = batch.labels.device
        hidden, lengths = _cached_hidden(cache, batch.ids, layer, device)
        log_probs = head(hidden, lengths).float().log_softmax(-1)
        labels = batch.labels.clamp(min=0)
        loss = torch.nn.functional.ctc_loss(log_probs.transpose(0, 1), labels, lengths, batch.label_lengths,
                                            blank=0, reduction="mean", zero_infinity=True)
        return StepOutput(loss, {"ctc": float(loss.detach())})

    return step


def make_eval_fn(cache, dataset: UtteranceDataset, vocab: Vocabulary, layer: int, batch_seconds: float = 240.0):
    """``eval_fn(head) -> {"wer", "cer"}``: greedy decoding of the head on the cached dev encoder states."""

    def eval_fn(head: WhisperCTCHead) -> dict[str, float]:
        device = next(head.parameters()).device
        was_training = head.training
        head.eval()
        refs, hyps = [], []
        with torch.inference_mode():
            for indices in duration_batches(dataset.durations_s, batch_seconds, seed=0, shuffle=False):
                utts = [dataset.utterances[i] for i in indices]
                hidden, lengths = _cached_hidden(cache, [u.id for u in utts], layer, device)
                hyps.extend(greedy_decode(head(hidden, lengths).float().log_softmax(-1), lengths, vocab))
                refs.extend(u.text for u in utts)
        head.train(was_training)
        return {"wer": wer(refs, hyps), "cer": cer(refs, hyps)}

    return eval_fn


def train_whisper_ctc(recipe: WhisperCTCRecipe, *, resume: bool = False, command: str = "") -> Path:
    """Encode (cached), train the head, save the best as a whisper-ctc teacher; return its directory."""
    out_dir = Path(recipe.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_resolved_config(out_dir, recipe)
    encoder, _, base_sha = load_base_encoder(recipe.base, recipe.window_s)
    num_layers = len(encoder.layers)
    read_layer = recipe.read_layer + num_layers + 1 if recipe.read_layer < 0 else recipe.read_layer
    caches = {}
    for split, cache_config in encoder_cache_configs(recipe, read_layer).items():
        print(f"encoding {split}: {cache_config.manifest} -> {cache_config.out_dir}", file=sys.stderr)
        build_cache(cache_config, progress=True)
        caches[split] = open_cache(cache_config.out_dir)
    vocab = Vocabulary.default()
    config = WhisperCTCConfig(base=recipe.base, base_sha256=base_sha, window_s=recipe.window_s,
                              read_layer=read_layer, num_encoder_layers=num_layers, labels=vocab.labels,
                              head=recipe.head, fine_tune_above=recipe.fine_tune_above)
    head = build_head(encoder, config)
    del encoder
    for param in head.top_layers.parameters():
        param.lr_scale = recipe.encoder_lr_scale
    if recipe.encoder_lr_scale == 0:
        head.top_layers.requires_grad_(False)
    report = SkipReport(recipe.data.on_error)
    train_set = UtteranceDataset(read_split(recipe.data.train, recipe.data, report, vocab), vocab, seed=recipe.train.seed)
    dev_utts = read_split(recipe.data.dev, recipe.data, report, vocab, recipe.data.dev_max_utterances)
    if len(report):
        print(f"{report.summary()}; see {report.write(out_dir / 'skipped.jsonl')}", file=sys.stderr)
    best_dir = out_dir / "best"
    save_dtype = getattr(torch, recipe.save_dtype)

    def on_best(best: WhisperCTCHead, metrics: dict[str, float], state: dict) -> None:
        save_whisper_ctc(best_dir, config, best, dtype=save_dtype,
                         extra={"update": state["update"], "dev_wer": metrics["wer"]})

    result = train(head, train_set, make_step(caches["train"], read_layer),
                   make_eval_fn(caches["dev"], UtteranceDataset(dev_utts, vocab), vocab, read_layer), out_dir,
                   recipe.train, on_best=on_best, resume=resume)
    return finish(recipe, best_dir, result, command)


def finish(recipe: WhisperCTCRecipe, best_dir: Path, result, command: str) -> Path:
    """Score the saved teacher live on dev and every test split; record the run in its marker and card."""
    from ..eval.evaluate import EvalOptions, evaluate
    from .whisper_ctc_card import write_whisper_ctc_card

    metrics = {}
    for split, manifest in {"dev": recipe.data.dev, **recipe.data.test}.items():
        scored = evaluate(EvalOptions(model=str(best_dir), manifest=manifest, device="cpu"))
        metrics[split] = scored.metrics["wer"]
    marker = read_marker(best_dir)
    history = [{"updates": result.updates, "best_update": marker.extra["update"],
                "audio_hours_seen": round(result.audio_hours_seen, 3), "wall_s": round(result.wall_s, 1),
                "hardware": hardware_description(), "command": command}]
    write_marker(best_dir, dataclasses.replace(marker, extra={**marker.extra, "history": history, "wer": metrics}))
    teacher = load_whisper_ctc(best_dir)
    write_whisper_ctc_card(best_dir, recipe.title, teacher, history, metrics, recipe.data.train)
    print("; ".join(f"{k} WER {v * 100:.1f}%" for k, v in metrics.items()))
    return best_dir

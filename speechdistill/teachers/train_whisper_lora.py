"""`speechdistill teacher train recipes/teachers/whisper_finetune.yaml`: in-domain LoRA adaptation of Whisper.

Usage:
    OMP_NUM_THREADS=1 speechdistill teacher train recipes/teachers/whisper_finetune.yaml [key=value ...] [--resume]

The base (a packaged teacher such as ``whisper-base``, or a Whisper directory) stays frozen with its
encoder window shortened to ``window_s``; LoRA adapters on the ``lora.targets`` layers learn Whisper's own
task on the training transcripts: teacher-forced cross-entropy of ``<|startoftranscript|><|en|>
<|transcribe|><|notimestamps|>`` + the transcript's tokens + ``<|endoftext|>``, scored on the transcript
and the end token only. The shared loop (``speechdistill.train``) runs it: warm-up + cosine schedule,
batches by seconds of audio, a time box, greedy dev WER on the first ``data.dev_max_utterances`` dev
utterances every ``train.eval_every`` updates, atomic checkpoints (they hold the adapter and its optimiser
state only) and ``--resume``. The best adapter by dev WER is saved as a whisper-lora directory
(``out_dir/best``), then scored live on dev and every test split, next to the base with the same window and
decoding (``score_base``), and the model card gets both.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from ..data.augment_pipeline import WaveformAugmentConfig, build_waveform_augment
from ..data.batching import duration_batches
from ..data.dataset import Batch, UtteranceDataset
from ..data.errors import SkipReport
from ..eval.metrics import cer, wer
from ..text import Vocabulary
from ..train.loop import EvalFn, StepFn, StepOutput, TrainOptions, train
from .lora import load_lora_state_dict, lora_state_dict
from .model_card import hardware_description
from .training import TeacherDataConfig, read_split, write_resolved_config
from .whisper import (
    before_eos,
    encoder_samples_per_frame,
    eos_ids,
    shorten_encoder_window,
    spoken_text,
    whisper_prompt,
    window_log_mel,
)
from .whisper_lora import (
    AdapterConfig,
    LoRAConfig,
    adapt,
    read_adapter_config,
    save_adapter,
    write_adapter_config,
)
from .whisper_tokenizer import spoken_form

EVAL_BATCH_ITEMS = 16  # dev utterances per greedy-decoding batch (each costs a full encoder window)


@dataclass(frozen=True)
class WhisperLoRARecipe:
    """A whisper-lora recipe.

    base: packaged teacher name or Whisper directory. window_s: encoder window in seconds (the longest
    training utterance, after speed perturbation, must fit). lora: rank, alpha, dropout and target layers.
    language: the prompt's language token. augment: training-time waveform augmentation (off by default).
    score_base: also score the base (same window, greedy) on every split at the end, for the before/after
    table. save_dtype: of ``adapter.safetensors``.
    """

    architecture: Literal["whisper-lora"]
    out_dir: str
    data: TeacherDataConfig
    base: str = "whisper-base"
    window_s: float = 8.0
    lora: LoRAConfig = field(default_factory=LoRAConfig)
    language: str = "en"
    augment: WaveformAugmentConfig = field(default_factory=lambda: WaveformAugmentConfig(enabled=False))
    train: TrainOptions = field(default_factory=TrainOptions)
    score_base: bool = True
    save_dtype: Literal["float32", "float16"] = "float16"
    title: str = "speechdistill whisper-lora teacher"

    def __post_init__(self) -> None:
        if self.window_s <= 0:
            raise ValueError(f"window_s must be positive, got {self.window_s}")
        slowest = min(self.augment.speed_factors) if self.augment.enabled else 1.0
        if self.data.max_duration_s / slowest > self.window_s:
            slowed = f" slowed by speed factor {slowest:g}" if slowest < 1.0 else ""
            raise ValueError(f"data.max_duration_s {self.data.max_duration_s:g} s{slowed} does not fit the "
                             f"{self.window_s:g} s window; lower it or widen window_s")


class LoRATrainee(nn.Module):
    """A Whisper model with LoRA layers, as the shared loop trains it.

    Its ``state_dict`` is the adapter alone (and ``load_state_dict`` takes one), so the loop's checkpoints
    hold ~1 MB of adapter plus its optimiser state rather than the whole frozen model.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def state_dict(self, *args, **kwargs) -> dict[str, torch.Tensor]:
        """The adapter's weights (``lora_state_dict``)."""
        return lora_state_dict(self.model)

    def load_state_dict(self, state_dict: dict[str, torch.Tensor], strict: bool = True, assign: bool = False):
        """Load adapter weights saved by ``state_dict``; anything else is a ValueError."""
        load_lora_state_dict(self.model, state_dict)


@dataclass(frozen=True)
class TranscriptLabels:
    """Transcripts -> teacher-forcing pairs for Whisper's decoder, with the prompt the teacher decodes with."""

    tokenizer: object
    prompt: tuple[int, ...]
    eot: int
    max_positions: int

    def encode(self, texts: Sequence[str | None], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(decoder_input_ids, labels), both (B, L): inputs are prompt + tokens(" " + text), labels the inputs
        shifted left + ``<|endoftext|>``; the prompt's own tokens are not scored (-100), nor is padding."""
        if any(t is None for t in texts):
            raise ValueError("Whisper adaptation needs a transcript for every utterance")
        pieces = self.tokenizer([spoken_form(t) for t in texts], add_special_tokens=False).input_ids
        prompt = list(self.prompt)
        longest = len(prompt) + max(len(p) for p in pieces)
        if longest > self.max_positions:
            raise ValueError(f"a transcript needs {longest} decoder tokens, more than the model's "
                             f"{self.max_positions}")
        inputs = torch.full((len(texts), longest), self.eot, dtype=torch.long)
        labels = torch.full((len(texts), longest), -100, dtype=torch.long)
        for row, piece in enumerate(pieces):
            inputs[row, :len(prompt) + len(piece)] = torch.tensor(prompt + piece)
            labels[row, len(prompt) - 1:len(prompt) + len(piece)] = torch.tensor(piece + [self.eot])
        return inputs.to(device), labels.to(device)


def transcript_labels(model: nn.Module, tokenizer, language: str) -> TranscriptLabels:
    """The label encoder for ``model``: the Whisper teacher's own prompt (``whisper_prompt``) and EOS."""
    eos = model.generation_config.eos_token_id
    eot = int(eos[0] if isinstance(eos, list) else eos)
    prompt = tuple(whisper_prompt(model.generation_config, model.config, language))
    return TranscriptLabels(tokenizer, prompt, eot, int(model.config.max_target_positions))


def _audio(batch: Batch) -> list[np.ndarray]:
    return [w[:int(n)].cpu().numpy() for w, n in zip(batch.waveforms, batch.waveform_lengths)]


def make_step(processor, labels: TranscriptLabels, window_samples: int) -> StepFn:
    """``step(trainee, batch)``: teacher-forced token cross-entropy on the batch's log-mel windows."""

    def step(trainee: LoRATrainee, batch: Batch) -> StepOutput:
        device = batch.waveforms.device
        features = window_log_mel(processor.feature_extractor, _audio(batch), window_samples, "adapted Whisper")
        inputs, targets = labels.encode(batch.texts, device)
        out = trainee.model(input_features=features.to(device), decoder_input_ids=inputs, labels=targets,
                            use_cache=False)
        return StepOutput(out.loss, {"ce": float(out.loss.detach())})

    return step


def greedy_transcripts(model: nn.Module, processor, prompt: Sequence[int], audio: list[np.ndarray],
                       window_samples: int) -> list[str]:
    """Greedy transcripts in the shared spoken form, decoded as ``speechdistill eval`` decodes a Whisper teacher."""
    from transformers import GenerationMixin

    device = next(model.parameters()).device
    features = window_log_mel(processor.feature_extractor, audio, window_samples, "adapted Whisper")
    start = torch.tensor([list(prompt)], device=device).expand(len(audio), -1)
    with torch.inference_mode():
        sequences = GenerationMixin.generate(
            model, input_features=features.to(device), decoder_input_ids=start, num_beams=1, do_sample=False,
            max_length=model.config.max_target_positions)
    ends = eos_ids(model.generation_config)
    return [spoken_text(processor.tokenizer, before_eos(row, ends)) for row in sequences[:, len(prompt):].tolist()]


def make_eval_fn(dataset: UtteranceDataset, processor, prompt: Sequence[int], window_samples: int) -> EvalFn:
    """``eval_fn(trainee) -> {"wer", "cer"}``: greedy decoding of ``dataset`` with the adapter as it is now."""

    def eval_fn(trainee: LoRATrainee) -> dict[str, float]:
        refs, hyps = [], []
        for indices in duration_batches(dataset.durations_s, float("inf"), seed=0, shuffle=False,
                                        max_batch_items=EVAL_BATCH_ITEMS):
            items = [dataset[i] for i in indices]
            hyps.extend(greedy_transcripts(trainee.model, processor, prompt, [it["audio"] for it in items],
                                           window_samples))
            refs.extend(it["text"] for it in items)
        return {"wer": wer(refs, hyps), "cer": cer(refs, hyps)}

    return eval_fn


def build_trainee(recipe: WhisperLoRARecipe):
    """(trainee, processor, adapter config without training facts): the base, window shortened, adapters added."""
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    from .whisper_ctc_teacher import base_identity

    base_dir, base_sha = base_identity(recipe.base)
    model = WhisperForConditionalGeneration.from_pretrained(base_dir, dtype=torch.float32)
    processor = WhisperProcessor.from_pretrained(base_dir)
    shorten_encoder_window(model, recipe.window_s, processor.feature_extractor)
    torch.manual_seed(recipe.train.seed)  # the A matrices' initialisation
    adapt(model, recipe.lora)
    config = AdapterConfig(base=recipe.base, base_sha256=base_sha, window_s=recipe.window_s, lora=recipe.lora)
    return LoRATrainee(model).train(), processor, config


def train_whisper_lora(recipe: WhisperLoRARecipe, *, resume: bool = False, command: str = "") -> Path:
    """Adapt the base on the training split, save the best adapter by dev WER, score it; return its directory."""
    out_dir = Path(recipe.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_resolved_config(out_dir, recipe)
    trainee, processor, config = build_trainee(recipe)
    model = trainee.model
    window_samples = model.config.max_source_positions * encoder_samples_per_frame(
        model.model.encoder, processor.feature_extractor)
    trained = sum(p.numel() for p in lora_state_dict(model).values())
    print(f"{recipe.base} + LoRA rank {recipe.lora.rank} on {len(recipe.lora.targets)} pattern(s): {trained:,} "
          f"trained parameters ({trained / sum(p.numel() for p in model.parameters()):.2%})", file=sys.stderr)
    vocab = Vocabulary.default()
    report = SkipReport(recipe.data.on_error)
    train_set = UtteranceDataset(read_split(recipe.data.train, recipe.data, report, vocab), vocab,
                                 augment=build_waveform_augment(recipe.augment, recipe.train.seed), seed=recipe.train.seed)
    dev_set = UtteranceDataset(read_split(recipe.data.dev, recipe.data, report, vocab, recipe.data.dev_max_utterances),
                               vocab)
    if len(report):
        print(f"{report.summary()}; see {report.write(out_dir / 'skipped.jsonl')}", file=sys.stderr)
    labels = transcript_labels(model, processor.tokenizer, recipe.language)
    best_dir = out_dir / "best"
    save_dtype = getattr(torch, recipe.save_dtype)

    def on_best(best: LoRATrainee, metrics: dict[str, float], state: dict) -> None:
        facts = {"best_update": state["update"], "dev_wer": metrics["wer"], "dev_utterances": len(dev_set)}
        save_adapter(best_dir, dataclasses.replace(config, training=facts), best.model, dtype=save_dtype)

    result = train(trainee, train_set, make_step(processor, labels, window_samples),
                   make_eval_fn(dev_set, processor, labels.prompt, window_samples), out_dir, recipe.train,
                   on_best=on_best, resume=resume)
    return finish(recipe, best_dir, result, command)


def score_splits(model: str, recipe: WhisperLoRARecipe) -> dict[str, float]:
    """Greedy WER of ``model`` (adapter directory or base) with the recipe's window on dev and every test split."""
    from ..eval.evaluate import EvalOptions, evaluate

    return {split: evaluate(EvalOptions(model=model, manifest=manifest, window_s=recipe.window_s)).metrics["wer"]
            for split, manifest in {"dev": recipe.data.dev, **recipe.data.test}.items()}


def finish(recipe: WhisperLoRARecipe, best_dir: Path, result, command: str) -> Path:
    """Score the saved adapter (and the base) on every split; record the run in adapter.json, marker and card."""
    from ..markers import read_marker, write_marker
    from .whisper_lora import adapter_bytes
    from .whisper_lora_card import write_whisper_lora_card

    metrics = score_splits(str(best_dir), recipe)
    base_metrics = score_splits(recipe.base, recipe) if recipe.score_base else {}
    config = read_adapter_config(best_dir)
    history = [{"updates": result.updates, "best_update": config.training["best_update"],
                "audio_hours_seen": round(result.audio_hours_seen, 3), "wall_s": round(result.wall_s, 1),
                "hardware": hardware_description(), "command": command}]
    facts = {**config.training, "history": history, "wer": metrics, "base_wer": base_metrics}
    config = dataclasses.replace(config, training=facts)
    write_adapter_config(best_dir, config)
    marker = read_marker(best_dir)
    write_marker(best_dir, dataclasses.replace(marker, extra={**marker.extra, "history": history, "wer": metrics,
                                                              "base_wer": base_metrics}))
    write_whisper_lora_card(best_dir, recipe.title, config, history, metrics, base_metrics, recipe.data.train)
    print(f"adapter: {adapter_bytes(best_dir) / 1e6:.2f} MB; "
          + "; ".join(f"{k} WER {v * 100:.1f}%" for k, v in metrics.items()))
    return best_dir

"""Expected compute of the LibriSpeech recipes, worked out from figures measured here; writes COMPUTE.md.

    python recipes/librispeech/estimate_compute.py [--cache-dir DIR] [--out recipes/librispeech/COMPUTE.md]

Measured: FLOPs per audio second of each model (``torch.utils.flop_counter`` on the hub architectures
built from their configs with random weights: wav2vec2-base, whisper-small, the 10m Conformer student),
and disk bytes per audio hour of each cached content type (``--cache-dir``: a cache built by
``speechdistill cache-teacher`` with the settings of ``cache_w2v.yaml``; see ``measure_cache.sh`` below).
Assumed, and printed as such: the GPU's dense bf16 peak and the fraction of it reached (MFU).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

HERE = Path(__file__).resolve().parent
HOURS = 960.0
GPUS = {"H100 SXM (989 TFLOPS bf16 dense)": 989e12, "A100 (312 TFLOPS bf16 dense)": 312e12}
# Assumptions, stated in the output: large-batch bf16 inference of 100M-scale transformers reaches a
# quarter of peak; a 10M-parameter student's small matmuls and per-step overheads keep it near 5%.
MFU = {"teacher inference": 0.25, "student training": 0.05}
WINDOW_S = 10.0
WHISPER_TOKENS_PER_S = 3.5  # LibriSpeech speaking rate in Whisper BPE tokens (~2.7 words/s)
WHISPER_BEAMS = 4


def count(fn) -> float:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        fn()
    return float(counter.get_total_flops())


def wav2vec2_base_flops_per_s() -> float:
    from transformers import Wav2Vec2Config, Wav2Vec2ForCTC

    model = Wav2Vec2ForCTC(Wav2Vec2Config(vocab_size=32)).eval()  # the defaults are wav2vec2-base
    audio = torch.randn(1, int(16_000 * WINDOW_S))
    return count(lambda: model(audio)) / WINDOW_S


def whisper_small_flops_per_s() -> tuple[float, float]:
    """(encoder FLOPs per audio second with the hub's fixed 30 s window, decoder FLOPs per audio second)."""
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    config = WhisperConfig(vocab_size=51865, num_mel_bins=80, d_model=768, encoder_layers=12, decoder_layers=12,
                           encoder_attention_heads=12, decoder_attention_heads=12, encoder_ffn_dim=3072,
                           decoder_ffn_dim=3072, max_source_positions=1500, max_target_positions=448)
    model = WhisperForConditionalGeneration(config).eval()
    mel = torch.randn(1, 80, 3000)  # every hub Whisper input is padded to 30 s
    encoder = count(lambda: model.model.encoder(mel))
    encoded = model.model.encoder(mel).last_hidden_state.detach()
    tokens = int(WHISPER_TOKENS_PER_S * WINDOW_S)
    ids = torch.zeros(WHISPER_BEAMS, tokens, dtype=torch.long)
    states = encoded.expand(WHISPER_BEAMS, -1, -1)
    # teacher-forced decoding of the beams: the same matmuls as cached step-by-step generation, + the LM head
    decoder = count(lambda: model(encoder_outputs=(states,), decoder_input_ids=ids))
    return encoder / WINDOW_S, decoder / WINDOW_S  # one utterance of WINDOW_S seconds per 30 s window


def student_train_flops_per_s() -> tuple[float, int]:
    from speechdistill.students import conformer_ctc

    model = conformer_ctc("10m").train()
    audio = torch.randn(1, int(16_000 * WINDOW_S))
    with FlopCounterMode(display=False) as counter:
        out = model(audio, torch.tensor([audio.shape[1]]))
        out.logits.float().logsumexp(-1).sum().backward()
    return float(counter.get_total_flops()) / WINDOW_S, sum(p.numel() for p in model.parameters())


def flac_decode_x_real_time(seconds: float = 30.0, repeats: int = 10) -> float:
    """Audio seconds decoded per wall second by soundfile on one core (a speech-like 16 kHz FLAC)."""
    import tempfile
    import time

    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(0)
    t = np.arange(int(16_000 * seconds)) / 16_000
    signal = 0.2 * np.sin(2 * np.pi * 150 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.02 * rng.standard_normal(t.size)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.flac"
        sf.write(path, signal.astype(np.float32), 16_000)
        started = time.perf_counter()
        for _ in range(repeats):
            sf.read(path, dtype="float32")
        return seconds * repeats / (time.perf_counter() - started)


def recipe_audio_hours() -> float:
    from speechdistill.distill.config import read_recipe

    base = read_recipe(HERE / "_base.yaml")
    return base["train"]["max_updates"] * base["train"]["batch_seconds"] * 8 / 3600


def cache_bytes_per_hour(cache_dir: Path | None) -> dict[str, float]:
    if cache_dir is None:
        return {}
    from speechdistill.cache.disk import measure_disk

    per_hour = measure_disk(cache_dir).per_audio_hour()
    return {kind: value for kind, value in per_hour.items() if kind != "total" and value > 0}


def gpu_hours(flops: float, mfu: float) -> dict[str, float]:
    return {gpu: flops / (peak * mfu) / 3600 for gpu, peak in GPUS.items()}


def student_hours(figures: dict) -> float:
    """Wall hours of the distillation stage on 8 H100s at the assumed MFU."""
    flops = figures["student_train_flops_per_s"] * figures["distill_audio_hours"] * 3600
    return flops / (max(GPUS.values()) * MFU["student training"]) / 3600 / 8


def render(figures: dict) -> str:
    w2v, enc, dec, student = (figures[k] for k in ("w2v_flops_per_s", "whisper_encoder_flops_per_s",
                                                    "whisper_decoder_flops_per_s", "student_train_flops_per_s"))
    seen_h = figures["distill_audio_hours"]
    rows = []
    cache_gb = figures["cache_gb"]
    for name, teacher_flops, gb in (("librispeech_wav2vec2", w2v * HOURS * 3600, cache_gb.get("w2v")),
                                    ("librispeech_whisper", (enc + dec) * HOURS * 3600, cache_gb.get("whisper")),
                                    ("librispeech_multi_teacher", (w2v + enc + dec) * HOURS * 3600,
                                     (cache_gb.get("w2v") or 0) + (cache_gb.get("whisper") or 0) or None)):
        cache = gpu_hours(teacher_flops, MFU["teacher inference"])
        train = gpu_hours(student * seen_h * 3600, MFU["student training"])
        for gpu in GPUS:
            rows.append(f"| {name} | {gpu} | {cache[gpu]:.1f} | {train[gpu]:.1f} | {cache[gpu] + train[gpu]:.1f} | "
                        f"{(cache[gpu] + train[gpu]) / 8:.1f} | {f'{gb:.0f}' if gb else 'n/a'} |")
    per_type = "\n".join(f"| {kind} | {value / 1e6:.1f} |" for kind, value in figures["cache_bytes_per_hour"].items())
    return f"""# Expected compute of the LibriSpeech recipes

Written by `python recipes/librispeech/estimate_compute.py` on {figures['date']} (do not edit by hand).

## Measured

| quantity | value |
|---|---|
| wav2vec2-base forward (CTC teacher) | {w2v / 1e9:.1f} GFLOPs per audio second |
| whisper-small encoder, 30 s window holding a {WINDOW_S:g} s utterance | {enc / 1e9:.1f} GFLOPs per audio second |
| whisper-small decoder, {WHISPER_BEAMS} beams x {WHISPER_TOKENS_PER_S:g} tokens/s | {dec / 1e9:.1f} GFLOPs per audio second |
| Conformer-CTC 10m ({figures['student_params'] / 1e6:.1f}M) training step (forward + backward) | {student / 1e9:.1f} GFLOPs per audio second |
| audio the student sees (recipe: updates x 8 GPUs x batch) | {seen_h:,.0f} h ({seen_h / HOURS:.0f} epochs of {HOURS:g} h) |

FLOPs from `torch.utils.flop_counter` (matmuls and convolutions, 2 per multiply-add) on models built from
the hub configs with random weights. Cache disk per audio hour, from `measure_disk` on a cache built with
`cache_w2v.yaml`'s settings (top-8 posteriors and two hidden layers projected to 256 dims, fp16, 40 ms):

| content | MB per audio hour |
|---|---|
{per_type or '| (no cache measured: pass --cache-dir) | |'}

## Expected (assumed MFU: {MFU['teacher inference']:.0%} for teacher inference, {MFU['student training']:.0%} for training the small student)

| recipe | GPU | cache GPU-h | distill GPU-h | total GPU-h | wall h on 8 GPUs | cache on disk (GB, 960 h) |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

The Whisper cache holds the N-best lists (a few hundred kB per hour) and the same two projected hidden
layers as the wav2vec2 one, so its size is taken as the wav2vec2 cache's minus the posteriors. Hub Whisper
pads every utterance to 30 s, so its encoder costs the same for a 2 s and a 30 s utterance: packing short
utterances would cut the cache stage (not done here). Every epoch decodes the audio again
({seen_h / HOURS:.0f} times in all): FLAC decoding measured {figures['flac_x_real_time']:.0f}x real time on one core
here, so 64 loader cores deliver ~{64 * figures['flac_x_real_time'] / 3600:.1f} h of audio per second, against
{seen_h / 3600 / max(1e-9, student_hours(figures)):.1f} h per second the 8 H100s would consume at the assumed MFU;
check the GPUs are not waiting on `train.num_workers`. Published anchors: Citrinet-256 (≈10M) 3.8 / 9.6
WER on test-clean / test-other; DistilHuBERT 23.5M.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, help="a cache built with cache_w2v.yaml's settings")
    parser.add_argument("--out", type=Path, default=HERE / "COMPUTE.md")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    enc, dec = whisper_small_flops_per_s()
    student, params = student_train_flops_per_s()
    per_hour = cache_bytes_per_hour(args.cache_dir)
    w2v_gb = sum(per_hour.values()) * HOURS / 1e9 if per_hour else None
    hidden_gb = (per_hour.get("hidden", 0) + per_hour.get("overhead", 0)) * HOURS / 1e9 if per_hour else None
    figures = {"date": datetime.date.today().isoformat(), "w2v_flops_per_s": wav2vec2_base_flops_per_s(),
               "whisper_encoder_flops_per_s": enc, "whisper_decoder_flops_per_s": dec,
               "student_train_flops_per_s": student, "student_params": params,
               "distill_audio_hours": recipe_audio_hours(), "cache_bytes_per_hour": per_hour,
               "flac_x_real_time": flac_decode_x_real_time(),
               "cache_gb": {"w2v": w2v_gb, "whisper": hidden_gb}}
    args.out.write_text(render(figures))
    (args.out.with_suffix(".json")).write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

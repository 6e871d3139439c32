"""Whisper teachers (``WhisperForConditionalGeneration``): encoder features and N-best transcripts.

The encoder sees one fixed window of ``max_source_positions`` frames (30 s for hub checkpoints, often
less for home-trained ones): shorter audio is padded to it, longer audio is refused with an error
(this teacher does not chunk; split long recordings into segments first). Encoder outputs are cut back to
the real audio, ceil(samples / 320) frames of 20 ms.

N-best lists come from one call to the generic beam search (``GenerationMixin.generate`` with
``num_beams`` = ``num_return_sequences``). Whisper's own ``generate`` is bypassed on purpose: with
``num_return_sequences > 1`` it copies each input N times and beam-searches every copy to the same best
sequence (huggingface/transformers#33445). A hypothesis's score is its summed token log-probability,
EOS included and not length-normalised (``sequences_scores`` are), from ``compute_transition_scores``.

With a ``decoder`` (``CT2WhisperDecoder``: the ``ctranslate2`` backend) the encoder still runs in torch
and N-best lists come from CTranslate2's beam search over its output (same score; see ``ct2_decoder``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ..data.errors import DataError
from ..decode.beam import merge_nbest
from ..text import normalize_text
from .base import HFTeacher, TeacherOutput, Waveforms
from .ct2_decoder import CT2WhisperDecoder

Candidate = tuple[str, float, tuple[int, ...]]  # (spoken text, summed token log-prob, token ids)
DEFAULT_BEAMS = 5  # Whisper's usual beam size; N-best requests above it widen the beam to N


def whisper_labels(tokenizer, vocab_size: int) -> tuple[str, ...]:
    """Token string of every output id (``<unusedN>`` where the tokenizer has none)."""
    tokens = tokenizer.convert_ids_to_tokens(list(range(vocab_size)))
    return tuple(t if t is not None else f"<unused{i}>" for i, t in enumerate(tokens))


class WhisperTeacher(HFTeacher):
    """A frozen Whisper teacher. Hidden states and attentions are the encoder's; transcripts are English
    (multilingual checkpoints get the ``<|en|><|transcribe|>`` prompt) and go through ``normalize_text``,
    so "5:30" and "10%" arrive as "five thirty" and "ten percent".
    """

    family = "whisper"

    def __init__(self, model: torch.nn.Module, processor, *, name: str, device: str | torch.device = "cpu",
                 nbest: int = 0, beam_size: int | None = None, language: str = "en", window_s: float | None = None,
                 decoder: CT2WhisperDecoder | None = None):
        labels = whisper_labels(processor.tokenizer, model.config.vocab_size)
        if window_s is not None:
            shorten_encoder_window(model, window_s, processor.feature_extractor)
        super().__init__(model, processor, name=name, device=device, labels=labels, nbest=nbest)
        encoder = model.model.encoder
        self.conv_stride = encoder.conv1.stride[0] * encoder.conv2.stride[0]
        self.samples_per_frame = encoder_samples_per_frame(encoder, processor.feature_extractor)
        self.window_samples = model.config.max_source_positions * self.samples_per_frame
        self.beam_size = beam_size or DEFAULT_BEAMS
        self.prompt = whisper_prompt(model.generation_config, model.config, language)
        self.decoder = decoder

    @property
    def backend(self) -> str:
        """Who decodes: "torch" (Hugging Face generate) or "ctranslate2" (``CT2WhisperDecoder``)."""
        return "torch" if self.decoder is None else "ctranslate2"

    @property
    def num_layers(self) -> int:
        return int(self.model.config.encoder_layers)

    @property
    def frame_period_ms(self) -> float:
        return 1000.0 * self.samples_per_frame / self.sample_rate

    @property
    def window_s(self) -> float:
        """Longest audio the encoder takes, in seconds."""
        return self.window_samples / self.sample_rate

    def __call__(self, waveforms: Waveforms, lengths: torch.Tensor | Sequence[int] | None = None, *,
                 sample_rate: int | None = None, hidden_layers: Sequence[int] = (), attentions: bool = False,
                 nbest: int | None = None) -> TeacherOutput:
        """Encode a batch (and beam-search N-best transcripts when ``nbest`` > 0); see ``TeacherOutput``."""
        audio = self.prepare_audio(waveforms, lengths, sample_rate)
        layers = self.resolve_layers(hidden_layers)
        with torch.inference_mode(), self.attention_implementation(attentions):
            encoded = self.model.model.encoder(self._features(audio), output_hidden_states=bool(layers),
                                               output_attentions=attentions)
        frames = torch.tensor([encoder_frames(len(a), self.samples_per_frame) for a in audio], device=self.device)
        num_frames = int(frames.max())
        n = self.default_nbest if nbest is None else nbest
        nbest_lists = None
        if n > 0:
            candidates = self._beam_candidates(encoded.last_hidden_state, max(n, self.beam_size))
            nbest_lists = tuple(tuple(merge_nbest(c, n)) for c in candidates)
        return TeacherOutput(
            lengths=frames, frame_period_ms=self.frame_period_ms, labels=self.labels,
            hidden_states=self.select_hidden(encoded.hidden_states, layers, frames, num_frames),
            attentions=(tuple(a[..., :num_frames, :num_frames].clone() for a in encoded.attentions)
                        if attentions else None),
            nbest=nbest_lists)

    def candidates(self, waveforms: Waveforms, lengths: torch.Tensor | Sequence[int] | None = None, *,
                   sample_rate: int | None = None, beams: int | None = None) -> list[list[Candidate]]:
        """Every beam's ``(spoken text, summed token log-prob, token ids)`` per item, before merging."""
        audio = self.prepare_audio(waveforms, lengths, sample_rate)
        with torch.inference_mode():
            encoded = self.model.model.encoder(self._features(audio))
        return self._beam_candidates(encoded.last_hidden_state, beams or self.beam_size)

    def _features(self, audio: list) -> torch.Tensor:
        """Log-mel features padded to the encoder window; longer audio is an error (no chunking)."""
        features = window_log_mel(self.processor.feature_extractor, audio, self.window_samples, "Whisper teacher")
        return features.to(self.device, next(self.model.parameters()).dtype)

    def _beam_candidates(self, encoder_states: torch.Tensor, beams: int) -> list[list[Candidate]]:
        if self.decoder is not None:
            room = self.model.config.max_target_positions - len(self.prompt)
            return [[self._candidate(tokens, score, set()) for tokens, score in item]
                    for item in self.decoder.generate(encoder_states, self.prompt, beams, room)]
        from transformers import GenerationMixin
        from transformers.modeling_outputs import BaseModelOutput

        batch = encoder_states.shape[0]
        prompt = torch.tensor([self.prompt], device=self.device).expand(batch, -1)
        with torch.inference_mode():
            out = GenerationMixin.generate(
                self.model, encoder_outputs=BaseModelOutput(last_hidden_state=encoder_states),
                decoder_input_ids=prompt, num_beams=beams, num_return_sequences=beams, do_sample=False,
                max_length=self.model.config.max_target_positions, output_scores=True,
                return_dict_in_generate=True)
            token_log_probs = self.model.compute_transition_scores(
                out.sequences, out.scores, out.beam_indices, normalize_logits=False)
        scores = token_log_probs.float().sum(-1).view(batch, beams).tolist()
        generated = out.sequences[:, len(self.prompt):].view(batch, beams, -1).tolist()
        ends = eos_ids(self.model.generation_config)
        return [[self._candidate(tokens, score, ends) for tokens, score in zip(seqs, item_scores)]
                for seqs, item_scores in zip(generated, scores)]

    def _candidate(self, tokens: list[int], score: float, ends: set[int]) -> Candidate:
        kept = before_eos(tokens, ends)
        return spoken_text(self.processor.tokenizer, kept), score, tuple(kept)


def eos_ids(generation_config) -> set[int]:
    """The token ids that end a generated sequence (``eos_token_id`` may be one id or a list)."""
    eos = generation_config.eos_token_id
    return set(eos) if isinstance(eos, list) else {eos}


def before_eos(tokens: Sequence[int], ends: set[int]) -> list[int]:
    """``tokens`` up to (not including) the first end-of-sequence id."""
    end = next((i for i, t in enumerate(tokens) if t in ends), len(tokens))
    return list(tokens[:end])


def encoder_samples_per_frame(encoder: torch.nn.Module, feature_extractor) -> int:
    """Audio samples per encoder frame: the mel hop times the two convolutions' strides (320: 20 ms)."""
    return encoder.conv1.stride[0] * encoder.conv2.stride[0] * feature_extractor.hop_length


def encoder_frames(samples: int, samples_per_frame: int) -> int:
    """Encoder frames that cover ``samples`` of audio (the last one partly)."""
    return math.ceil(samples / samples_per_frame)


def window_log_mel(feature_extractor, audio: Sequence, window_samples: int, who: str) -> torch.Tensor:
    """(B, mels, frames) log-mel features of ``audio`` padded to a ``window_samples`` window; audio longer
    than the window is a DataError (the Whisper encoders here do not chunk)."""
    rate = feature_extractor.sampling_rate
    for i, a in enumerate(audio):
        if len(a) > window_samples:
            raise DataError(f"waveform {i}", f"{len(a) / rate:.1f} s is longer than this {who}'s "
                            f"{window_samples / rate:g} s window; split it into shorter segments")
    return feature_extractor(audio, sampling_rate=rate, padding="max_length", max_length=window_samples,
                             return_tensors="pt").input_features


def shorten_encoder_window(model: torch.nn.Module, window_s: float, feature_extractor) -> None:
    """Make the encoder take ``window_s`` seconds instead of its trained window (30 s for OpenAI's models).

    Whisper adds a fixed positional embedding per encoder frame and was trained on padded 30 s windows;
    keeping only the first positions makes the encoder (and the decoder's cross-attention) proportionally
    cheaper. Outputs change slightly (the padding the model saw in training is shorter), so measure the
    WER before relying on a shorter window. The model is changed in place (config included).
    """
    encoder = model.model.encoder
    samples_per_frame = encoder_samples_per_frame(encoder, feature_extractor)
    frames = math.ceil(window_s * feature_extractor.sampling_rate / samples_per_frame)
    trained = encoder.embed_positions.num_embeddings
    if not 1 <= frames <= trained:
        raise ValueError(f"window_s {window_s:g} must be between {samples_per_frame / feature_extractor.sampling_rate:g} "
                         f"s and the trained window, {trained * samples_per_frame / feature_extractor.sampling_rate:g} s")
    if frames == trained:
        return
    weight = encoder.embed_positions.weight.detach()[:frames].clone()
    encoder.embed_positions = torch.nn.Embedding.from_pretrained(weight, freeze=True)
    model.config.max_source_positions = frames
    encoder.config.max_source_positions = frames
    encoder.max_source_positions = frames


def spoken_text(tokenizer, tokens: Sequence[int]) -> str:
    """Whisper tokens -> the shared spoken form ("Dr. 5:30" -> "doctor five thirty")."""
    return normalize_text(tokenizer.decode(list(tokens), skip_special_tokens=True))


def whisper_prompt(generation_config, config, language: str) -> list[int]:
    """Decoder prompt: start of transcript, language + transcribe when the model has those tokens, no-timestamps.

    Hub multilingual and home-trained checkpoints list their language/task tokens in ``lang_to_id`` and
    ``task_to_id``; English-only hub checkpoints have neither and start straight after the SOT token.
    """
    start = getattr(generation_config, "decoder_start_token_id", None) or config.decoder_start_token_id
    prompt = [int(start)]
    lang_to_id = getattr(generation_config, "lang_to_id", None) or {}
    task_to_id = getattr(generation_config, "task_to_id", None) or {}
    if f"<|{language}|>" in lang_to_id and "transcribe" in task_to_id:
        prompt += [int(lang_to_id[f"<|{language}|>"]), int(task_to_id["transcribe"])]
    elif getattr(generation_config, "is_multilingual", False):
        raise ValueError(f"multilingual Whisper teacher has no <|{language}|> language or transcribe task token")
    no_timestamps = getattr(generation_config, "no_timestamps_token_id", None)
    if no_timestamps is not None:
        prompt.append(int(no_timestamps))
    return prompt

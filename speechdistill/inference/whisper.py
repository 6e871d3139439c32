"""A Whisper teacher as a recogniser: text from the decoder (greedy, or beam search of ``beam.beam_size``)."""

from __future__ import annotations

import numpy as np
import torch

from ..teachers.whisper import DEFAULT_BEAMS, WhisperTeacher, spoken_text
from .recognizer import DecodeOptions, Recognizer


class WhisperRecognizer(Recognizer):
    """Transcribes with a ``WhisperTeacher``; audio longer than its encoder window is refused (no chunking)."""

    family = "whisper"

    def __init__(self, teacher: WhisperTeacher, *, kind: str = "teacher", decode: DecodeOptions | None = None):
        super().__init__(name=teacher.name, kind=kind, labels=teacher.labels, sample_rate=teacher.sample_rate,
                         num_parameters=teacher.num_parameters)
        self.teacher = teacher
        self.set_decode(decode or DecodeOptions())

    def set_decode(self, decode: DecodeOptions) -> Recognizer:
        if decode.beam is not None and (decode.beam.lexicon or decode.beam.lm):
            raise ValueError("a lexicon or language model applies to CTC models, not to Whisper")
        return super().set_decode(decode)

    @property
    def max_duration_s(self) -> float:
        return self.teacher.window_s

    def transcribe_waveforms(self, waveforms: list[np.ndarray]) -> list[str]:
        if self.decode_options.decoder == "beam":
            beam = self.decode_options.beam
            # the teacher's beam search needs two beams or more (its scoring reads beam indices)
            beams = max(2, beam.beam_size if beam is not None else DEFAULT_BEAMS)
            return [candidates[0][0] for candidates in self.teacher.candidates(waveforms, beams=beams)]
        return self._greedy(waveforms)

    def _greedy(self, waveforms: list[np.ndarray]) -> list[str]:
        """Best-token-first generation (the teacher's own path only does beam search)."""
        from transformers import GenerationMixin

        teacher = self.teacher
        if teacher.decoder is not None:  # CTranslate2 decodes greedily with one beam
            return [candidates[0][0] for candidates in teacher.candidates(waveforms, beams=1)]
        # _features applies the teacher's window policy (pads to the window, refuses longer audio)
        features = teacher._features(teacher.prepare_audio(waveforms))
        prompt = torch.tensor([teacher.prompt], device=teacher.device).expand(len(waveforms), -1)
        with torch.inference_mode():
            sequences = GenerationMixin.generate(
                teacher.model, input_features=features, decoder_input_ids=prompt, num_beams=1, do_sample=False,
                max_length=teacher.model.config.max_target_positions)
        eos = teacher.model.generation_config.eos_token_id
        eos_ids = set(eos) if isinstance(eos, list) else {eos}
        texts = []
        for row in sequences[:, prompt.shape[1]:].tolist():
            end = next((i for i, t in enumerate(row) if t in eos_ids), len(row))
            texts.append(spoken_text(teacher.processor.tokenizer, row[:end]))
        return texts

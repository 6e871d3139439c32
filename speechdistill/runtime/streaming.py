"""Streaming recognition with an exported streaming bundle, on numpy + onnxruntime alone (no torch).

The same loop sherpa-onnx's ``OnlineRecognizer.from_wenet_ctc`` runs (online-recognizer-ctc-impl.h), so both
give the same text on the same audio:

- features: Kaldi fbank of the samples scaled to the int16 range, computed as audio arrives
  (:class:`OnlineFbank`; a frame is ready once its whole 25 ms window has arrived);
- a chunk of ``(C - 1) * 4 + 7`` frames runs once more than that many frames are ready, then the window
  moves by ``C * 4`` frames; caches and the attention mask follow sherpa-onnx's WeNet-CTC layout;
- greedy CTC across chunks, counting trailing blanks for endpointing (:class:`EndpointRules`, sherpa-onnx's
  three rules and defaults); after an endpoint the next utterance starts with an empty result and fresh
  caches, as sherpa-onnx's ``reset`` does.

A partial chunk at the end of the input never runs (as in sherpa-onnx): :meth:`OnlineStream.finish` adds
silence first so the last words come out: by default just enough for one more chunk with its look-ahead
(:attr:`StreamingRecognizer.tail_padding_s`: 0.7 s for 640 ms chunks, 0.4 s for 320 ms ones).

    recognizer = StreamingRecognizer("bundle/")
    stream = recognizer.create_stream()
    for piece in pieces:                       # e.g. 0.1 s of 16 kHz float samples
        stream.accept_waveform(piece)
        stream.decode_ready()
        print(stream.text)                     # partial result
        if stream.is_endpoint():
            print("final:", stream.take_segment().text)
    stream.finish(); print("final:", stream.take_segment().text)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..text import normalize_text
from .bundle import BLANK_TOKEN, SPACE_TOKEN, BundleInfo, read_bundle
from .fbank import FbankOptions, window_fbank

SUBSAMPLING = 4
RIGHT_CONTEXT = 6  # fbank frames of look-ahead in the 4x subsampling
INPUT_NAMES = ("x", "offset", "required_cache_size", "attn_cache", "conv_cache", "attn_mask")


class OnlineFbank:
    """Kaldi fbank of a signal that arrives in pieces; equal to ``runtime.fbank`` of the whole signal (snip_edges
    false), like kaldi-native-fbank's OnlineFbank: a frame is ready once its whole window has arrived, and
    the last frames (mirrored at the end) once the input is finished.

    scale: samples are multiplied by it first (32768: sherpa-onnx's WeNet-CTC input range).
    Frames are computed when asked for (one batch per chunk, not one per piece of audio); samples no future
    frame needs are dropped, so memory stays bounded on endless input.
    """

    def __init__(self, options: FbankOptions | None = None, scale: float = 1.0):
        options = options or FbankOptions()
        if options.snip_edges:
            raise ValueError("OnlineFbank follows sherpa-onnx: snip_edges must be false")
        self.options, self.scale = options, scale
        self._pieces: list[np.ndarray] = []
        self._samples = np.zeros(0, np.float32)
        self._base = 0  # absolute index of _samples[0]
        self._received = 0
        self._finished = False
        self._computed = np.zeros((0, options.num_bins), np.float32)  # frames _first_kept.. computed so far
        self._first_kept = 0

    @property
    def _first_offset(self) -> int:  # frame i's window starts at sample i * shift + this
        return self.options.shift_samples // 2 - self.options.window_samples // 2

    @property
    def frames_ready(self) -> int:
        shift, window = self.options.shift_samples, self.options.window_samples
        if self._finished:
            return (self._received + shift // 2) // shift
        return max(0, (self._received - window - self._first_offset) // shift + 1)

    def accept(self, samples: np.ndarray) -> None:
        if self._finished:
            raise ValueError("input already finished")
        samples = np.asarray(samples, np.float32).reshape(-1)
        self._pieces.append(samples * self.scale if self.scale != 1.0 else samples)
        self._received += len(samples)

    def input_finished(self) -> None:
        self._finished = True

    def frames(self, start: int, count: int) -> np.ndarray:
        """(count, bins) frames start..start+count-1; frames before ``start`` are forgotten."""
        if start + count > self.frames_ready or start < self._first_kept:
            raise ValueError(f"frames {start}..{start + count} not available ({self._first_kept}..{self.frames_ready})")
        self._compute(start + count)
        self._computed = self._computed[start - self._first_kept:]
        self._first_kept = start
        return self._computed[:count]

    def _compute(self, upto: int) -> None:
        """Compute frames up to ``upto`` (exclusive), then drop the samples no later frame reads."""
        done = self._first_kept + len(self._computed)
        if upto <= done:
            return
        if self._pieces:
            self._samples = np.concatenate([self._samples, *self._pieces])
            self._pieces = []
        shift, window = self.options.shift_samples, self.options.window_samples
        index = self._first_offset + np.arange(done, upto)[:, None] * shift + np.arange(window)[None, :]
        if self._finished:  # Kaldi's mirror at the end (and, for tiny inputs, at both ends)
            index = index % (2 * self._received)
            index = np.where(index >= self._received, 2 * self._received - 1 - index, index)
        if done == 0:  # Kaldi's mirror at the start (frame 0's window begins before sample 0)
            index = np.where(index < 0, -index - 1, index)
        self._computed = np.concatenate([self._computed, window_fbank(self._samples[index - self._base], self.options)])
        keep_from = max(0, upto * shift + self._first_offset)
        if keep_from > self._base:
            self._samples = self._samples[keep_from - self._base:]
            self._base = keep_from


@dataclass(frozen=True)
class EndpointRules:
    """sherpa-onnx's endpoint rules (endpoint.h), in seconds; any one ends an utterance.

    rule 1: this much trailing silence (blank frames) even if nothing was recognised;
    rule 2: this much trailing silence after something was recognised;
    rule 3: the utterance is this long.
    """

    rule1_min_trailing_silence_s: float = 2.4
    rule2_min_trailing_silence_s: float = 1.2
    rule3_min_utterance_s: float = 20.0

    def is_endpoint(self, utterance_s: float, trailing_silence_s: float) -> bool:
        """Whether a rule fires; compared in float32 as sherpa-onnx does (30 blank frames x 40 ms in float32
        is 1.1999999 s, which does not reach rule 2's 1.2 s there, so it must not here either)."""
        utterance, silence = np.float32(utterance_s), np.float32(trailing_silence_s)
        speech = utterance > silence
        return bool(silence >= np.float32(self.rule1_min_trailing_silence_s)
                    or (speech and silence >= np.float32(self.rule2_min_trailing_silence_s))
                    or utterance >= np.float32(self.rule3_min_utterance_s))


@dataclass(frozen=True)
class Segment:
    """One utterance cut by the endpointer: its text and its span in the input, in seconds."""

    text: str
    start_s: float
    end_s: float


@dataclass
class _Greedy:
    """Greedy CTC over chunks, as sherpa-onnx's OnlineCtcGreedySearchDecoder."""

    tokens: list[int] = field(default_factory=list)
    trailing_blanks: int = 0

    def update(self, log_probs: np.ndarray, blank: int) -> None:
        previous = -1 if not self.tokens else blank if self.trailing_blanks else self.tokens[-1]
        for label in log_probs.argmax(-1).tolist():
            self.trailing_blanks = self.trailing_blanks + 1 if label == blank else 0
            if label != blank and label != previous:
                self.tokens.append(label)
            previous = label


class StreamingRecognizer:
    """A streaming bundle in an onnxruntime session; :meth:`create_stream` per audio source.

    precision: 'int8' (default; fp32 when the bundle has none) or 'fp32'. threads: intra-op threads.
    endpoint: rules that split a long input into utterances; None never splits.
    """

    def __init__(self, bundle: str | Path | BundleInfo, precision: str = "int8", *, threads: int | None = None,
                 endpoint: EndpointRules | None = EndpointRules()):
        import onnxruntime as ort

        self.info = bundle if isinstance(bundle, BundleInfo) else read_bundle(bundle)
        settings = self.info.extra.get("streaming")
        if not isinstance(settings, dict):
            raise ValueError(f"{self.info.path}: not a streaming bundle (export with --streaming)")
        if precision == "int8" and "int8" not in self.info.files:
            precision = "fp32"
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        options.log_severity_level = 3
        self.precision = precision
        self.session = ort.InferenceSession(str(self.info.model_file(precision)), options,
                                            providers=["CPUExecutionProvider"])
        self.chunk_frames = int(settings["chunk_frames"])
        self.left_chunks = int(settings["left_chunks"])
        self.sample_scale = float(settings.get("sample_scale", 32768.0))
        self.endpoint = endpoint
        self.blank = self.info.tokens.index(BLANK_TOKEN)
        self.sample_rate = self.info.fbank.sample_rate_hz
        shapes = {i.name: i.shape for i in self.session.get_inputs()}
        self._cache_shapes = (tuple(shapes["attn_cache"]), tuple(shapes["conv_cache"]))

    @property
    def chunk_input_frames(self) -> int:
        return (self.chunk_frames - 1) * SUBSAMPLING + RIGHT_CONTEXT + 1

    @property
    def chunk_shift_frames(self) -> int:
        return self.chunk_frames * SUBSAMPLING

    @property
    def tail_padding_s(self) -> float:
        """Silence :meth:`OnlineStream.finish` adds by default: the last input frame may sit at the start of a
        chunk, which runs once ``chunk_input_frames`` more frames exist (one more frame, as :meth:`is_ready`
        wants more than that, and one for Kaldi's half-shift rounding), rounded up to 0.1 s."""
        shift_s = self.info.fbank.frame_shift_ms / 1000
        return math.ceil((self.chunk_input_frames + 3) * shift_s * 10 - 1e-9) / 10

    def create_stream(self) -> OnlineStream:
        return OnlineStream(self)

    def initial_state(self) -> tuple[np.ndarray, np.ndarray, int]:
        attn, conv = self._cache_shapes
        return np.zeros(attn, np.float32), np.zeros(conv, np.float32), self.chunk_frames * self.left_chunks

    def run_chunk(self, features: np.ndarray, attn_cache: np.ndarray, conv_cache: np.ndarray,
                  offset: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(C, V) log-probs and the new caches for one chunk of (chunk_input_frames, bins) features."""
        cache_frames = self.chunk_frames * self.left_chunks
        mask = np.ones((1, 1, cache_frames + self.chunk_frames), bool)
        seen = offset - cache_frames
        if seen < cache_frames:
            mask[..., : cache_frames - seen] = False
        feeds = (features[None].astype(np.float32), np.array([offset], np.int64), np.array([cache_frames], np.int64),
                 attn_cache, conv_cache, mask)
        log_probs, attn_cache, conv_cache = self.session.run(None, dict(zip(INPUT_NAMES, feeds)))
        return log_probs[0], attn_cache, conv_cache

    def text(self, tokens: Iterable[int]) -> str:
        """Normalised text of token ids (``▁`` -> space, specials dropped)."""
        pieces = []
        for i in tokens:
            symbol = self.info.tokens[i]
            if symbol == BLANK_TOKEN or (symbol.startswith("<") and symbol.endswith(">")):
                continue
            pieces.append(" " if symbol == SPACE_TOKEN else symbol)
        return normalize_text(" ".join("".join(pieces).split()))

    def transcribe(self, audio, *, sample_rate: int | None = None, piece_s: float = 0.1) -> str:
        """The text of one file or 1-D array, streamed in ``piece_s`` pieces (segments joined by spaces)."""
        from .recognizer import read_audio

        signal = read_audio(audio, self.sample_rate, sample_rate)
        return " ".join(s.text for s in self.segments(signal, piece_s=piece_s) if s.text)

    @property
    def size_bytes(self) -> int:
        return (self.info.path / self.info.files[self.precision]).stat().st_size

    def log_probs(self, signal: np.ndarray, tail_padding_s: float | None = None) -> np.ndarray:
        """(N, V) log-probs of one 16 kHz signal run chunk by chunk (tail padding included, None: the recognizer's
        :attr:`tail_padding_s`; no endpointing): what
        the greedy result of :meth:`segments` reads, for beam search, timestamps and ``speechdistill eval``."""
        stream = OnlineStream(self, keep_log_probs=True)
        stream.accept_waveform(signal)
        stream.finish(tail_padding_s)
        return (np.concatenate(stream.log_probs) if stream.log_probs
                else np.zeros((0, len(self.info.tokens)), np.float32))

    def segments(self, signal: np.ndarray, *, piece_s: float = 0.1) -> Iterator[Segment]:
        """Utterances of a 16 kHz signal fed in ``piece_s`` pieces, cut by the endpointer; the last one at the end."""
        stream = self.create_stream()
        step = max(1, int(piece_s * self.sample_rate))
        for start in range(0, len(signal), step):
            stream.accept_waveform(signal[start:start + step])
            stream.decode_ready()
            if stream.is_endpoint():
                yield stream.take_segment()
        stream.finish()
        yield stream.take_segment()


class OnlineStream:
    """One audio source's state: features, caches, the greedy result, and endpoint counters."""

    def __init__(self, recognizer: StreamingRecognizer, *, keep_log_probs: bool = False):
        self.recognizer = recognizer
        self.log_probs: list[np.ndarray] | None = [] if keep_log_probs else None  # every chunk's, when kept
        self.fbank = OnlineFbank(recognizer.info.fbank, recognizer.sample_scale)
        self.attn_cache, self.conv_cache, self.offset = recognizer.initial_state()
        self.processed = 0  # fbank frames consumed (moves by the chunk shift)
        self.segment_start = 0  # fbank frame where the current utterance began
        self.result = _Greedy()
        self.frame_shift_s = recognizer.info.fbank.frame_shift_ms / 1000

    def accept_waveform(self, samples: np.ndarray) -> None:
        """Append mono float samples in [-1, 1] at the bundle's sample rate."""
        self.fbank.accept(samples)

    def input_finished(self) -> None:
        self.fbank.input_finished()

    def is_ready(self) -> bool:
        return self.processed + self.recognizer.chunk_input_frames < self.fbank.frames_ready

    def decode(self) -> None:
        """Run one chunk (call only when :meth:`is_ready`)."""
        rec = self.recognizer
        features = self.fbank.frames(self.processed, rec.chunk_input_frames)
        self.processed += rec.chunk_shift_frames
        log_probs, self.attn_cache, self.conv_cache = rec.run_chunk(features, self.attn_cache, self.conv_cache,
                                                                    self.offset)
        self.offset += log_probs.shape[0]
        self.result.update(log_probs, rec.blank)
        if self.log_probs is not None:
            self.log_probs.append(log_probs)

    def decode_ready(self) -> int:
        """Run every chunk that is ready; the number run."""
        count = 0
        while self.is_ready():
            self.decode()
            count += 1
        return count

    def finish(self, tail_padding_s: float | None = None) -> None:
        """End of input: add ``tail_padding_s`` of silence (None: the recognizer's :attr:`tail_padding_s`), then run
        every chunk left."""
        if tail_padding_s is None:
            tail_padding_s = self.recognizer.tail_padding_s
        self.accept_waveform(np.zeros(int(tail_padding_s * self.recognizer.sample_rate), np.float32))
        self.input_finished()
        self.decode_ready()

    @property
    def text(self) -> str:
        """The current utterance's (partial) text."""
        return self.recognizer.text(self.result.tokens)

    def is_endpoint(self) -> bool:
        rules = self.recognizer.endpoint
        if rules is None:
            return False
        shift = np.float32(self.frame_shift_s)  # float32 products, as sherpa-onnx computes them
        utterance_s = np.float32(self.processed - self.segment_start) * shift
        silence_s = np.float32(self.result.trailing_blanks * SUBSAMPLING) * shift
        return rules.is_endpoint(utterance_s, silence_s)

    def take_segment(self) -> Segment:
        """The current utterance as a Segment, then :meth:`reset`."""
        segment = Segment(self.text, self.segment_start * self.frame_shift_s, self.processed * self.frame_shift_s)
        self.reset()
        return segment

    def reset(self) -> None:
        """Start a new utterance where the last chunk ended: empty result and fresh caches, as sherpa-onnx 2.x's
        ``OnlineRecognizer.reset`` does for CTC models (features are not recomputed)."""
        self.result = _Greedy()
        self.segment_start = self.processed
        self.attn_cache, self.conv_cache, self.offset = self.recognizer.initial_state()


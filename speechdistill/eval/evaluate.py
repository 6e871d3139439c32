"""Score a model on a labelled manifest: WER/CER, per-utterance errors, top substitutions, a bootstrap CI.

Writes into ``out`` (when given): ``metrics.json`` (WER and CER as fractions), ``utterances.jsonl`` (one
``{id, ref, hyp, errors, ref_words, ...}`` line per scored utterance, references and hypotheses as
normalised for scoring), ``skipped.jsonl`` (entries skipped under ``skip_bad``) and ``lexicon.txt``
(when one was built for beam search). Manifest transcripts already arrive in the package's spoken form
(the readers normalise them); the chosen normaliser is applied on top, to both sides.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..data.audio import load_audio
from ..data.batching import duration_batches
from ..data.errors import DataError, SkipReport
from ..data.manifests import read_manifest
from ..data.records import Utterance
from ..data.validate import skip_report_path
from ..decode.beam import BeamSearchOptions
from ..inference import DecodeOptions, Recognizer, load
from ..io import atomic_write_text
from ..progress import is_terminal, progress_bar
from ..text import WORD_DELIMITER
from .analysis import BOOTSTRAP_RESAMPLES, TOP_SUBSTITUTIONS, CorpusScore, bootstrap_wer_ci, score_corpus
from .lexicon import resolve_lexicon
from .metrics import cer
from .normalizers import find_spelling_table, get_normalizer

DEFAULT_BATCH_SECONDS = 60.0


@dataclass(frozen=True)
class EvalOptions:
    """What ``speechdistill eval`` does. ``lexicon``: 'auto', 'none', a lexicon file or a training manifest;
    ``beam_size`` None: the decoder's default; ``progress`` None: a bar when stderr is a terminal;
    ``window_s``: Whisper teachers only, the encoder window in seconds (None: the model's own);
    ``teacher_backend`` / ``compute_type``: Whisper teachers only, who decodes (torch or ctranslate2)."""

    model: str
    manifest: str
    decoder: str = "greedy"
    lexicon: str = "auto"
    lm: str | None = None
    lm_weight: float = 2.0
    beam_size: int | None = None
    normalizer: str = "default"
    out: str | None = None
    skip_bad: bool = False
    batch_seconds: float = DEFAULT_BATCH_SECONDS
    device: str = "cpu"
    precision: str = "int8"  # bundles only: which ONNX graph runs
    progress: bool | None = None
    bootstrap_resamples: int = BOOTSTRAP_RESAMPLES
    seed: int = 0
    window_s: float | None = None
    teacher_backend: str = "torch"
    compute_type: str = "int8"

    def __post_init__(self) -> None:
        if self.batch_seconds <= 0:
            raise ValueError(f"--batch-seconds must be positive, got {self.batch_seconds}")
        if self.window_s is not None and self.window_s <= 0:
            raise ValueError(f"--window-s must be positive, got {self.window_s}")


@dataclass(frozen=True)
class EvalResult:
    """``metrics`` as written to metrics.json; ``utterances`` as written to utterances.jsonl."""

    metrics: dict
    utterances: tuple[dict, ...] = ()
    files: dict[str, Path] = field(default_factory=dict)


def evaluate(options: EvalOptions) -> EvalResult:
    """Load the model, transcribe the manifest, score it, and write the outputs into ``options.out``."""
    out = Path(options.out) if options.out else None
    normalizer = get_normalizer(options.normalizer, _spelling(options))
    report = SkipReport("skip" if options.skip_bad else "raise")
    # the manifest first: an empty or broken one fails before a model is loaded
    utterances = read_manifest(options.manifest, labelled=True, report=report, vocab=None)
    _require_some(utterances, report, options, out)
    recognizer = load(options.model, device=options.device, precision=options.precision, window_s=options.window_s,
                      teacher_backend=options.teacher_backend, compute_type=options.compute_type)
    with tempfile.TemporaryDirectory() as scratch:
        decode, lexicon_note = decode_settings(
            recognizer, options.model, out or Path(scratch), decoder=options.decoder, lexicon=options.lexicon,
            lm=options.lm, lm_weight=options.lm_weight, beam_size=options.beam_size)
        recognizer.set_decode(decode)
        hyps, timing = transcribe_utterances(recognizer, utterances, report, options.batch_seconds, options.progress)
    scored = _scorable([u for u in utterances if u.id in hyps], normalizer, report)
    _require_some(scored, report, options, out)
    skip_note = _save_report(report, out, options.manifest) if options.skip_bad else None
    refs, hyp_list = [u.text or "" for u in scored], [hyps[u.id] for u in scored]
    corpus = score_corpus(refs, hyp_list, normalizer)
    metrics = _metrics(options, recognizer, corpus, cer(refs, hyp_list, normalizer), lexicon_note, timing)
    metrics.update(skipped=len(report), skip_report=skip_note)
    records = tuple(_record(u, s) for u, s in zip(scored, corpus.utterances))
    files = _write(out, metrics, records) if out is not None else {}
    return EvalResult(metrics, records, files)


def _require_some(utterances: list[Utterance], report: SkipReport, options: EvalOptions, out: Path | None) -> None:
    """An empty set has no WER: raise (after writing the skip report) when nothing is left to score."""
    if utterances:
        return
    if not len(report):
        raise ValueError(f"{options.manifest}: empty manifest, no utterances to evaluate (an empty set has no WER)")
    where = _save_report(report, out, options.manifest)
    raise ValueError(f"{options.manifest}: no utterances left to evaluate, all {len(report)} skipped; "
                     f"reasons in {where}")


def _scorable(utterances: list[Utterance], normalizer, report: SkipReport) -> list[Utterance]:
    """Utterances whose reference survives the normaliser (Whisper's drops fillers such as "hmm");
    an empty reference cannot be scored and follows the bad-input rules."""
    kept = []
    for utt in utterances:
        if normalizer(utt.text or ""):
            kept.append(utt)
        else:
            report.handle(DataError(f"utterance {utt.id}", f"reference {utt.text!r} is empty after normalisation"))
    return kept


def _spelling(options: EvalOptions) -> Path | None:
    if options.normalizer != "whisper" or not Path(options.model).expanduser().is_dir():
        return None
    return find_spelling_table(Path(options.model).expanduser())


def decode_settings(recognizer: Recognizer, model: str, workdir: Path, *, decoder: str = "greedy",
                    lexicon: str = "auto", lm: str | None = None, lm_weight: float = 2.0,
                    beam_size: int | None = None) -> tuple[DecodeOptions, str]:
    """Decoding settings from the command-line choices, and a note on the lexicon used.

    The lexicon is resolved against the model's labels (CTC beam search only; see ``resolve_lexicon``),
    built into ``workdir`` when it comes from a manifest. A lexicon path or LM without beam search, or
    with a Whisper model, is an error.
    """
    if decoder != "beam":
        if lm or lexicon not in ("auto", "none"):
            raise ValueError("--lexicon PATH and --lm apply to beam search: add --decoder beam")
        return DecodeOptions("greedy"), "none"
    size = {"beam_size": beam_size} if beam_size else {}
    if not recognizer.is_ctc:
        if lm or lexicon not in ("auto", "none"):
            raise ValueError(f"{model}: a lexicon or language model applies to CTC models, not to Whisper")
        return DecodeOptions("beam", BeamSearchOptions(**size) if size else None), "none"
    delimiter = getattr(recognizer, "delimiter", WORD_DELIMITER)
    path, note = resolve_lexicon(lexicon, model, recognizer.labels, workdir, delimiter=delimiter)
    beam = BeamSearchOptions(**size, lexicon=str(path) if path else None, lm=lm, lm_weight=lm_weight)
    return DecodeOptions("beam", beam), note


def transcribe_utterances(recognizer: Recognizer, utterances: list[Utterance], report: SkipReport,
                          batch_seconds: float, progress: bool | None = None) -> tuple[dict[str, str], dict]:
    """Hypothesis per utterance id, in batches of ``batch_seconds`` padded audio, and the timing figures.

    Audio that fails to load goes to ``report`` (raise, or skip and record); skipped ids have no hypothesis.
    """
    batches = duration_batches([u.duration_s for u in utterances], batch_seconds, seed=0, shuffle=False)
    hyps: dict[str, str] = {}
    audio_s = model_s = 0.0
    show = progress if progress is not None else is_terminal()
    for indices in progress_bar(batches, desc="evaluating", unit="batch", disable=not show):
        loaded = [(utterances[i], _load(utterances[i], recognizer, report)) for i in indices]
        loaded = [(u, audio) for u, audio in loaded if audio is not None]
        if not loaded:
            continue
        start = time.perf_counter()
        texts = recognizer.transcribe_waveforms([audio for _, audio in loaded])
        model_s += time.perf_counter() - start
        audio_s += sum(len(audio) for _, audio in loaded) / recognizer.sample_rate
        hyps.update((u.id, text) for (u, _), text in zip(loaded, texts))
    return hyps, {"audio_s": audio_s, "model_s": model_s, "rtf": model_s / audio_s if audio_s else None}


def _load(utt: Utterance, recognizer: Recognizer, report: SkipReport):
    try:
        return load_audio(utt.audio_path, recognizer.sample_rate, recognizer.max_duration_s)
    except DataError as exc:
        report.handle(DataError(exc.where, f"{exc.reason} (utterance {utt.id})"))
        return None


def _metrics(options: EvalOptions, recognizer: Recognizer, corpus: CorpusScore, cer_value: float,
             lexicon: str, timing: dict) -> dict:
    counts = corpus.counts
    per_utt = corpus.utterances
    lo, hi = bootstrap_wer_ci([u.errors for u in per_utt], [u.ref_words for u in per_utt],
                              n=options.bootstrap_resamples, seed=options.seed)
    beam = recognizer.decode_options.beam
    return {
        "wer": counts.wer, "cer": cer_value, "wer_ci95": [lo, hi], "num_utterances": len(per_utt),
        "substitutions": counts.substitutions, "deletions": counts.deletions, "insertions": counts.insertions,
        "ref_words": counts.reference_words,
        "top_substitutions": [{"ref": r, "hyp": h, "count": c}
                              for r, h, c in corpus.top_substitutions(TOP_SUBSTITUTIONS)],
        "model": str(options.model), "model_kind": recognizer.kind, "model_family": recognizer.family,
        "num_parameters": recognizer.num_parameters, "manifest": str(options.manifest),
        "decoder": options.decoder, "beam_size": beam.beam_size if beam else None, "lexicon": lexicon,
        "lm": options.lm, "lm_weight": options.lm_weight if options.lm else None, "normalizer": options.normalizer,
        "bootstrap": {"resamples": options.bootstrap_resamples, "seed": options.seed, "unit": "utterance"},
        **({"window_s": options.window_s} if options.window_s is not None else {}),
        **({"teacher_backend": options.teacher_backend, "compute_type": options.compute_type}
           if options.teacher_backend != "torch" else {}),
        **timing,
    }


def _record(utt: Utterance, score) -> dict:
    return {"id": utt.id, "ref": score.ref, "hyp": score.hyp, "errors": score.errors, "ref_words": score.ref_words,
            "substitutions": score.substitutions, "deletions": score.deletions, "insertions": score.insertions}


def _save_report(report: SkipReport, out: Path | None, manifest: str) -> str | None:
    """Write the skip report (``out/skipped.jsonl``, else beside the manifest) and return its path.

    With nothing skipped a stale report from an earlier run is removed and None returned.
    """
    path = out / "skipped.jsonl" if out is not None else skip_report_path(manifest)
    if not len(report):
        path.unlink(missing_ok=True)
        return None
    return str(report.write(path))


def _write(out: Path, metrics: dict, records: tuple[dict, ...]) -> dict[str, Path]:
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    return {"utterances": atomic_write_text(out / "utterances.jsonl", lines),
            "metrics": atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")}


def summary_line(metrics: dict) -> str:
    """One line for the terminal: WER with its interval, CER, counts, decoder and skips."""
    lo, hi = metrics["wer_ci95"]
    line = (f"WER {metrics['wer'] * 100:.2f}% (95% CI {lo * 100:.2f}-{hi * 100:.2f}%)  "
            f"CER {metrics['cer'] * 100:.2f}%  "
            f"{metrics['num_utterances']} utterances, {metrics['ref_words']} words "
            f"(S {metrics['substitutions']}, D {metrics['deletions']}, I {metrics['insertions']})  "
            f"decoder {metrics['decoder']}")
    return line + (f"  skipped {metrics['skipped']}" if metrics.get("skipped") else "")

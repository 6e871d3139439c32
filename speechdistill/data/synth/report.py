"""Manifest rows and the ``corpus.json`` summary of a synthetic corpus."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields

from .engines import Engine
from .plan import Effects, UtterancePlan, VoiceSets
from .splits import HELD_OUT_VARIANT_FRACTION, SPLIT_NAMES

_DEFAULT_EFFECTS = {f.name: f.default for f in fields(Effects)}


def effects_record(effects: Effects) -> dict:
    """The effects that differ from the identity, for the manifest (babble as its number of talkers)."""
    record = {k: v for k, v in asdict(effects).items() if v != _DEFAULT_EFFECTS[k] and k != "babble"}
    if effects.babble:
        record["babble_talkers"] = len(effects.babble)
    return record


def manifest_row(plan: UtterancePlan, duration_s: float) -> dict:
    """One NeMo manifest line: path relative to the corpus dir, duration, text, speaker and how it was made."""
    return {"audio_filepath": plan.audio_path, "duration": round(duration_s, 4), "text": plan.text,
            "speaker": plan.speaker, "engine": plan.engine, "voice": plan.voice,
            "params": dict(plan.params), "effects": effects_record(plan.effects), "seed": plan.seed}


def split_summary(name: str, rows: Sequence[dict]) -> dict:
    """Hours, utterances, speakers and per-engine counts of one split."""
    seconds = sum(r["duration"] for r in rows)
    return {"hours": round(seconds / 3600, 4), "utterances": len(rows),
            "speakers": len({r["speaker"] for r in rows}),
            "engines": dict(sorted(Counter(r["engine"] for r in rows).items())),
            "engine_hours": {e: round(sum(r["duration"] for r in rows if r["engine"] == e) / 3600, 4)
                             for e in sorted({r["engine"] for r in rows})},
            "manifest": f"{name}.jsonl"}


def summarise(rows: Mapping[str, Sequence[dict]], sets: VoiceSets, engines: Mapping[str, Engine],
              missing: Mapping[str, str], dropped: Sequence[str], build: Mapping) -> dict:
    """The corpus.json content: splits, engines and voices, vocabulary, and how the build went."""
    splits = {name: split_summary(name, rows[name]) for name in SPLIT_NAMES if name in rows}
    words = {w for split_rows in rows.values() for r in split_rows for w in r["text"].split()}
    train_words = {w for r in rows.get("train", ()) for w in r["text"].split()}
    held_out = sorted({v.partition("+")[2] for v in sets.held_out.get("espeak", ())})
    return {
        **build,
        "splits": splits,
        "hours_total": round(sum(s["hours"] for s in splits.values()), 4),
        "engines": {name: {"voices": len(engine.voices()), "voices_seen": len(sets.seen.get(name, ())),
                           "voices_held_out": len(sets.held_out.get(name, ())) + len(sets.unseen_engine.get(name, ()))}
                    for name, engine in engines.items()},
        "engines_missing": dict(missing),
        "espeak_voices_dropped": list(dropped),
        "held_out_variants": held_out,
        "held_out_variant_fraction": HELD_OUT_VARIANT_FRACTION,
        "vocabulary_size": len(words),
        "vocabulary_size_train": len(train_words),
    }

"""How good a teacher's cached 1-best pseudo-labels are at each confidence threshold, on the labelled share only.

Scenario B of the method comparison keeps the transcripts of a fixed share of the train split
(``data.labelled_fraction``); its pseudo-labelling recipe keeps a teacher's 1-best only where the 1-best's
posterior within its N-best list reaches ``min_posterior``. Tune that threshold here, on the labelled share (the
only transcripts scenario B may read), never on dev or test.

Usage (from the repository root, after ``speechdistill cache-teacher recipes/synthetic_commands/cache/whisper.yaml``):
    python benchmarks/pseudo_label_filter.py [--cache runs/cache/whisper] [--manifest runs/corpus/train.jsonl] \
        [--labelled-fraction 0.1] [--thresholds 0.5 0.7 0.8 0.9 0.95] [--out DIR]

Per threshold: the share of labelled utterances kept and the corpus WER of their 1-best against the reference, in
all and per speech engine (the synthetic corpus's speakers are 'engine/voice'). Writes ``results.json`` and
``pseudo_label_filter.md`` into ``--out`` (default ``benchmarks/results/<YYYY-MM-DD>_pseudo_label_filter``).
"""

from __future__ import annotations

import argparse
import datetime
import json
from collections.abc import Sequence
from pathlib import Path

from speechdistill.cache import CacheError, open_cache
from speechdistill.data.manifests import read_manifest
from speechdistill.data.records import Utterance
from speechdistill.data.subsets import labelled_ids
from speechdistill.eval.metrics import wer
from speechdistill.io import atomic_write_text

THRESHOLDS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95)


def engine_of(utterance: Utterance) -> str:
    """The speech engine of a synthetic-corpus utterance (its speaker is 'engine/voice'), else "all"."""
    return (utterance.speaker or "all").partition("/")[0]


def threshold_rows(pairs: Sequence[tuple[str, str, float, str]], thresholds: Sequence[float]) -> list[dict]:
    """pairs: (reference, 1-best, posterior, engine) -> per threshold the kept share and WER, overall and per engine."""
    rows = []
    for threshold in thresholds:
        kept = [p for p in pairs if p[2] >= threshold]
        row = {"min_posterior": threshold, "kept": len(kept), "kept_share": len(kept) / max(1, len(pairs)),
               "wer": wer([p[0] for p in kept], [p[1] for p in kept]) if kept else None, "engines": {}}
        for engine in sorted({p[3] for p in pairs}):
            mine = [p for p in kept if p[3] == engine]
            total = sum(p[3] == engine for p in pairs)
            row["engines"][engine] = {"kept_share": len(mine) / max(1, total),
                                      "wer": wer([p[0] for p in mine], [p[1] for p in mine]) if mine else None}
        rows.append(row)
    return rows


def render(rows: list[dict], facts: dict) -> str:
    engines = list(rows[0]["engines"]) if rows else []
    head = "| min_posterior | kept | WER | " + " | ".join(f"{e} kept / WER" for e in engines) + " |"
    lines = [f"# Pseudo-label filter: {facts['cache']} on the labelled {facts['labelled_fraction']:.0%} of "
             f"{facts['manifest']} ({facts['labelled']} utterances)", "", head, "|" + "---|" * (3 + len(engines))]

    def pct(x: float | None) -> str:
        return "–" if x is None else f"{100 * x:.1f}%"

    for r in rows:
        per = " | ".join(f"{pct(r['engines'][e]['kept_share'])} / {pct(r['engines'][e]['wer'])}" for e in engines)
        lines.append(f"| {r['min_posterior']:g} | {pct(r['kept_share'])} | {pct(r['wer'])} | {per} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default="runs/cache/whisper")
    parser.add_argument("--manifest", default="runs/corpus/train.jsonl")
    parser.add_argument("--labelled-fraction", type=float, default=0.1)
    parser.add_argument("--thresholds", type=float, nargs="+", default=list(THRESHOLDS))
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    cache = open_cache(args.cache)
    utterances = read_manifest(args.manifest, labelled=True, vocab=None)
    labelled = labelled_ids([u.id for u in utterances], args.labelled_fraction)
    chosen = [u for u in utterances if u.id in labelled]
    try:
        items = cache.items([u.id for u in chosen], names=())
    except CacheError as exc:  # names the ids missing, and the manifest the cache was built from
        raise SystemExit(str(exc)) from None
    pairs = []
    for utterance, item in zip(chosen, items, strict=True):
        if not item.nbest:
            raise SystemExit(f"{args.cache}: {item.id} has no N-best list: build the cache with nbest >= 1")
        pairs.append((utterance.text, item.nbest[0].text, item.nbest[0].posterior, engine_of(utterance)))
    rows = threshold_rows(pairs, sorted(args.thresholds))
    facts = {"cache": args.cache, "manifest": args.manifest, "labelled_fraction": args.labelled_fraction,
             "labelled": len(pairs), "teacher": cache.meta.get("config", {}).get("teacher")}
    out = Path(args.out or f"benchmarks/results/{datetime.date.today():%Y-%m-%d}_pseudo_label_filter")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "results.json", json.dumps({**facts, "rows": rows}, indent=2) + "\n")
    report = render(rows, facts)
    atomic_write_text(out / "pseudo_label_filter.md", report)
    print(report, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

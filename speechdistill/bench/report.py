"""report.md from results.json: the honest labels, then one table per test manifest.

WER and CER are fractions in results.json and percentages here. The same renderers feed the README's
results block (:mod:`speechdistill.bench.readme`), so no figure is ever typed by hand.
"""

from __future__ import annotations

from pathlib import Path

from ..io import atomic_write_text

COLUMNS = ("Model", "Role", "Runtime", "WER", "CER", "RTF 1-thread median", "RTF 1-thread p90", "RTFx",
           "5 s latency (ms)", "Params", "Size (MB)", "Peak RSS (MB)", "RSS above baseline (MB)", "Utterances")
DASH = "–"
RESULTS_NAME = "results.json"


def _num(value, fmt: str) -> str:
    return DASH if value is None else format(value, fmt)


def _params(value: int | None) -> str:
    return DASH if value is None else f"{value / 1e6:.2f}M"


def _size(row: dict) -> str:
    dtypes = row.get("weights_dtypes") or []
    return _num(row["size_mb"], ".1f") + (f" ({'/'.join(dtypes)})" if dtypes else "")


def table_row(row: dict) -> str:
    """One Markdown table line for a results row."""
    rtfx = f"{_num(row.get('rtfx'), '.1f')} ({row.get('rtfx_threads', '?')} thr)"
    cells = (row["model"], row["role"], row["runtime"], _num(row["wer"] * 100, ".2f") + "%",
             _num(row["cer"] * 100, ".2f") + "%", _num(row["rtf_1thread_median"], ".3f"),
             _num(row["rtf_1thread_p90"], ".3f"), rtfx, _num(row["latency_5s_ms"], ".0f"), _params(row["params"]),
             _size(row), _num(row["peak_mem_mb"], ".0f"), _num(row.get("peak_mem_delta_mb"), ".0f"),
             str(row["num_utterances"]))
    return "| " + " | ".join(cells) + " |"


def manifest_tables(results: dict, heading: str = "###") -> str:
    """A heading and a table for every manifest, rows in run order."""
    manifests = list(dict.fromkeys(r["manifest"] for r in results["rows"]))
    blocks = []
    for name in manifests:
        rows = [r for r in results["rows"] if r["manifest"] == name]
        lines = [f"{heading} {name}", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        blocks.append("\n".join(lines + [table_row(r) for r in rows]))
    return "\n\n".join(blocks)


def labels(header: dict) -> str:
    """The honest labels: corpus, machine, threads, load, commit, and what the columns mean."""
    threads = header["threads"]
    quick = ("\n**Quick smoke-test run (few utterances, one repeat): not figures to quote.**\n"
             if header.get("quick") else "")
    return f"""{quick}
- **Corpus:** {header['corpus']}
- **Machine:** {header['machine']}, {header['cpu_count']} logical CPUs ({header['device_note']}); load average at
  start {', '.join(map(str, header['load_average_at_start']))}
- **Threads:** RTF and 5 s latency on {threads['rtf']} thread, batch 1, after untimed warm-up; RTFx on
  {threads['rtfx']} threads with batching (total audio s / total compute s; PocketSphinx is single-stream, so its
  RTFx is its one-thread run)
- **Run:** {header['date']}, commit `{header['commit'][:12]}`{' (uncommitted changes)' if header.get('dirty') else ''},
  Python {header['python']}, torch {header.get('torch')}, pocketsphinx {header.get('pocketsphinx')}
- **Memory:** {header['memory']}
- **Size:** weights files on disk as stored, with the stored dtype (F16 weights are upcast to float32 by
  torch-fp32 at load, so they take twice their file size in memory)
"""


def render_report(results: dict) -> str:
    """The whole report.md text."""
    header = results["header"]
    peers = "\n".join(f"- **{name}:** {_peer_note(note)}" for name, note in header.get("peers", {}).items())
    return "\n".join([
        f"# Benchmark: {header['name']} ({header['date']})", labels(header),
        "WER and CER are percentages after the package's normaliser; RTF below 1 is faster than real time.", "",
        manifest_tables(results, "##"), "", "## Peers", "", peers or "none", "",
        "## WER against speed", "", "![WER vs one-thread RTF](pareto.png)", ""])


def _peer_note(note) -> str:
    if isinstance(note, str):
        return note
    sources = ", ".join(f"{k} {v}" for k, v in note["pronunciation_sources"].items())
    return f"{note['lm']}; dictionary pronunciations: {sources}"


def write_report(directory: Path, results: dict) -> Path:
    """Write ``directory/report.md``; returns its path."""
    return atomic_write_text(Path(directory) / "report.md", render_report(results))

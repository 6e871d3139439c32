"""Cache jobs: resuming, splitting over ranks, refusing the wrong cache, and the CLI."""

import json
from dataclasses import replace

import pytest
import torch
import yaml

from speechdistill.cache import CacheError, CacheMismatchError, build_cache, expected_key, open_cache
from speechdistill.cache.store import shard_path
from speechdistill.cli import main
from speechdistill.data.manifests import write_nemo_manifest

NUM_SHARDS = 3


class Interrupted(RuntimeError):
    pass


@pytest.fixture(scope="module")
def reference(ctc_config):
    """An uninterrupted single-process build."""
    config = ctc_config()
    assert build_cache(config).complete
    return config


def _contents(config) -> dict:
    """Index and every shard's metadata and tensors (safetensors orders header keys arbitrarily, so not bytes)."""
    from safetensors import safe_open

    out = shard_path(config.out_dir, 0).parent
    contents = {"index.json": json.loads((out.parent / "index.json").read_text())}
    for path in sorted(out.iterdir()):
        with safe_open(str(path), framework="pt") as f:
            tensors = {name: f.get_tensor(name) for name in f.keys()}
            contents[path.name] = ({k: json.loads(v) if k in ("items", "skipped") else v
                                   for k, v in f.metadata().items()}, tensors)
    return contents


def _assert_same(config, other) -> None:
    mine, theirs = _contents(config), _contents(other)
    assert mine.keys() == theirs.keys() and mine["index.json"] == theirs["index.json"]
    for name in mine.keys() - {"index.json"}:
        (meta, tensors), (other_meta, other_tensors) = mine[name], theirs[name]
        assert meta == other_meta and tensors.keys() == other_tensors.keys()
        assert all(torch.equal(tensors[k], other_tensors[k]) for k in tensors)


def test_interrupted_job_resumes_without_recomputing(ctc_config, reference):
    config = ctc_config()

    def crash(index):
        raise Interrupted(f"after shard {index}")

    with pytest.raises(Interrupted, match="after shard 0"):
        build_cache(config, after_shard=crash)
    first = shard_path(config.out_dir, 0)
    assert first.is_file() and not shard_path(config.out_dir, 1).exists()
    with pytest.raises(CacheError, match=r"incomplete teacher cache \(1 shard\(s\) written"):
        open_cache(config.out_dir)
    stamp = first.stat().st_mtime_ns
    computed = []
    result = build_cache(config, after_shard=computed.append)
    assert result.complete and result.reused == (0,) and result.written == (1, 2) and computed == [1, 2]
    assert first.stat().st_mtime_ns == stamp
    _assert_same(config, reference)
    again = build_cache(config)
    assert again.written == () and again.reused == (0, 1, 2) and again.complete


def test_two_ranks_build_the_same_cache_as_one(ctc_config, reference, monkeypatch):
    config = ctc_config()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    first = build_cache(config)
    assert (first.rank, first.world_size, first.written, first.complete) == (0, 2, (0, 2), False)
    monkeypatch.setenv("RANK", "1")
    second = build_cache(config)
    assert (second.written, second.complete) == ((1,), True)  # the last rank to finish writes the index
    _assert_same(config, reference)
    assert json.loads((shard_path(config.out_dir, 0).parents[1] / "cache.json").read_text())["disk"]


def test_cache_for_another_manifest_teacher_or_settings_is_refused(reference, cache_corpus, tiny_teacher_dir,
                                                                     tmp_path):
    utterances, manifest = cache_corpus
    assert open_cache(reference.out_dir, expected_key(manifest=manifest, teacher=reference.teacher)).ids
    other_manifest = write_nemo_manifest(tmp_path / "other.jsonl", utterances[:4])
    with pytest.raises(CacheMismatchError, match=r"another manifest \(cache: 6 utterances.*expected: 4 utterances"):
        open_cache(reference.out_dir, expected_key(manifest=other_manifest))
    other_teacher = tiny_teacher_dir("wav2vec2", seed=1)
    with pytest.raises(CacheMismatchError, match=r"another teacher .*files that differ: model.safetensors"):
        open_cache(reference.out_dir, expected_key(teacher=other_teacher))
    with pytest.raises(CacheMismatchError, match=r"other settings \(top_k: cache 4, expected 8\); choose another"):
        build_cache(replace(reference, top_k=8))
    with pytest.raises(CacheError, match="not a teacher cache"):
        open_cache(reference.teacher)


def test_cli_builds_a_cache_and_reports_disk_use(cache_corpus, tiny_teacher_dir, tmp_path, capsys):
    _, manifest = cache_corpus
    recipe = {"teacher": str(tiny_teacher_dir("wav2vec2")), "manifest": str(manifest),
              "out_dir": str(tmp_path / "cache"), "nbest": 1, "hidden_layers": [-1], "device": "cpu"}
    path = tmp_path / "cache.yaml"
    path.write_text(yaml.safe_dump(recipe))
    assert main(["cache-teacher", str(path), "top_k=3", "shard_size=4"]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert "computed 2 shard(s), 0 already done, of 2; cache complete" in printed
    assert "cache: 100%" in captured.err and "6/6" in captured.err  # the progress bar counts utterances
    assert "disk per audio hour: log_probs" in printed and "attentions 0 B" in printed
    meta = json.loads((tmp_path / "cache" / "cache.json").read_text())
    assert meta["outputs"]["top_k"] == 3 and meta["disk"]["bytes"]["hidden"] > 0
    assert main(["cache-teacher", str(path), "top_k=-1"]) == 2
    assert "top_k must be >= 0" in capsys.readouterr().err

"""recipes/teachers/train_on_gpu.sh rehearsed on CPU at a toy size, as on a bare GPU image: packages the
image lacks (Piper, sherpa-onnx, PocketSphinx, kaldi-native-fbank, librosa) cannot be imported, the
repository is not installed, and what comes back is tar parts of at most 15 MiB plus the reports."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "recipes" / "teachers" / "train_on_gpu.sh"
BLOCKER = '''
import importlib.util as _util
import sys

BLOCKED = {"piper", "sherpa_onnx", "pocketsphinx", "kaldi_native_fbank", "librosa"}


class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not on the bare GPU image")
        return None


sys.meta_path.insert(0, _Blocker())
_real_find_spec = _util.find_spec
_util.find_spec = lambda name, package=None: None if name.split(".")[0] in BLOCKED else _real_find_spec(name, package)
'''
TINY_W2V = ("model.hidden_size=32 model.num_hidden_layers=2 model.num_attention_heads=2 model.intermediate_size=64 "
            "model.conv_dim=[16,16,16,16,16,16,16] model.num_conv_pos_embeddings=16 "
            "model.num_conv_pos_embedding_groups=2")
TINY_WHISPER = ("model.d_model=32 model.encoder_layers=1 model.decoder_layers=1 model.encoder_attention_heads=2 "
                "model.decoder_attention_heads=2 model.encoder_ffn_dim=64 model.decoder_ffn_dim=64 "
                "model.bpe_vocab_size=300")
BUDGET = " train.max_updates=2 train.eval_every=2 train.batch_seconds=3.0 data.dev_max_utterances=3"


@pytest.mark.skipif(sys.platform != "linux", reason="bash script for the Linux GPU image")
def test_gpu_script_trains_packs_and_scores_both_teachers_on_a_bare_image(tmp_path):
    (tmp_path / "blocker").mkdir()
    (tmp_path / "blocker" / "sitecustomize.py").write_text(BLOCKER)
    runs, dest = tmp_path / "runs", tmp_path / "out"
    bin_dir = Path(sys.executable).parent  # `python3` in the script is this interpreter
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(tmp_path / "blocker"),
           "WHEELS": str(tmp_path / "no-wheels"), "RUNS": str(runs), "DEST": str(dest), "MINUTES": "2",
           "HOURS": "0.02", "EVAL_HOURS": "0.02", "JOBS": "1", "WORKERS": "0", "OMP_NUM_THREADS": "1",
           "W2V_OVERRIDES": TINY_W2V + BUDGET, "WHISPER_OVERRIDES": TINY_WHISPER + BUDGET}
    done = subprocess.run(["bash", str(SCRIPT)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "done (status 0)" in (dest / "progress.log").read_text()
    parts = sorted(dest.glob("*.tar.part*"))
    assert {p.name.split(".")[0] for p in parts} == {"wav2vec2", "whisper"}
    assert all(p.stat().st_size <= 15 * 2**20 for p in parts)

    from transformers import AutoModelForCTC, WhisperForConditionalGeneration

    for name, cls in (("wav2vec2", AutoModelForCTC), ("whisper", WhisperForConditionalGeneration)):
        joined = tmp_path / f"{name}.tar"
        joined.write_bytes(b"".join(p.read_bytes() for p in sorted(dest.glob(f"{name}.tar.part*"))))
        with tarfile.open(joined) as tar:
            tar.extractall(tmp_path / name, filter="data")
        assert cls.from_pretrained(tmp_path / name / "best").num_parameters() > 0
    with tarfile.open(dest / "reports.tgz") as tar:
        names = tar.getnames()
    assert any(n.endswith("report/RESULTS.md") for n in names) and any(n.endswith("log.jsonl") for n in names)
    assert not (REPO / "recipes" / "teachers" / "RESULTS.md").read_text().count(str(runs))  # repo untouched

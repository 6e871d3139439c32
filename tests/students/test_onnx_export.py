"""The ~1M Conformer exports to ONNX with dynamic batch and time and matches PyTorch at other lengths.

The exported graph takes what sherpa-onnx's zipformer-CTC runtime feeds (fbank features padded with
log(1e-10), frame lengths), so this also checks the model masks that padding correctly; the last test
runs the export through sherpa-onnx itself, which computes its own features from the waveform.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from speechdistill.features import SHERPA_PADDING_VALUE
from speechdistill.students import conformer_ctc
from speechdistill.text import Vocabulary
from tests.students.helpers import speechlike

ort = pytest.importorskip("onnxruntime")


class EncodeLogits(torch.nn.Module):
    """features (N, T, 80), lengths (N,) -> logits (N, T', V), lengths (N,)."""

    def __init__(self, student):
        super().__init__()
        self.student = student

    def forward(self, x: torch.Tensor, x_lens: torch.Tensor):
        out = self.student.encode(x, x_lens)
        return out.logits, out.lengths


def padded_features(lengths: list[int], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lengths), max(lengths), 80, generator=generator) * 2 - 8
    for i, n in enumerate(lengths):
        x[i, n:] = SHERPA_PADDING_VALUE
    return x, torch.tensor(lengths, dtype=torch.long)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(student, path): the 1m preset with a sharpened random head (so greedy output is not all blank)."""
    torch.manual_seed(0)
    student = conformer_ctc("1m").eval()
    with torch.no_grad():
        student.head.weight.mul_(5)
    path = tmp_path_factory.mktemp("onnx") / "student.onnx"
    # The TorchScript exporter takes ~2 s here; the dynamo exporter (dynamo=True, dynamic_shapes=...) also
    # keeps both axes dynamic on this model but takes ~15 s on a busy 2-core machine.
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice
        warnings.simplefilter("ignore")
        torch.onnx.export(EncodeLogits(student).eval(), padded_features([123, 90], seed=0), str(path), dynamo=False,
                          opset_version=17, input_names=["x", "x_lens"], output_names=["logits", "logits_len"],
                          dynamic_axes={"x": {0: "N", 1: "T"}, "x_lens": {0: "N"}, "logits": {0: "N", 1: "T_out"},
                                        "logits_len": {0: "N"}})
    return student, path


def test_export_keeps_batch_and_time_dynamic(exported):
    student, path = exported
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == ["N", "T", 80]
    assert session.get_outputs()[0].shape[2] == 32  # sherpa-onnx reads the vocabulary size from here
    for lengths in ([57], [311, 250, 31]):  # neither the example's batch size nor its length
        x, x_lens = padded_features(lengths, seed=len(lengths))
        logits, logits_len = session.run(None, {"x": x.numpy(), "x_lens": x_lens.numpy()})
        with torch.no_grad():
            expected = student.encode(x, x_lens)
        np.testing.assert_array_equal(logits_len, expected.lengths.numpy())
        np.testing.assert_allclose(logits, expected.logits.numpy(), atol=1e-4, rtol=1e-4)


def test_sherpa_onnx_decodes_what_pytorch_decodes(exported, tmp_path):
    sherpa_onnx = pytest.importorskip("sherpa_onnx")
    student, path = exported
    vocab = Vocabulary.default()
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("".join(f"{'<blk>' if i == 0 else label} {i}\n" for i, label in enumerate(vocab.labels)))
    recognizer = sherpa_onnx.OfflineRecognizer.from_zipformer_ctc(model=str(path), tokens=str(tokens))
    for seed, n in enumerate([16_000, 23_456, 7_000]):
        audio = speechlike(n, seed)
        stream = recognizer.create_stream()
        stream.accept_waveform(16_000, audio)
        recognizer.decode_stream(stream)
        with torch.no_grad():
            best = student(torch.from_numpy(audio)[None], torch.tensor([n])).logits[0].argmax(-1).tolist()
        collapsed = [i for j, i in enumerate(best) if i != 0 and (j == 0 or best[j - 1] != i)]
        assert collapsed, "the sharpened random model should emit some labels"
        assert stream.result.tokens == [vocab.labels[i] for i in collapsed]

"""Lexicons for beam search: format, sources (texts, manifests), label spelling, resolution of --lexicon."""

import pytest
import torch

from speechdistill.data.manifests import write_nemo_manifest
from speechdistill.decode import BeamSearchDecoder, BeamSearchOptions
from speechdistill.eval import build_lexicon
from speechdistill.eval.lexicon import resolve_lexicon
from speechdistill.markers import Marker, write_marker
from tests.conftest import make_tone_utterances

LABELS = ("<pad>", "<s>", "</s>", "<unk>", "|", "'", *"abcdefghijklmnopqrstuvwxyz")


def test_flashlight_format_from_texts(tmp_path):
    path = build_lexicon(["Turn on the lights.", "turn OFF the lights", "don't stop"], tmp_path / "lex.txt")
    assert path.read_text().splitlines() == [
        "don't d o n ' t |", "lights l i g h t s |", "off o f f |", "on o n |", "stop s t o p |",
        "the t h e |", "turn t u r n |"]


def test_from_a_manifest_with_capital_labels_and_unspellable_words(tmp_path):
    utts = make_tone_utterances(tmp_path / "audio", n=3)  # "turn on the lights", "set a timer", "call mom"
    manifest = write_nemo_manifest(tmp_path / "train.jsonl", utts)
    upper = ("<pad>", "|", *"ACEGHILMNORSTU")  # capital letters, as in wav2vec2-base-960h
    lines = build_lexicon(manifest, tmp_path / "lex.txt", labels=upper).read_text().splitlines()
    assert len(lines) == 9 and "turn T U R N |" in lines and "call C A L L |" in lines
    no_t = tuple(label for label in upper if label != "T")  # words with a 't' cannot be spelled: left out
    lexicon = build_lexicon(manifest, tmp_path / "lex2.txt", labels=no_t)
    words = [line.split()[0] for line in lexicon.read_text().splitlines()]
    assert words == ["a", "call", "mom", "on"]
    with pytest.raises(ValueError, match="no word"):
        build_lexicon(["xyz"], tmp_path / "lex3.txt", labels=("<pad>", "|", "a"))


def test_beam_search_with_a_built_lexicon_only_says_its_words(tmp_path):
    lexicon = build_lexicon(["cab bad"], tmp_path / "lex.txt", labels=("<pad>", "|", "a", "b", "c", "d"))
    torch.manual_seed(0)
    emissions = torch.randn(1, 10, 6).log_softmax(-1)
    options = BeamSearchOptions(beam_size=50, lexicon=str(lexicon), lm_weight=0.0)
    [[best]] = BeamSearchDecoder(("<pad>", "|", "a", "b", "c", "d"), options).decode(emissions)
    assert best.text and set(best.text.split()) <= {"cab", "bad"}


def test_resolve_lexicon_choices(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    assert resolve_lexicon("none", model, LABELS, tmp_path)[0] is None
    path, note = resolve_lexicon("auto", model, LABELS, tmp_path)
    assert path is None and "no lexicon.txt" in note
    manifest = write_nemo_manifest(tmp_path / "train.jsonl", make_tone_utterances(tmp_path / "audio", n=2))
    built, note = resolve_lexicon(str(manifest), model, LABELS, tmp_path / "work")
    assert built == tmp_path / "work" / "lexicon.txt" and "set s e t |" in built.read_text()
    write_marker(model, Marker(kind="student", extra={"train_manifest": str(manifest)}))
    assert resolve_lexicon("auto", model, LABELS, tmp_path / "auto")[0] == tmp_path / "auto" / "lexicon.txt"
    (model / "lexicon.txt").write_text("a a |\n")
    assert resolve_lexicon("auto", model, LABELS, tmp_path)[0] == model / "lexicon.txt"
    assert resolve_lexicon(str(model / "lexicon.txt"), model, LABELS, tmp_path)[0] == model / "lexicon.txt"
    with pytest.raises(ValueError, match="neither"):
        resolve_lexicon(str(tmp_path / "missing.txt"), model, LABELS, tmp_path)

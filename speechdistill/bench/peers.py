"""Peers benchmarked beside our models: PocketSphinx with its general model and with a domain LM.

The domain LM and dictionary are built from the training transcripts into ``<results>/pocketsphinx_domain``
(see :mod:`speechdistill.bench.domain_lm`), so a run's folder holds what its peer figures came from.
"""

from __future__ import annotations

from pathlib import Path

from ..data.manifests import read_manifest
from .config import ModelSpec, PeerSettings
from .domain_lm import build_domain_model

GENERAL_NAME = "pocketsphinx-general"
DOMAIN_NAME = "pocketsphinx-domain"
DOMAIN_DIR = "pocketsphinx_domain"


def peer_models(settings: PeerSettings, out: Path) -> tuple[list[ModelSpec], dict]:
    """The peer model specs to run and a note for the results header describing them."""
    if not settings.pocketsphinx:
        return [], {}
    from .pocketsphinx import bundled_model_dir

    general = bundled_model_dir()
    specs = [ModelSpec(GENERAL_NAME, str(general), "peer", ("pocketsphinx",))]
    notes = {GENERAL_NAME: "bundled en-US acoustic model (en-us/), general 3-gram LM en-us.lm.bin, "
                           "cmudict-en-us.dict; words outside that dictionary cannot be recognised"}
    if settings.domain_lm:
        model = build_domain_model(training_sentences(settings.train_manifest), general / "cmudict-en-us.dict",
                                   out / DOMAIN_DIR, settings.lm_order)
        specs.append(ModelSpec(DOMAIN_NAME, str(model.directory), "peer", ("pocketsphinx",)))
        notes[DOMAIN_NAME] = {
            "lm": f"{model.order}-gram ARPA, absolute discounting with back-off, built in Python from "
                  f"{model.sentences} training transcripts of {settings.train_manifest}",
            "dictionary": "every LM word; pronunciations by source (cmudict = the bundled dictionary, the rest "
                          "generated: spelling variant, compound of two entries, letter-to-sound rules)",
            "pronunciation_sources": model.sources, "generated": model.generated,
            "acoustic_model": "bundled en-US (same as the general peer)",
        }
    return specs, notes


def training_sentences(manifest: str | None) -> list[str]:
    """The transcripts of ``manifest`` (normalised by the reader); an error when there are none."""
    if not manifest:
        raise ValueError("peers.domain_lm needs peers.train_manifest")
    texts = [u.text for u in read_manifest(manifest, labelled=True, vocab=None) if u.text]
    if not texts:
        raise ValueError(f"{manifest}: no transcripts to build a domain language model from")
    return texts

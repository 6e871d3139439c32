"""speechdistill: distil large speech recognisers into small, fast CTC models for phones."""

__version__ = "0.1.0"

SAMPLE_RATE_HZ = 16_000


def load(spec, **options):
    """A recogniser for a model directory or hub id: ``speechdistill.load(path).transcribe("a.flac")``.

    Thin lazy alias of :func:`speechdistill.inference.load` (see there for ``device`` and ``decode``).
    """
    from .inference import load as _load

    return _load(spec, **options)

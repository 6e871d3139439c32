"""speechdistill: distil large speech recognisers into small, fast CTC models for phones."""

__version__ = "0.1.0"

SAMPLE_RATE_HZ = 16_000

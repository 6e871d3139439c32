"""Command groups of the ``speechdistill`` CLI; each module exposes ``register(subparsers)``."""

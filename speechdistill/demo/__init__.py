"""The one-command demo: synthetic corpus -> shipped teachers -> cache -> two students -> bundle -> benchmark."""

from .runner import run_demo
from .settings import FULL, QUICK, DemoSettings

__all__ = ["FULL", "QUICK", "DemoSettings", "run_demo"]

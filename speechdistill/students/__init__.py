"""Compact CTC students built by factory functions."""

from .base import StudentOutput

__all__ = ["StudentOutput"]

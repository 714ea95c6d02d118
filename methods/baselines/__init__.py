"""Trivial baselines: the floor every leaderboard shows beside real methods."""

from .constant import AlwaysDefect, AlwaysNormal

__all__ = ["AlwaysDefect", "AlwaysNormal"]

"""pixel-stats: a weight-free few-shot detector (per-pixel distance to normal references)."""

from .adapter import PixelStats

__all__ = ["PixelStats"]

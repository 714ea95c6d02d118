"""LR-IAD (arXiv 2504.19524): GRPO with format + focal rewards on Qwen2-VL + LoRA, mask-free IAD."""

from .adapter import LRIAD
from .config import LRIADOptions

__all__ = ["LRIAD", "LRIADOptions"]

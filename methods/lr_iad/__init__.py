"""LR-IAD (arXiv 2504.19524): GRPO with format + focal rewards on Qwen2-VL + LoRA, mask-free IAD."""

from iadbench_methods.lr_iad.adapter import LRIAD
from iadbench_methods.lr_iad.config import LRIADOptions

__all__ = ["LRIAD", "LRIADOptions"]

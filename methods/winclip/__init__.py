"""WinCLIP (arXiv 2303.14814), zero-shot, on anomalib's implementation.

See Also:
    ``methods/winclip/README.md`` for weights, options and the mapping to the paper.
"""

from iadbench_methods.winclip.adapter import WinClip, WinClipOptions
from iadbench_methods.winclip.preprocess import WinClipPreprocessor

__all__ = ["WinClip", "WinClipOptions", "WinClipPreprocessor"]

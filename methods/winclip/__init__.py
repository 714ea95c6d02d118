"""WinCLIP (arXiv 2303.14814), zero-shot, on anomalib's implementation.

See Also:
    ``methods/winclip/README.md`` for weights, options and the mapping to the paper.
"""

from .adapter import WinClip, WinClipOptions
from .preprocess import WinClipPreprocessor

__all__ = ["WinClip", "WinClipOptions", "WinClipPreprocessor"]

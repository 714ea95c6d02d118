"""Base Qwen2-VL (arXiv 2409.12191) answering the LR-IAD prompt, greedy, strictly parsed.

Modules: :mod:`~iadbench_methods.qwen2vl.answers` (strict parsing, format check),
:mod:`~iadbench_methods.qwen2vl.prompt` (the paper's prompt, chat turn),
:mod:`~iadbench_methods.qwen2vl.loading` (model + processor), :mod:`~iadbench_methods.qwen2vl.tiny`
(tiny local checkpoint), :mod:`~iadbench_methods.qwen2vl.adapter` (the ``qwen2-vl`` method).

See Also:
    ``methods/qwen2vl/README.md`` for weights, options and the mapping to the paper.
"""

from .adapter import Qwen2VL, Qwen2VLOptions

__all__ = ["Qwen2VL", "Qwen2VLOptions"]

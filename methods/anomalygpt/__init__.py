"""AnomalyGPT (Gu et al., AAAI 2024), re-implemented on current libraries — work in progress.

Registered as ``anomalygpt`` for ``--tiny`` runs (random weights); loading the real weights is
the part still missing (issue 11). Modules: ImageBind's towers (``vision.py``, ``text.py``), the
decoder / prompt learner / ``llama_proj`` (``decoder.py``), the assembled model (``model.py``,
``tiny.py``), NSA (``nsa.py``), training (``training.py``), questions and answers, the adapter.
``methods/anomalygpt/README.md`` says what exists and what is left.
"""

from .adapter import AnomalyGPT, AnomalyGPTOptions

__all__ = ["AnomalyGPT", "AnomalyGPTOptions"]

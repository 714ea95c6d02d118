"""AnomalyGPT (Gu et al., AAAI 2024), re-implemented on current libraries — work in progress.

Not registered as a method yet (issue 11): the building blocks land first, each tested on its
own — ImageBind's image and text towers (``vision.py``, ``text.py``), the image decoder / prompt
learner / ``llama_proj`` (``decoder.py``) and the NSA synthetic-anomaly generator (``nsa.py``).
``methods/anomalygpt/README.md`` says what exists and what is left.
"""

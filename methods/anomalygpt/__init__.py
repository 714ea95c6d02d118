"""AnomalyGPT (Gu et al., AAAI 2024), re-implemented on current libraries — work in progress.

Not registered as a method yet (issue 11): the building blocks land first, each tested on its
own — the NSA synthetic-anomaly generator (``nsa.py``) and the image decoder / prompt learner
(``decoder.py``). See ``methods/anomalygpt/README.md`` once the method is complete.
"""

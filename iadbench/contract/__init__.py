"""Layer 1, the contract: what a method adapter implements and what it may use from the core.

Records (:class:`~iadbench.contract.records.Sample`,
:class:`~iadbench.contract.records.Prediction`),
the adapter base class and :class:`~iadbench.contract.method.RunContext`, option metadata,
errors, image decoding, devices, category names, the seeded choice of training samples
(``sampling``), where per-image artefacts go (``artifacts``) and what a packaged demo returns
(``demos``). Methods import only this package and ``iadbench``.
Nothing here imports another layer of iadbench.
"""

"""Layer 1, the contract: what a method adapter implements and what it may use from the core.

Records (:class:`~iadbench.contract.records.Sample`,
:class:`~iadbench.contract.records.Prediction`),
the adapter base class, option metadata, errors, image decoding, devices and category names.
Nothing here imports another layer of iadbench.
"""

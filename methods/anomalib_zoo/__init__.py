"""anomalib's image models as iadbench methods (``anomalib-<name>``); see docs/anomalib-zoo.md."""

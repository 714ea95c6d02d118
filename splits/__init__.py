"""Split definitions as data (TOML); installed as ``iadbench_splits``. See :mod:`iadbench.data.splits`."""

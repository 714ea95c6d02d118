"""Built-in method adapters, one folder per method; installed as ``iadbench_methods``.

Each folder holds everything of its method (adapter, model code, options, docs) and touches the
rest of iadbench only through :class:`iadbench.method.MethodAdapter` and the records in
:mod:`iadbench.records`. They are registered through the ``iadbench.methods`` entry-point group in
``pyproject.toml``, exactly as third-party plugins are.
"""

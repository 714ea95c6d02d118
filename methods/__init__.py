"""Built-in method adapters, one folder per method; installed as ``iadbench_methods``.

Each folder holds everything of its method (adapter, model code, options, docs) and touches the
rest of iadbench only through :class:`iadbench.contract.method.MethodAdapter` and the records in
:mod:`iadbench.contract.records`. They are registered through the ``iadbench.methods`` entry-point
group in
``pyproject.toml``, exactly as third-party plugins are.
"""

from pathlib import Path as _Path


def _check_same_checkout() -> None:
    """Refuse to mix this package with an ``iadbench`` core from another place.

    The tree calls this folder ``methods/``; it installs as ``iadbench_methods``. An editable
    install maps the name to one checkout, so a second copy of the repository on ``PYTHONPATH``
    would silently pair its core with the first copy's methods. Both packages must sit side by
    side: ``<checkout>/iadbench`` + ``<checkout>/methods`` (editable) or
    ``site-packages/iadbench`` + ``site-packages/iadbench_methods`` (wheel).
    """
    import iadbench

    core = _Path(iadbench.__file__).resolve().parent.parent
    here = _Path(__file__).resolve().parent.parent
    if core != here:
        raise ImportError(
            f"iadbench_methods was imported from {here} but iadbench from {core}: two copies of "
            "iadbench are mixed (a second checkout on PYTHONPATH?). Run from one checkout: "
            "`pip install -e .` there, or put a link iadbench_methods -> methods next to its "
            "iadbench/ when you use PYTHONPATH."
        )


_check_same_checkout()

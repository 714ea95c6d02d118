"""Name-based registry of method adapters with lazy ``module:attr`` entries.

Built-in methods and installed plugins both arrive through the ``iadbench.methods`` entry-point
group; an unpackaged plugin file is loaded with ``--plugin PATH`` and registers itself with
:func:`register_method`. Listing names, targets and distributions reads entry-point metadata only
and imports nothing; resolving a name imports only that entry. A name that two installed
distributions both declare is kept as a conflict (found from metadata, without importing either):
it is listed with both sources, and resolving it is an error naming both.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TypeVar

from iadbench.contract.demos import DEMO_GROUP, DemoSetup, DemoTable
from iadbench.contract.errors import IADBenchError, UnknownNameError
from iadbench.contract.method import MethodAdapter, contract_problems

ENTRY_POINT_GROUP = "iadbench.methods"
AdapterT = TypeVar("AdapterT", bound=type[MethodAdapter[Any]])


class RegistryError(IADBenchError):
    """A name registered twice by different sources, or a plugin that registers nothing."""


@dataclass
class Entry:
    """One registered name: ``target`` is a ``module:attr`` string until first resolved.

    Attributes:
        name: The method name.
        target: ``module:attr`` (not imported yet) or the adapter class.
        source: Where it comes from, for messages: ``"dist (module:attr)"`` or a plugin file.
        value: ``module:attr`` as declared, known without importing.
        origin: The distribution that declares it, or the plugin file / module that registered it.
    """

    name: str
    target: str | type[MethodAdapter[Any]]
    source: str
    value: str = ""
    origin: str = ""

    def __post_init__(self) -> None:
        if not self.value:
            t = self.target
            self.value = t if isinstance(t, str) else f"{t.__module__}:{t.__qualname__}"
        if not self.origin:
            self.origin = self.source

    def resolve(self) -> type[MethodAdapter[Any]]:
        """Import the adapter class (once) and check that it is one."""
        if isinstance(self.target, str):
            module_name, _, attr = self.target.partition(":")
            obj = getattr(importlib.import_module(module_name), attr)
            if not (isinstance(obj, type) and issubclass(obj, MethodAdapter)):
                raise RegistryError(f"{self.target} (method {self.name!r}) is not a MethodAdapter")
            self.target = obj
        if problems := contract_problems(self.target):
            raise RegistryError(f"method {self.name!r} ({self.source}): {'; '.join(problems)}")
        return self.target


class MethodRegistry:
    """Methods by name; entry points are read on first use."""

    def __init__(self, group: str = ENTRY_POINT_GROUP) -> None:
        self.group = group
        self._entries: dict[str, Entry] = {}
        self._conflicts: dict[str, list[Entry]] = {}
        self._entry_points_loaded = False

    def add(self, name: str, target: str | type[MethodAdapter[Any]], source: str) -> None:
        """Register ``name``; the same name from a different source is an error, never a swap.

        Raises:
            RegistryError: ``name`` breaks :func:`check_method_name`'s rule, or another source
                registered it.
        """
        check_method_name(name, source)
        if (old := self._entries.get(name)) and old.source != source:
            raise RegistryError(_twice(name, [old.source, source]))
        self._entries[name] = Entry(name, target, source)

    def _load_entry_points(self) -> None:
        """Read the group's entry points from metadata (imports nothing).

        A name declared by two distributions is not an error here, so that one bad install does
        not break every command: it is recorded as a conflict, listed, and refused when resolved.
        """
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        seen: dict[str, set[str]] = {}
        for ep in entry_points(group=self.group):
            if ep.value in seen.setdefault(ep.name, set()):  # one dist visible twice on sys.path
                continue
            seen[ep.name].add(ep.value)
            dist = ep.dist.name if ep.dist is not None else "unknown distribution"
            try:
                check_method_name(ep.name, dist)
            except RegistryError:
                continue  # not a usable name (cannot be typed on a command line): skip it
            entry = Entry(ep.name, ep.value, f"{dist} ({ep.value})", origin=dist)
            if (old := self._entries.get(ep.name)) is None:
                self._entries[ep.name] = entry
            else:
                self._conflicts.setdefault(ep.name, [old]).append(entry)

    def conflict(self, name: str) -> list[Entry]:
        """Every entry that declares ``name`` when more than one distribution does, else ``[]``."""
        self._load_entry_points()
        return list(self._conflicts.get(name, []))

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style wildcard, sorted."""
        self._load_entry_points()
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def entry(self, name: str) -> Entry:
        """The entry of ``name``; raises UnknownNameError with close matches."""
        self._load_entry_points()
        if name not in self._entries:
            raise UnknownNameError("method", name, self._entries)
        return self._entries[name]

    def get(self, name: str) -> type[MethodAdapter[Any]]:
        """The adapter class registered as ``name`` (imported now if it was lazy).

        Raises:
            UnknownNameError: ``name`` is not registered.
            RegistryError: Two distributions declare ``name`` (nothing is imported then).
        """
        entry = self.entry(name)
        if clash := self._conflicts.get(name):
            raise RegistryError(_twice(name, sorted(e.source for e in clash)))
        return entry.resolve()

    def expand(self, patterns: list[str]) -> list[str]:
        """Names for a list of names or wildcards, in the given order, without repeats.

        Raises:
            UnknownNameError: A plain name (or a wildcard matching nothing) is unknown.
        """
        result: list[str] = []
        for pattern in patterns:
            matches = self.names(pattern) if any(c in pattern for c in "*?[") else []
            if not matches:
                matches = [self.entry(pattern).name]
            result += [m for m in matches if m not in result]
        return result

    def load_plugin_file(self, path: str | Path) -> list[str]:
        """Import an unpackaged plugin file; returns the names it registered.

        Raises:
            RegistryError: The file does not exist, fails to import, or registers no method.
        """
        path = Path(path).expanduser().resolve()
        if not path.is_file():
            raise RegistryError(f"plugin file {path} does not exist")
        self._load_entry_points()
        before = set(self._entries)
        module_name = f"iadbench_plugin_{path.stem}_{abs(hash(str(path))):x}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        _current_plugin_source.append(str(path))
        try:
            spec.loader.exec_module(module)
        except IADBenchError:
            raise
        except Exception as exc:
            raise RegistryError(f"plugin file {path} failed to import: {exc!r}") from exc
        finally:
            _current_plugin_source.pop()
        added = [
            n for n in self._entries if n not in before or self._entries[n].source == str(path)
        ]
        if not added:
            raise RegistryError(
                f"plugin file {path} registered no method: decorate your adapter class with "
                "@iadbench.register_method('your-name')."
            )
        return sorted(added)


# A method name is a folder name of every run dir (runs/<method>/...) and of the training cache:
# lower-case letters, digits, "-", "_" and "." only, starting with a letter or digit, so that no
# name can be "..", hold a "/" or start like a hidden file or a command-line flag; at most 64
# characters (a 300-character name passed, then run died on ENAMETOOLONG: the attack re-run).
_NAME_RULE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def check_method_name(name: object, source: str) -> None:
    """Refuse a method name that could not be a single, plain folder name.

    ``../../etc`` put a plugin's run dirs two levels above ``--out`` (issue 18).

    Args:
        name: The name as registered.
        source: Where it comes from (the plugin file, distribution or module), for the message.

    Raises:
        RegistryError: ``name`` is not lower-case letters, digits, ``-``, ``_`` and ``.``
            starting with a letter or digit, at most 64 characters.
    """
    if not isinstance(name, str) or _NAME_RULE.fullmatch(name) is None:
        raise RegistryError(
            f"method name {name!r} registered by {source} is not allowed: a method name is "
            "lower-case letters, digits, '-', '_' and '.', starting with a letter or digit, at "
            "most 64 characters (it names the run dir's folder); rename it, e.g. 'my-method'"
        )


def _twice(name: str, sources: list[str]) -> str:
    return (
        f"method {name!r} is registered twice: by {' and by '.join(sources)}. "
        "Rename one of them (or uninstall one of the distributions)."
    )


METHODS = MethodRegistry()
_current_plugin_source: list[str] = []


def register_method(name: str) -> Callable[[AdapterT], AdapterT]:
    """Class decorator that registers an adapter under ``name`` (for plugin files).

    Example:
        >>> import iadbench
        >>> @iadbench.register_method("always-normal-example")
        ... class Example(iadbench.MethodAdapter):
        ...     capabilities = iadbench.Capabilities(needs_pixels=False)
        ...     def predict(self, batch):
        ...         return [iadbench.Prediction(label="normal") for _ in batch]
    """

    def decorate(cls: AdapterT) -> AdapterT:
        if not (isinstance(cls, type) and issubclass(cls, MethodAdapter)):
            raise RegistryError(
                f"@register_method({name!r}) must decorate a MethodAdapter subclass"
            )
        source = (
            _current_plugin_source[-1]
            if _current_plugin_source
            else f"{cls.__module__}.{cls.__qualname__}"
        )
        METHODS.add(name, cls, source)
        return cls

    return decorate


def installed_demo(name: str) -> Callable[..., DemoTable]:
    """The demo function an installed package declares as ``name`` in ``iadbench.demos``.

    Found through package metadata, so the core never names a method package. Where several
    distributions declare the name, the first on ``sys.path`` wins, as for imports.

    Raises:
        IADBenchError: No installed package declares it (metadata not refreshed: reinstall).
    """
    found = list(entry_points(group=DEMO_GROUP, name=name))
    if not found:
        raise IADBenchError(
            f"no installed package provides the demo {name!r} (entry-point group {DEMO_GROUP}); "
            "reinstall iadbench (pip install -e .) so its metadata declares it"
        )
    demo: Callable[..., DemoTable] = found[0].load()
    return demo


#: Each method's demo setup by name, as :func:`demo_setups` returns them.
DemoSetups = dict[str, DemoSetup]


def demo_setups(names: list[str], cache_dir: Path) -> DemoSetups:
    """Each method's :meth:`~iadbench.contract.method.MethodAdapter.demo_setup`, where it has one.

    ``iadbench demo`` asks before any run, so what a setup builds (cached under ``cache_dir``)
    is ready for the matrix.
    """
    setups: DemoSetups = {}
    for name in names:
        setup = METHODS.get(name).demo_setup(cache_dir)
        if setup is not None:
            setups[name] = setup
    return setups

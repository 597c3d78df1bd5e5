"""Registries of suites and methods.

Suites and methods register themselves by name; groups of suites are names too. Built-in suites and methods
are imported lazily on first lookup, and third-party packages register through the
``metarl_harness.suites`` / ``metarl_harness.methods`` entry-point groups (each entry point names a module
or a callable that performs the ``register_*`` calls). A suite lookup imports the built-in suite packages
and the suite entry points only (``_load_builtin_suites``: no torch, so ``harness list`` stays fast); a
method lookup imports those and then the method packages and method entry points (``_load_builtin_methods``).

Registries are plain objects held by this module; registering the same name twice is an error, so a typo or
a double import is caught at once. Unknown names fail with the list of valid names and the closest match.
:func:`load_plugins` imports user modules or ``.py`` files (``--plugin``) that register more of them.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from harness.method import Method
    from harness.suite import Suite

T = TypeVar("T")

BUILTIN_SUITE_MODULES: tuple[str, ...] = (
    "suites.toy",
    "suites.mujoco",
    "suites.metaworld",
)
BUILTIN_METHOD_MODULES: tuple[str, ...] = (
    "methods.baselines",
    "methods.moss",
    "methods.pearl",
    "methods.varibad",
    "methods.rl2",
)
SUITE_ENTRY_POINT_GROUP = "metarl_harness.suites"
METHOD_ENTRY_POINT_GROUP = "metarl_harness.methods"

#: Group name that expands to every registered suite.
ALL = "all"


class UnknownNameError(KeyError):
    """Raised for a suite, group or method name that is not registered; the message lists valid names."""

    def __str__(self) -> str:  # KeyError quotes its argument; show the plain message instead.
        return str(self.args[0]) if self.args else ""


def unknown_name_message(kind: str, name: str, valid: Iterable[str]) -> str:
    """Build the error text for an unknown ``name`` of ``kind``: valid names and the closest match."""
    valid = sorted(valid)
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.4)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"Unknown {kind} {name!r}.{hint} Valid {kind}s: {', '.join(valid) or '(none registered)'}"


class Registry(Generic[T]):
    """A name -> object mapping that refuses duplicates and explains unknown names."""

    def __init__(self, kind: str, modules: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.modules = modules
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> None:
        """Register ``item`` under ``name``; a second registration of the same name raises ``ValueError``."""
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item

    def get(self, name: str) -> T:
        """Return the item registered as ``name`` or raise :class:`UnknownNameError`."""
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(unknown_name_message(self.kind, name, self._items)) from None

    def _rank(self, item: T) -> int:
        module = item.__module__ if isinstance(item, type) else type(item).__module__
        for i, prefix in enumerate(self.modules):
            if module == prefix or module.startswith(prefix + "."):
                return i
        return len(self.modules)

    def names(self) -> list[str]:
        """Registered names: built-ins in the order of ``modules``, then third-party ones, each part in
        registration order (so the order does not depend on which module a program imported first)."""
        order = {name: i for i, name in enumerate(self._items)}
        return sorted(self._items, key=lambda n: (self._rank(self._items[n]), order[n]))

    def __contains__(self, name: object) -> bool:
        return name in self._items


_SUITES: Registry[Suite] = Registry("suite", BUILTIN_SUITE_MODULES)
_METHODS: Registry[type[Method]] = Registry("method", BUILTIN_METHOD_MODULES)
_loaded = {"suites": False, "methods": False}


def _load_entry_points(group: str) -> None:
    for ep in metadata.entry_points(group=group):
        obj = ep.load()
        if callable(obj) and not isinstance(obj, type):
            obj()


def _import_builtins(modules: tuple[str, ...]) -> None:
    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            # A built-in package that is not written yet is skipped; a missing dependency is not.
            if err.name is None or not module.startswith(err.name):
                raise


def _load_builtin_suites() -> None:
    """Import the built-in suite packages and the suite entry points once (they call ``register_suite``)."""
    if _loaded["suites"]:
        return
    _loaded["suites"] = True
    _import_builtins(BUILTIN_SUITE_MODULES)
    _load_entry_points(SUITE_ENTRY_POINT_GROUP)


def _load_builtin_methods() -> None:
    """Load the suites (as above), then import the built-in method packages and the method entry points
    once (they call ``register_method``; this is what imports torch)."""
    _load_builtin_suites()
    if _loaded["methods"]:
        return
    _loaded["methods"] = True
    _import_builtins(BUILTIN_METHOD_MODULES)
    _load_entry_points(METHOD_ENTRY_POINT_GROUP)


# ----------------------------------------------------------------------------------------------- suites


def register_suite(suite: Suite) -> Suite:
    """Register a suite instance under ``suite.name`` (its ``group`` becomes a group name)."""
    if suite.name == ALL or suite.name in {s.group for s in (_SUITES.get(n) for n in _SUITES.names())}:
        raise ValueError(f"suite name {suite.name!r} collides with a group name")
    _SUITES.add(suite.name, suite)
    return suite


def suite_groups() -> dict[str, list[str]]:
    """Group name -> suite names in registration order (``all`` included)."""
    _load_builtin_suites()
    groups: dict[str, list[str]] = {}
    for name in _SUITES.names():
        groups.setdefault(_SUITES.get(name).group, []).append(name)
    groups[ALL] = _SUITES.names()
    return groups


def get_suite(name: str) -> Suite:
    """Return the suite registered as ``name``; unknown names list every suite and group."""
    _load_builtin_suites()
    if name not in _SUITES:
        raise UnknownNameError(unknown_name_message("suite", name, [*_SUITES.names(), *suite_groups()]))
    return _SUITES.get(name)


def list_suites(group: str | None = None) -> list[Suite]:
    """All suites, or those of ``group`` (``all`` means every suite)."""
    _load_builtin_suites()
    if group is None:
        return [_SUITES.get(n) for n in _SUITES.names()]
    groups = suite_groups()
    if group not in groups:
        raise UnknownNameError(unknown_name_message("suite group", group, groups))
    return [_SUITES.get(n) for n in groups[group]]


def resolve_suites(spec: str) -> list[Suite]:
    """Expand a comma-separated list of suite and group names into suites (order kept, no duplicates)."""
    _load_builtin_suites()
    groups = suite_groups()
    out: dict[str, Suite] = {}
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        if part in groups:
            out.update({s.name: s for s in list_suites(part)})
        elif part in _SUITES:
            out[part] = _SUITES.get(part)
        else:
            raise UnknownNameError(unknown_name_message("suite", part, [*_SUITES.names(), *groups]))
    if not out:
        raise ValueError("no suite given")
    return list(out.values())


# ---------------------------------------------------------------------------------------------- methods

M = TypeVar("M", bound="type[Method]")


def register_method(name: str) -> Callable[[M], M]:
    """Class decorator: register a :class:`harness.method.Method` subclass under ``name``."""

    def deco(cls: M) -> M:
        _METHODS.add(name, cls)
        cls.name = name
        return cls

    return deco


def get_method(name: str) -> type[Method]:
    """Return the method class registered as ``name``; unknown names list every method."""
    _load_builtin_methods()
    return _METHODS.get(name)


def list_methods() -> list[str]:
    """Names of every registered method."""
    _load_builtin_methods()
    return _METHODS.names()


def resolve_methods(spec: str) -> list[type[Method]]:
    """Expand a comma-separated list of method names (order kept, no duplicates)."""
    names = list(dict.fromkeys(p.strip() for p in spec.split(",") if p.strip()))
    if not names:
        raise ValueError("no method given")
    return [get_method(n) for n in names]


# ---------------------------------------------------------------------------------------------- plugins


def load_plugins(plugins: Sequence[str]) -> None:
    """Import plugin modules (``pkg.module``) or files (``path/to/file.py``) that register suites/methods.

    Raises:
        ValueError: a plugin file does not exist, or a plugin does not import (the error is named).
    """
    for plugin in plugins:
        name = ""
        try:
            if plugin.endswith(".py"):
                path = Path(plugin).resolve()
                name = f"harness_plugin_{path.stem}"
                if name in sys.modules:
                    continue
                spec = importlib.util.spec_from_file_location(name, path)
                if spec is None or spec.loader is None or not path.is_file():
                    raise ValueError(f"--plugin {plugin!r}: no such plugin file")
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
            else:
                importlib.import_module(plugin)
        except ValueError:
            raise
        except Exception as err:  # a plugin that does not import (syntax error, its own exception)
            sys.modules.pop(name, None)
            raise ValueError(f"--plugin {plugin!r}: cannot import: {type(err).__name__}: {err}") from None

"""Config field metadata: aliases (other names a config key answers to) and the field table of a config.

A config dataclass may declare ``aliases: ClassVar[Mapping[str, Alias]]``: each alias names one or more
fields it sets. Aliases are accepted wherever a config key is (``hparams.yaml``, ``--hparams FILE``, Optuna
trial overrides, ``--set``, ``config.yaml`` of older runs) and are replaced by their fields before the value
is type- and range-checked, so ``config.yaml`` only ever holds field names. Uses: a paper's name for a
common setting (MoSS's ``sac_alpha`` is the SAC block's ``alpha``), a shorthand for several fields (``lr``
sets ``actor_lr`` and ``critic_lr``), or a name a config replaced (``sac_layer_size`` and ``sac_layers``
became ``hidden``; ``convert`` builds the field's value from the alias's value and the values so far).

:func:`field_rows` lists a config's fields (name, type, default, docstring, aliases) for
``harness list --methods --json``; docstrings are the string literals under each field in the class source.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import textwrap
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.config_types import ConfigError, type_name


@dataclass(frozen=True)
class Alias:
    """Another name of one or more config fields.

    Attributes:
        targets: the fields the alias sets (all to the same value).
        doc: what the alias is (e.g. the paper's name and where it comes from).
        convert: ``(alias value, values so far) -> field value`` when the alias is not the field's value
            itself (values so far: the defaults updated by every lower-precedence layer and by the keys
            before it in its own layer); None: the value as given.
    """

    targets: tuple[str, ...]
    doc: str = ""
    convert: Callable[[Any, Mapping[str, Any]], Any] | None = None


def config_aliases(config_cls: type) -> dict[str, Alias]:
    """Alias name -> :class:`Alias` of a config class (its ``aliases`` class attribute; empty if none)."""
    return dict(getattr(config_cls, "aliases", None) or {})


def field_defaults(config_cls: type) -> dict[str, Any]:
    """Field name -> default of a config dataclass (fields without a plain default are left out)."""
    return {f.name: f.default for f in dataclasses.fields(config_cls) if f.default is not dataclasses.MISSING}


def _converts(aliases: Mapping[str, Alias], key: str) -> bool:
    return key in aliases and aliases[key].convert is not None


def resolve_aliases(config_cls: type, overrides: Mapping[str, Any], source: str,
                    base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``overrides`` with every alias key replaced by the field(s) it names (other keys pass through).

    Args:
        config_cls: the config dataclass.
        overrides: one layer of overrides (field names and aliases).
        source: where the layer comes from, for messages.
        base: values of the lower-precedence layers (over the defaults), read by converting aliases.

    Raises:
        ConfigError: an alias and its field (or two aliases of one field) set different values, or an
            alias's value cannot be converted.
    """
    aliases = config_aliases(config_cls)
    if not any(key in aliases for key in overrides):
        return dict(overrides)
    current = {**field_defaults(config_cls), **(base or {})}
    out: dict[str, Any] = {}
    named_by: dict[str, str] = {}  # field -> the key that set it (converting aliases compose, never clash)
    for key, value in overrides.items():
        alias = aliases.get(key)
        targets: tuple[str, ...] = (key,)
        new = value
        if alias is not None:
            targets = alias.targets
            try:
                new = value if alias.convert is None else alias.convert(value, current)
            except (TypeError, ValueError) as err:
                raise ConfigError(f"{source}: bad value for {key!r} (alias of {', '.join(targets)}): "
                                  f"{value!r} ({err})") from None
        for target in targets:
            prev = named_by.get(target)
            if prev is not None and out[target] != new and not (_converts(aliases, key)
                                                                 or _converts(aliases, prev)):
                raise ConfigError(f"{source}: {prev!r} and {key!r} both set {target!r} ({out[target]!r} vs "
                                  f"{new!r}); give one of them")
            out[target] = current[target] = new
            named_by[target] = key
    return out


# ------------------------------------------------------------------------------------------ field table


def field_docs(config_cls: type) -> dict[str, str]:
    """Field name -> docstring (the string literal right under the field) over the class and its bases;
    a subclass's docstring wins. Fields without one (or classes without source) are left out."""
    docs: dict[str, str] = {}
    for klass in reversed(config_cls.__mro__):
        if klass is object or not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, nxt in itertools.pairwise(body):
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and \
                    isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) and \
                    isinstance(nxt.value.value, str):
                docs[node.target.id] = " ".join(inspect.cleandoc(nxt.value.value).split())
    return docs


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, (tuple, list)) else value


def field_rows(config_cls: type) -> list[dict[str, Any]]:
    """One row per field of a config dataclass: ``name``, ``type``, ``default`` (JSON-ready), ``doc`` and
    ``aliases`` (``[{"name", "doc"}]``, the aliases that set this field)."""
    hints = typing.get_type_hints(config_cls)
    docs = field_docs(config_cls)
    aliases = config_aliases(config_cls)
    rows = []
    for f in dataclasses.fields(config_cls):
        if not f.init:
            continue
        rows.append({
            "name": f.name, "type": type_name(hints[f.name]),
            "default": None if f.default is dataclasses.MISSING else _plain(f.default),
            "doc": docs.get(f.name, ""),
            "aliases": [{"name": a, "doc": al.doc} for a, al in aliases.items() if f.name in al.targets],
        })
    return rows

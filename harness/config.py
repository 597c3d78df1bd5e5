"""Method configs: layered overrides loaded *into* the method's frozen dataclass, typos fail loudly.

Precedence (later wins)::

    dataclass default < hparams.yaml default < <group> < <suite>
      < profiles.<p>.default < profiles.<p>.<group> < profiles.<p>.<suite>
      < --hparams FILE < trial overrides (Optuna) < CLI --set key=value

``hparams.yaml`` lives next to the method (``Method.hparams_file``)::

    default: {hidden: 256}
    toy: {hidden: 64}                 # a group name
    point-goal: {lr: 0.001}           # a suite name
    profiles:
      smoke: {default: {updates: 2}}
      quick: {default: {...}, toy: {...}, point-goal: {...}}

Every key of every section is checked against the dataclass fields when the file is read, whatever suite is
run, and every value is type-checked (and coerced where lossless: ``1`` -> ``1.0`` for a float field,
``"1e-3"`` -> ``0.001``, ``[64, 64]`` -> ``(64, 64)``). ``--set`` values are parsed with ``yaml.safe_load``.
Values are also range-checked by field-name conventions (:mod:`harness.config_ranges`: learning rates > 0,
``0 < gamma <= 1``, batch and buffer sizes within memory, non-empty layer lists, finite floats, ...).
Errors are :class:`ConfigError` (a ``ValueError``) naming the source, the field, the expected type or valid
range and the value; unknown keys list the valid ones with the closest match.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from harness.config_fields import config_aliases, resolve_aliases
from harness.config_ranges import range_error
from harness.config_types import ConfigError, coerce, type_name
from harness.profiles import PROFILES

__all__ = ["ConfigError", "coerce"]  # re-exported: their home is harness.config_types

#: Top-level keys of ``hparams.yaml`` besides group and suite names.
DEFAULT_KEY = "default"
PROFILES_KEY = "profiles"

# ------------------------------------------------------------------------------------------- dataclasses


def field_types(config_cls: type) -> dict[str, Any]:
    """Field name -> resolved type of a config dataclass (``from __future__ import annotations`` aware)."""
    if not dataclasses.is_dataclass(config_cls):
        raise TypeError(f"{config_cls!r} is not a dataclass")
    hints = typing.get_type_hints(config_cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(config_cls) if f.init}


def unknown_key_message(key: str, valid: Sequence[str], source: str) -> str:
    """Error text for an unknown config key: the valid keys and the closest match."""
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"{source}: unknown config key {key!r}.{hint} Valid keys: {', '.join(sorted(valid))}"


def check_overrides(config_cls: type, overrides: Mapping[str, Any], source: str,
                    base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Validate and coerce ``overrides`` against ``config_cls``; return the coerced dict of field names.

    Aliases (:mod:`harness.config_fields`) are replaced by their fields first; ``base`` (the values of the
    lower-precedence layers) is what a converting alias builds on.

    Raises:
        ConfigError: unknown key (with closest match) or a value of the wrong type (field, type, value).
    """
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{source}: expected a mapping of config keys, got {overrides!r}")
    types_ = field_types(config_cls)
    for key in overrides:
        if key not in types_ and key not in config_aliases(config_cls):
            raise ConfigError(unknown_key_message(str(key), [*types_, *config_aliases(config_cls)], source))
    out: dict[str, Any] = {}
    for key, value in resolve_aliases(config_cls, overrides, source, base).items():
        try:
            out[key] = coerce(value, types_[key])
        except (TypeError, ValueError) as err:
            raise ConfigError(
                f"{source}: bad value for {config_cls.__name__}.{key} "
                f"(type {type_name(types_[key])}): {value!r} ({err})"
            ) from None
        problem = range_error(str(key), types_[key], out[key])
        if problem is not None:
            raise ConfigError(
                f"{source}: {config_cls.__name__}.{key} = {value!r} is out of range ({problem})"
            )
    return out


def check_ranges(config: Any, source: str = "config") -> None:
    """Range-check every field of a built config (defaults included; see :mod:`harness.config_ranges`).

    Raises:
        ConfigError: naming the field, the value and the valid range.
    """
    for key, tp in field_types(type(config)).items():
        value = getattr(config, key)
        problem = range_error(key, tp, value)
        if problem is not None:
            raise ConfigError(
                f"{source}: {type(config).__name__}.{key} = {value!r} is out of range ({problem})"
            )


def config_to_dict(config: Any) -> dict[str, Any]:
    """Plain dict of a config dataclass (tuples become lists) for ``config.yaml``."""

    def plain(v: Any) -> Any:
        if isinstance(v, (tuple, list)):
            return [plain(x) for x in v]
        return v

    return {f.name: plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def config_from_dict(config_cls: type, data: Mapping[str, Any]) -> Any:
    """Rebuild a config from :func:`config_to_dict` output (checked like any override)."""
    return config_cls(**check_overrides(config_cls, data, "config dict"))


# ------------------------------------------------------------------------------------------ hparams.yaml


def read_yaml(path: Path) -> Any:
    """``yaml.safe_load`` of ``path`` with the path in the error message."""
    try:
        return yaml.safe_load(Path(path).read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from None


def _check_section_names(keys: Sequence[str], valid: Sequence[str], source: str) -> None:
    for key in keys:
        if key not in valid:
            close = difflib.get_close_matches(str(key), list(valid), n=1, cutoff=0.5)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{source}: unknown section {key!r} (not 'default', 'profiles', a suite or a group).{hint}"
            )


def validate_hparams(config_cls: type, data: Any, source: str, scopes: Sequence[str]) -> dict[str, Any]:
    """Check a whole ``hparams.yaml`` mapping: section names and every key and value of every section.

    Args:
        config_cls: the method's config dataclass.
        data: the parsed YAML.
        source: file name for messages.
        scopes: valid section names (registered suite and group names).

    Returns:
        The mapping with every section's values coerced.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    valid = [DEFAULT_KEY, *scopes]
    out: dict[str, Any] = {}
    _check_section_names([k for k in data if k != PROFILES_KEY], valid, source)
    for key, section in data.items():
        if key == PROFILES_KEY:
            continue
        out[key] = check_overrides(config_cls, section or {}, f"{source} [{key}]")
    profiles = data.get(PROFILES_KEY) or {}
    if not isinstance(profiles, Mapping):
        raise ConfigError(f"{source}: 'profiles' must map profile names to sections")
    out[PROFILES_KEY] = {}
    for pname, psections in profiles.items():
        _check_section_names([pname], list(PROFILES), f"{source} [profiles]")
        if not isinstance(psections, Mapping):
            raise ConfigError(f"{source} [profiles.{pname}]: expected a mapping of sections")
        _check_section_names(list(psections), valid, f"{source} [profiles.{pname}]")
        out[PROFILES_KEY][pname] = {
            k: check_overrides(config_cls, v or {}, f"{source} [profiles.{pname}.{k}]")
            for k, v in psections.items()
        }
    return out


def hparams_layers(hparams: Mapping[str, Any], suite: str, group: str, profile: str) -> list[dict[str, Any]]:
    """The sections of a (parsed) ``hparams.yaml`` that apply to a run, lowest precedence first."""
    prof = (hparams.get(PROFILES_KEY) or {}).get(profile) or {}
    return [
        hparams.get(DEFAULT_KEY) or {},
        hparams.get(group) or {} if group != suite else {},
        hparams.get(suite) or {},
        prof.get(DEFAULT_KEY) or {},
        prof.get(group) or {} if group != suite else {},
        prof.get(suite) or {},
    ]


def read_hparams_file(path: Path) -> dict[str, dict[str, Any]]:
    """Read a ``--hparams FILE``: a YAML of overrides that sits between the profile and the trial.

    Two forms are accepted:

    * flat: ``{lr: 0.001, hidden: 64}``, applied to every method of the run;
    * per method: ``{methods: {moss: {lr: 0.001}, pearl: {...}}}`` (what ``harness sweep --export-best``
      writes), applied to the named methods only.

    Returns:
        ``{method_name: overrides}``; the flat form is returned under the key ``"*"``.
    """
    data = read_yaml(path)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping of config keys")
    if "methods" in data:
        extra = set(data) - {"methods"}
        if extra:
            raise ConfigError(f"{path}: with 'methods:', no other top-level keys allowed: {sorted(extra)}")
        methods = data["methods"]
        if not isinstance(methods, Mapping) or not all(isinstance(v, Mapping) for v in methods.values()):
            raise ConfigError(f"{path}: 'methods' must map method names to mappings of config keys")
        return {str(k): dict(v) for k, v in methods.items()}
    return {"*": dict(data)}


def parse_set(item: str) -> tuple[str, Any]:
    """Parse one ``--set key=value`` (value through ``yaml.safe_load``: ``1e-3``, ``[64, 64]``, ``true``)."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key=value")
    key, _, raw = item.partition("=")
    key = key.strip()
    if not key:
        raise ConfigError(f"--set {item!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as err:
        raise ConfigError(f"--set {item!r}: cannot parse value: {err}") from None
    return key, value


def parse_sets(items: Sequence[str]) -> dict[str, Any]:
    """Parse every ``--set`` (later ones win)."""
    return dict(parse_set(i) for i in items)


def sets_for_method(sets: Sequence[str], method: str) -> dict[str, Any]:
    """The ``--set`` overrides that apply to ``method``: ``key=v`` applies to every method,
    ``<method>.key=v`` only to that one (config keys never contain dots).

    Raises:
        UnknownNameError: the prefix of a scoped key is not a registered method.
    """
    from harness.registry import get_method

    out: dict[str, Any] = {}
    for key, value in parse_sets(sets).items():
        if "." in key:
            prefix, _, key = key.rpartition(".")
            get_method(prefix)  # unknown method prefix: error with the closest name
            if prefix != method:
                continue
        out[key] = value
    return out


def load_config(
    config_cls: type,
    *,
    hparams: Mapping[str, Any] | None = None,
    hparams_source: str = "hparams.yaml",
    suite: str = "",
    group: str = "",
    profile: str = "quick",
    scopes: Sequence[str] = (),
    file_overrides: Mapping[str, Any] | None = None,
    trial: Mapping[str, Any] | None = None,
    sets: Mapping[str, Any] | None = None,
) -> Any:
    """Build the frozen config of a run from every layer (see the module docstring for the order).

    Args:
        config_cls: the method's config dataclass.
        hparams: the parsed ``hparams.yaml`` (None: no file).
        hparams_source: its name for messages.
        suite: suite name of the run.
        group: the suite's group.
        profile: profile name.
        scopes: every valid section name of ``hparams.yaml`` (suite and group names).
        file_overrides: the ``--hparams FILE`` overrides for this method.
        trial: Optuna trial overrides.
        sets: parsed ``--set`` overrides.
    """
    values: dict[str, Any] = {}
    layers: list[tuple[str, Mapping[str, Any] | None]] = []
    if hparams:
        validate_hparams(config_cls, hparams, hparams_source, scopes)  # every section, whatever the run
        layers += [(hparams_source, section) for section in hparams_layers(hparams, suite, group, profile)]
    layers += [("--hparams file", file_overrides), ("trial", trial), ("--set", sets)]
    for source, overrides in layers:
        if overrides:  # layer by layer: an alias that converts builds on the layers below
            values.update(check_overrides(config_cls, overrides, source, base=values))
    try:
        config = config_cls(**values)
    except (TypeError, ValueError) as err:  # __post_init__ checks of the config itself
        raise ConfigError(f"{config_cls.__name__}: {err}") from None
    check_ranges(config, "defaults")
    return config


def method_config(
    method_cls: Any,
    suite: Any,
    profile: str,
    *,
    file_overrides: Mapping[str, Any] | None = None,
    trial: Mapping[str, Any] | None = None,
    sets: Mapping[str, Any] | None = None,
) -> Any:
    """The config of ``method_cls`` (a ``Method`` subclass) for a run of ``suite`` (a ``Suite``)."""
    from harness.registry import list_suites, suite_groups

    hparams = None
    source = "hparams.yaml"
    if method_cls.hparams_file is not None:
        path = Path(method_cls.hparams_file)
        if not path.exists():
            raise ConfigError(f"{method_cls.__name__}.hparams_file {path} does not exist")
        hparams, source = read_yaml(path), str(path)
    scopes = [s.name for s in list_suites()] + list(suite_groups())
    return load_config(
        method_cls.config_cls,
        hparams=hparams,
        hparams_source=source,
        suite=suite.name,
        group=suite.group,
        profile=profile,
        scopes=scopes,
        file_overrides=file_overrides,
        trial=trial,
        sets=sets,
    )


def job_config(method_cls: Any, suite: Any, profile: str, *, hparams_file: str | Path | None = None,
               trial: Mapping[str, Any] | None = None, sets: Sequence[str] = ()) -> Any:
    """The config of one ``harness run`` job: :func:`method_config` with this method's part of a
    ``--hparams FILE`` (:func:`read_hparams_file`), the trial's overrides, and the ``--set`` strings scoped
    to the method (:func:`sets_for_method`)."""
    per_method = read_hparams_file(Path(hparams_file)) if hparams_file is not None else {}
    return method_config(method_cls, suite, profile, file_overrides=per_method.get(method_cls.name,
                         per_method.get("*", {})), trial=trial, sets=sets_for_method(sets, method_cls.name))

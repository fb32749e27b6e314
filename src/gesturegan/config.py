"""Dataclass configs: built from YAML plus overrides, validated in one place, saved with every output.

Every config in gesturegan is a (possibly nested) ``@dataclass``. ``from_dict`` refuses unknown keys,
wrong types, numbers that are not finite, numbers outside an option's ``Bounds`` and words outside
its ``choices`` with a ``UserError`` naming the field, so a typo in a YAML file is a clear one-line
error instead of a silently ignored option or a crash after the run folder was written. Bounds and
choices are declared once, on the field (``option(4, "...", at_least=1)``, ``option("off", "...",
choices=("off", "ada"))``), and shown by ``--help`` and ``docs/options.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .atomic import write_text
from .errors import UserError

T = TypeVar("T")


def to_dict(cfg: Any) -> dict[str, Any]:
    """A plain-dict copy of a dataclass config (nested dataclasses become dicts, tuples lists)."""
    return _plain(dataclasses.asdict(cfg))


def from_dict(cls: type[T], data: dict[str, Any] | None, where: str = "config") -> T:
    """Build ``cls`` from ``data``; missing keys keep their defaults, unknown keys are an error,
    and every number must be finite and within its option's bounds (``check``)."""
    if data is not None and not isinstance(data, dict):
        raise UserError(f"{where}: expected a mapping, got {data!r}")
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise UserError(
            f"{where}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(fields))}"
        )
    kwargs = {name: _coerce(hints[name], value, f"{where}.{name}") for name, value in data.items()}
    try:
        cfg = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{where}: {exc}") from exc
    check(cfg, where)
    return cfg


def check(cfg: Any, where: str = "config") -> None:
    """Refuse a config (nested ones too) holding a number that is not finite or lies outside its
    option's ``Bounds``, or a word that is not one of its ``choices``: ``from_dict`` calls it, and
    so do configs the Python API builds directly.

    Raises
    ------
    UserError : naming the first such option, its bounds or choices, and the value.
    """
    for f in dataclasses.fields(cfg):
        value, name = getattr(cfg, f.name), f"{where}.{f.name}"
        if dataclasses.is_dataclass(value):
            check(value, name)
            continue
        items = value if isinstance(value, list | tuple) else [value]
        numbers = [x for x in items if isinstance(x, int | float) and not isinstance(x, bool)]
        each = "each value " if items is value else ""
        bad = next((x for x in numbers if not math.isfinite(x)), None)
        if bad is not None:
            raise UserError(f"{name}: {each}must be a finite number, got {bad!r}")
        bounds = f.metadata.get("bounds")
        bad = next((x for x in numbers if bounds and not bounds.holds(x)), None)
        if bad is not None:
            raise UserError(f"{name}: {each}must be {bounds}, got {show_value(bad)}")
        choices = f.metadata.get("choices")
        bad = next((x for x in items if choices and x not in choices), None)
        if bad is not None:
            raise UserError(f"{name}: {each}must be {_one_of(choices)}, got {bad!r}")


def load_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML mapping; a missing file or bad YAML is a ``UserError`` with the line number."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UserError(f"{path}: {problem}{line}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping at the top level")
    return data


def load(cls: type[T], path: str | os.PathLike | None, overrides: dict[str, Any]) -> T:
    """``cls`` from the YAML file ``path`` (None: the defaults) with ``overrides`` on top (their
    ``None`` values ignored), validated by ``from_dict``."""
    base = load_yaml(path) if path else {}
    return from_dict(cls, merge(base, overrides), where=str(path) if path else "options")


def save_yaml(cfg: Any, path: str | os.PathLike) -> Path:
    """Write a dataclass config (or plain mapping) to ``path`` atomically as YAML."""
    data = to_dict(cfg) if dataclasses.is_dataclass(cfg) else _plain(cfg)
    return write_text(path, yaml.safe_dump(data, sort_keys=False))


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge: ``overrides`` wins; ``None`` values in overrides are ignored."""
    out = dict(base)
    for key, value in overrides.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


@dataclasses.dataclass(frozen=True)
class Bounds:
    """The numbers an option takes: from ``low`` to ``high`` (``None``: no limit on that side),
    each end included unless ``*_open``. Shown as ``≥ 1``, ``> 0`` or ``in [0, 1)``."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def holds(self, x: float) -> bool:
        """Whether the number ``x`` is within the bounds."""
        if self.low is not None and (x <= self.low if self.low_open else x < self.low):
            return False
        return self.high is None or (x < self.high if self.high_open else x <= self.high)

    def __str__(self) -> str:
        low, high = _number(self.low), _number(self.high)
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"in {left}{low}, {high}{right}"
        if self.low is not None:
            return f"{'>' if self.low_open else '≥'} {low}"
        return f"{'<' if self.high_open else '≤'} {high}"


def _number(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if x == int(x) else f"{x:g}"


def _one_of(choices: tuple[str, ...]) -> str:
    """How an option's ``choices`` read in a message or a table: ``one of off, ada, fixed``."""
    return f"one of {', '.join(choices)}"


def option(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    factory: Any = dataclasses.MISSING,
    section: str | None = None,
    at_least: float | None = None,
    above: float | None = None,
    at_most: float | None = None,
    below: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """A config field that carries its own description: ``lr: float = option(0.002, "Adam
    learning rate", above=0)``. The help sentence (and ``section``, a heading that starts a group of
    options) is what `--help`, ``examples/train.yaml`` and ``docs/options.md`` show, so each option
    is described once. ``factory`` makes mutable defaults (``factory=dict``). ``at_least``,
    ``above``, ``at_most`` and ``below`` bound a number (each number of a list), and ``choices``
    lists the words a text option (each word of a list) may be, checked by ``from_dict`` before
    anything uses the config."""
    metadata: dict[str, Any] = {"help": help, "section": section}
    if choices is not None:
        metadata["choices"] = tuple(choices)
    if (at_least, above, at_most, below) != (None,) * 4:
        metadata["bounds"] = Bounds(
            above if above is not None else at_least,
            below if below is not None else at_most,
            low_open=above is not None,
            high_open=below is not None,
        )
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class Option:
    """One leaf option of a config: dotted ``name`` (``pgan.z_dim``), type ``hint``, plain
    ``default`` (tuples as lists), its ``help`` sentence, the ``section`` it opens (or None), the
    ``bounds`` of its numbers and the ``choices`` of its words (each None where it has none)."""

    name: str
    hint: Any
    default: Any
    help: str
    section: str | None
    bounds: Bounds | None = None
    choices: tuple[str, ...] | None = None

    @property
    def takes(self) -> str:
        """The values it takes, as ``docs/options.md`` shows them (``≥ 1``, ``one of a, b``; "")."""
        if self.choices:
            return _one_of(self.choices)
        return str(self.bounds) if self.bounds else ""


def options(cls: type, prefix: str = "") -> list[Option]:
    """Every leaf option of a dataclass config in declaration order; nested configs are flattened
    (``pgan.z_dim``). A field declared without ``option`` has the help "" (the tests refuse it)."""
    hints = typing.get_type_hints(cls)
    out: list[Option] = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        section = f.metadata.get("section")
        if dataclasses.is_dataclass(hints[f.name]):
            nested = options(hints[f.name], f"{prefix}{f.name}.")
            if section and nested:  # the block's heading opens its first option
                nested[0] = dataclasses.replace(nested[0], section=section)
            out += nested
            continue
        has_factory = f.default_factory is not dataclasses.MISSING
        default = _plain(f.default_factory() if has_factory else f.default)
        help = f.metadata.get("help", "")
        bounds, choices = f.metadata.get("bounds"), f.metadata.get("choices")
        out.append(Option(prefix + f.name, hints[f.name], default, help, section, bounds, choices))
    return out


def leaf_fields(cls: type) -> list[tuple[str, Any, Any]]:
    """``(dotted name, type hint, default)`` of every option of a dataclass config (``options``)."""
    return [(o.name, o.hint, o.default) for o in options(cls)]


def field_help(cls: type) -> dict[str, str]:
    """Dotted option name → its help sentence; an option of a nested config (``pgan.z_dim``) is
    prefixed with the config's name (``pgan: latent size``)."""
    return {o.name: _qualified_help(o) for o in options(cls)}


def show_value(value: Any) -> str:
    """A default as it is written in YAML and on the command line: ``[32]``, ``null``, ``'off'``
    (quoted where YAML would read the bare word as something else)."""
    return yaml.safe_dump(value, default_flow_style=True).removesuffix("\n...\n").strip()


def flag_help(cls: type, name: str) -> str:
    """The help of option ``name`` of ``cls`` with its default, for a hand-written flag."""
    (opt,) = (o for o in options(cls) if o.name == name)
    return _with_default(opt)


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"pgan.z_dim": 64, "lr": 0.01}`` → ``{"pgan": {"z_dim": 64}, "lr": 0.01}``."""
    out: dict[str, Any] = {}
    for dotted, value in flat.items():
        *parents, leaf = dotted.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def add_arguments(
    parser: argparse._ActionsContainer, cls: type, skip: tuple[str, ...] = ()
) -> None:
    """One ``--option`` per field of ``cls`` (``pgan.z_dim`` → ``--pgan.z-dim``), each with its
    help sentence and default from the field (``option``); values are read as YAML (``64``,
    ``[64, 32]``, ``null``, ``time``); a true-or-false option given alone is true (``--compile``).
    ``overrides_from`` collects the ones given. Fields in ``skip`` have hand-written flags."""
    for opt in options(cls):
        if opt.name in skip:
            continue
        switch = {"nargs": "?", "const": True} if opt.hint is bool else {}  # --compile: true
        parser.add_argument(
            "--" + opt.name.replace("_", "-"),
            dest=_DEST + opt.name,
            metavar=_metavar(opt.hint),
            type=functools.partial(parse_value, hint=opt.hint),
            help=_with_default(opt),
            **switch,
        )


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    """The options ``add_arguments`` made that were given on the command line, nested."""
    given = {k.removeprefix(_DEST): v for k, v in vars(args).items() if k.startswith(_DEST)}
    return nest({k: v for k, v in given.items() if v is not None})


def parse_value(text: str, hint: Any = Any) -> Any:
    """A command-line value read as YAML. A text option takes the text as it is (YAML would read
    ``off`` as false); for a list option, ``64,32`` is a list too, and a single value of a list of
    any length is a one-item list (``--batch-size 16``: 16 at every stage)."""
    if hint is str:
        return text
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise argparse.ArgumentTypeError(f"not a YAML value: {text!r}") from exc
    if typing.get_origin(hint) in (tuple, list):
        if isinstance(value, str) and "," in value:
            value = yaml.safe_load(f"[{text}]")
        elif (
            value is not None and not isinstance(value, list) and Ellipsis in typing.get_args(hint)
        ):
            value = [value]
    return value


_DEST = "option:"


def _qualified_help(opt: Option) -> str:
    parent = opt.name.rpartition(".")[0]
    return f"{parent}: {opt.help}" if parent else opt.help


def _with_default(opt: Option) -> str:
    if opt.default == "":  # no default: the text must be given (``data``)
        return _qualified_help(opt).replace("%", "%%")
    shown = opt.default if isinstance(opt.default, str) else show_value(opt.default)
    takes = f"; {opt.takes}" if opt.takes else ""
    return f"{_qualified_help(opt)} (default {shown}{takes})".replace("%", "%%")


def _metavar(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) != 1:
            return "YAML"
        hint = args[0]
    if typing.get_origin(hint) in (tuple, list):
        return "LIST"
    return {int: "N", float: "X", str: "TEXT", bool: "BOOL"}.get(hint, "YAML")


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return value if isinstance(value, hint) else from_dict(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        if len(args) == 1:
            return _coerce(args[0], value, where)
        errors = []
        for arg in args:  # the first type the value fits: [] is an empty tuple, "time" text
            try:
                return _coerce(arg, value, where)
            except UserError as exc:
                errors.append(exc)
        raise errors[0]  # what the first type says is wrong with it
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"{where}: expected a mapping, got {value!r}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise UserError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(hint)
        if origin is tuple and args and Ellipsis not in args:  # a fixed length: [beta1, beta2]
            if len(value) != len(args):
                raise UserError(f"{where}: expected {len(args)} values, got {list(value)!r}")
            pairs = enumerate(zip(args, value, strict=True))
            items = [_coerce(a, v, f"{where}[{i}]") for i, (a, v) in pairs]
        else:
            item = args[0] if args else Any
            items = [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if hint is bool:
        if not isinstance(value, bool):
            raise UserError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UserError(f"{where}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise UserError(f"{where}: expected a finite number, got {value!r}")
        if hint is int and float(value) != int(value):
            raise UserError(f"{where}: expected a whole number, got {value!r}")
        return hint(value)
    if hint is str:
        if isinstance(value, bool):  # YAML 1.1 reads off/on/yes/no as booleans
            raise UserError(f"{where}: expected text, got {value!r}; put the word in quotes")
        if not isinstance(value, str):
            raise UserError(f"{where}: expected text, got {value!r}")
        return value
    return value


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj

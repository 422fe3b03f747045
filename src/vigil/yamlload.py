"""The one YAML loader for every file a user edits: specs, scenarios, notes, document metadata.

Safe YAML (no Python objects), plus two checks PyYAML does not make:

* a key given twice in one mapping is an error naming both lines (YAML would keep the last
  one and silently drop the first);
* :func:`describe` turns a pydantic validation error into one line naming the key path
  and line, and an unknown key with the model's nearest key names ("did you mean
  'rationale'?") instead of only the required key it left missing.

Optionally, dates stay text (``dates_as_text``) so a model can name a bad one instead of
YAML crashing on ``2030-02-30``.

:func:`read_text` reads such a file: a regular file only (a symlink to ``/dev/zero`` or a
FIFO would never end), at most :data:`MAX_BYTES`, and UTF-8 (a bad byte is named with its
line and offset instead of a traceback).
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path as FsPath

import yaml
from pydantic import BaseModel, ValidationError

from vigil.errors import InputError, VigilError

Path = tuple[str | int, ...]
_MERGE = "tag:yaml.org,2002:merge"


class SpecLoader(yaml.SafeLoader):
    """Safe YAML; :func:`load_yaml` adds the duplicate-key check."""


class TextDatesLoader(SpecLoader):
    """:class:`SpecLoader` with dates kept as text."""


TextDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


#: The most a spec, scenario, notes file, sidecar or manifest may hold: the largest real
#: one is a few tens of KiB, so 8 MiB is generous, yet small enough that a stray link to
#: a huge file (or to /dev/zero) is refused instead of exhausting memory.
MAX_BYTES = 8 * 1024 * 1024


def read_text(
    path: FsPath | str,
    where: str | None = None,
    *,
    error: type[VigilError] = InputError,
    encoding: str = "utf-8",
    limit: int = MAX_BYTES,
) -> str:
    """The text of the file ``path`` (named ``where`` in errors, default the path).

    Errors (``error``): no such file, a folder or anything but a regular file once links
    are followed (a device such as /dev/zero, a FIFO, a socket), more than ``limit``
    bytes, and bytes that are not UTF-8 (``where:LINE: not UTF-8 (byte 0xff at offset
    N)``). At most ``limit + 1`` bytes are ever read.
    """
    where = str(path) if where is None else where
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise error(f"{where}: no such file", "check the path") from None
    except IsADirectoryError:
        raise error(f"{where}: is a folder, not a file", "give the path of a file") from None
    except OSError as exc:
        raise error(f"{where}: cannot read it ({exc.strerror})", "check the path") from None
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise error(f"{where}: is a folder, not a file", "give the path of a file")
        raise error(
            f"{where}: not a regular file ({_kind(mode)}, e.g. a link to /dev/zero)",
            "give the path of a text file",
        )
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise error(
            f"{where}: larger than {limit // 1024 // 1024 or limit} "
            f"{'MiB' if limit >= 1024 * 1024 else 'bytes'}, far more than any real one",
            "check it is the file you meant",
        )
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(
            f"{where}:{line}: not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            "save it as UTF-8 (in most editors: Save As, encoding UTF-8)",
        ) from None


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a plain file"


def dotted(path: Sequence[str | int]) -> str:
    """``('indicators', 3, 'rules', 0, 'x')`` as ``indicators[3].rules[0].x``."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def load_yaml(
    text: str,
    where: str,
    *,
    error: type[VigilError] = InputError,
    dates_as_text: bool = False,
    hint: str = "fix the syntax",
) -> tuple[object, dict[Path, int]]:
    """``text`` parsed as safe YAML, and the line (1-based) of every key path in it.

    Errors (``error``, naming ``where``): bad syntax, and a key given twice in one mapping
    (both lines named).
    """
    loader = (TextDatesLoader if dates_as_text else SpecLoader)(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[Path, int] = {}
        _walk(loader, node, (), lines, where, error, set())
        return loader.construct_document(node), lines
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())  # one line: the CLI prints errors on one line
        raise error(f"{where}: not valid YAML ({detail})", hint) from None
    finally:
        loader.dispose()


def _walk(loader, node, path: Path, lines, where: str, error, seen: set[int]) -> None:
    if id(node) in seen:  # an alias: walked where its anchor is
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[object, int] = {}
        for key_node, value in node.value:
            if key_node.tag == _MERGE:
                continue
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue  # construction will say the key is unhashable
            line = key_node.start_mark.line + 1
            if key in first:
                raise error(
                    f"{where}:{line}: key {dotted((*path, key))!r} is given twice "
                    f"(first at {where}:{first[key]})",
                    "YAML would keep only the second and silently drop the first: "
                    "delete one or merge them",
                )
            first[key] = line
            lines[(*path, key)] = line
            _walk(loader, value, (*path, key), lines, where, error, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*path, i)] = item.start_mark.line + 1
            _walk(loader, item, (*path, i), lines, where, error, seen)


# ---------------------------------------------------------------- validation errors
def suggest(key: str, known: Sequence[str]) -> str:
    """``"did you mean 'x'?"`` for the nearest known key, else the list of known keys."""
    close = difflib.get_close_matches(str(key), list(known), n=2, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    return f"the keys here are: {', '.join(known)}" if known else "no keys are allowed here"


def model_keys(model: type[BaseModel]) -> list[str]:
    """The keys a YAML mapping for ``model`` may hold (aliases where a field has one)."""
    return [f.alias or name for name, f in model.model_fields.items()]


def keys_at(model: type[BaseModel], loc: Sequence[str | int]) -> list[str] | None:
    """The keys allowed in the mapping at ``loc`` of ``model`` (None if unknown)."""
    tp: object = model
    for part in loc:
        nxt = _step(tp, part)
        if nxt is None:
            if isinstance(part, str) and _model_in(tp) is None:
                continue  # a union's tag in pydantic's location
            return None
        tp = nxt
    found = _model_in(tp)
    return model_keys(found) if found is not None else None


def _model_in(tp) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _model_in(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _step(tp, part: str | int):  # noqa: C901 - one case per kind of type
    model = _model_in(tp)
    if model is not None and isinstance(part, str):
        for name, f in model.model_fields.items():
            if part in (name, f.alias):
                return f.annotation
        return None
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return _step(args[0], part)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if arg is not type(None):
                found = _step(arg, part)
                if found is not None:
                    return found
        return None
    if isinstance(part, int) and origin in (tuple, list, Sequence) and args:
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return args[part] if part < len(args) else None
        return args[0]
    if isinstance(part, str) and origin in (dict, Mapping) and len(args) == 2:
        return args[1]
    return None


def describe(
    exc: ValidationError, model: type[BaseModel], lines: Mapping[Path, int] | None = None
) -> tuple[str, str, int | None]:
    """``(key path, message, line)`` for the error to report first.

    An unknown key comes first, with the nearest allowed keys: a misspelt key also
    leaves the real one missing, and "Field required" alone would hide the typo.
    """
    errors = exc.errors()
    extra = [e for e in errors if e["type"] == "extra_forbidden"]
    err = extra[0] if extra else errors[0]
    loc = tuple(err["loc"])
    if extra:
        known = keys_at(model, loc[:-1]) or []
        msg = f"unknown key; {suggest(str(loc[-1]), known)}"
        # the key it stands for, reported missing, is the same mistake
        close = set(difflib.get_close_matches(str(loc[-1]), known, n=2, cutoff=0.6))
        rest = [
            e
            for e in errors
            if e is not err
            and not (e["type"] == "missing" and tuple(e["loc"][:-1]) == loc[:-1]
                     and e["loc"][-1] in close)
        ]  # fmt: skip
    else:
        msg = err["msg"].removeprefix("Value error, ")
        rest = errors[1:]
    if rest:
        msg += f" (and {len(rest)} more)"
    # a validator names the item it refuses below its key (``[0].en[2]: pattern ...``):
    # the line of that item, not of the key
    full = loc if extra else (*loc, *_subpath(msg))
    line = None
    for n in range(len(full), -1, -1):
        line = (lines or {}).get(full[:n])
        if line is not None:
            break
    return dotted(loc), msg, line


_SUBPATH = re.compile(r"((?:\[\d+\]|\.?[A-Za-z_]\w*)+): ")


def _subpath(msg: str) -> Path:
    m = _SUBPATH.match(msg)
    if m is None:
        return ()
    return tuple(
        int(i) if i else k for i, k in re.findall(r"\[(\d+)\]|\.?([A-Za-z_]\w*)", m.group(1))
    )

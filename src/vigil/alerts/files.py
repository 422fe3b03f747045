"""Reading a user's list file (``alerts.yaml``'s rules, ``sinks.yaml``'s sinks) item by item.

Each item is validated against the model its ``kind`` names, on its own: pydantic's errors
for a union of kinds would name the tag inside the key path and could not say which keys the
item may hold, so a misspelt key would get no "did you mean". Errors name the file, the line
and the key path (``sinks.yaml:4: sinks[1].pth: unknown key; did you mean 'path'?``).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from vigil.errors import InputError
from vigil.yamlload import describe, load_yaml, read_text, suggest


def load_items(
    path: Path, where: str, key: str, kinds: dict[str, type[BaseModel]], doc: str
) -> tuple[list, dict]:
    """The ``key`` list of the YAML file ``path`` (named ``where``) as models chosen by each
    item's ``kind``, and the line of every key path (for later checks to name)."""
    text = read_text(path, where)  # a regular file, bounded, UTF-8 (else an InputError)
    try:
        data, lines = load_yaml(text, where, hint=f"fix the syntax; see {doc}")
    except yaml.YAMLError as exc:
        # PyYAML refuses control characters (a binary file that happens to be UTF-8) before
        # load_yaml's own handling: name the file and the line instead of a traceback
        pos = getattr(exc, "position", None)
        line = f":{text.count(chr(10), 0, pos) + 1}" if isinstance(pos, int) else ""
        detail = " ".join(str(exc).split())
        raise InputError(
            f"{where}{line}: not a YAML text file ({detail})",
            f"give a UTF-8 text file; see {doc}",
        ) from None
    if data is None:
        return [], lines
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a mapping with a {key!r} list", f"see {doc}")
    for extra in set(data) - {key}:
        line = lines.get((extra,), "?")
        raise InputError(
            f"{where}:{line}: {extra}: unknown key; {suggest(str(extra), [key])}", f"see {doc}"
        )
    items = data.get(key) or []
    if not isinstance(items, list):
        raise InputError(f"{where}:{lines.get((key,), '?')}: {key}: expected a list", f"see {doc}")
    out = []
    for i, item in enumerate(items):
        at, line = f"{key}[{i}]", lines.get((key, i), "?")
        if not isinstance(item, dict):
            raise InputError(f"{where}:{line}: {at}: expected a mapping of keys", f"see {doc}")
        kind = item.get("kind")
        if kind not in kinds:
            known = list(kinds)
            said = "no kind given" if kind is None else f"{kind!r} is not a kind"
            hint = suggest(str(kind), known) if kind is not None else f"one of: {', '.join(known)}"
            raise InputError(f"{where}:{line}: {at}.kind: {said}; {hint}", f"see {doc}")
        model = kinds[kind]
        try:
            out.append(model.model_validate(item))
        except ValidationError as exc:
            sub = {p[2:]: n for p, n in lines.items() if p[:2] == (key, i)}
            path_, msg, found = describe(exc, model, sub)
            place = f"{where}:{found or line}"
            raise InputError(
                f"{place}: {at}{'.' + path_ if path_ else ''}: {msg}",
                f"fix it; {doc} describes every key",
            ) from None
    return out, lines

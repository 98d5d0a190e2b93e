"""Settings values written as ``.env`` lines that the settings read back as the same values."""

from __future__ import annotations

import enum
import json
import re
from typing import Final

__all__ = ["env_line", "env_text"]

# Values made of these characters need no quotes in a .env file, nor in a shell assignment.
_BARE: Final = re.compile(r"[\w.,:/@*+%=-]*")


def env_text(value: object) -> str:
    """*value* as an environment variable holds it: the form the settings parse back.

    Booleans are ``true``/``false``, lists comma-separated (a JSON array when an
    item holds a comma), mappings a JSON object, ``None`` empty.
    """
    if value is None:
        return ""
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        items = [env_text(item) for item in value]
        return json.dumps(items) if any("," in item for item in items) else ",".join(items)
    return str(value)


def env_line(name: str, text: str) -> str:
    """``NAME=text``, the text quoted when a ``.env`` parser would otherwise change it.

    Single quotes keep the text as it is (no escapes, no ``${...}``
    expansion); text holding a single quote is double-quoted with escapes.
    """
    if _BARE.fullmatch(text):
        return f"{name}={text}"
    if "'" not in text:
        return f"{name}='{text}'"
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'{name}="{escaped}"'

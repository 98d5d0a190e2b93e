"""Settings values written as ``.env`` lines that the settings read back as the same values."""

from __future__ import annotations

import enum
import json
import re
from typing import Final

__all__ = ["env_line", "env_text"]

# Values made of these characters need no quotes in a .env file, nor in a shell assignment.
_BARE: Final = re.compile(r"[\w.,:/@*+%=-]*")
# python-dotenv reads single-quoted text as it is, but for \\ and \'; in double
# quotes it decodes \\ \" \n \r (among others). A raw line break would survive
# only until the file is read with universal newlines, so it travels as an escape.
_ESCAPED: Final = re.compile(r"['\\\n\r]")
_ESCAPES: Final = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})
# python-dotenv expands ${NAME} and ${NAME:-default} in every value, quoted or
# not, and has no escape for "$". ${:-${} expands to "${" itself: no variable
# has an empty name, so its default is used.
_EXPANSION: Final = "${"
_LITERAL_EXPANSION: Final = "${:-${}"


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
    """``NAME=text``, quoted so that python-dotenv, which reads ``.env`` files, gives *text* back.

    Bare when nothing in it means anything to a ``.env`` parser; single-quoted
    when it holds no single quote, backslash or line break; otherwise double-quoted with
    backslash, double quote, newline and carriage return escaped. Either way
    ``${`` is kept from expanding.
    """
    if _BARE.fullmatch(text):
        return f"{name}={text}"
    text = text.replace(_EXPANSION, _LITERAL_EXPANSION)
    if not _ESCAPED.search(text):
        return f"{name}='{text}'"
    return f'{name}="{text.translate(_ESCAPES)}"'

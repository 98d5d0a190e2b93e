"""Pure parsers from the strings operators write to Python values: booleans, lists, flags.

Each function takes what an environment variable holds and returns a value, or
raises :class:`~agentifui_config.errors.ConfigurationError` naming the variable
and saying how to fix it. No function here reads the environment. Database URLs
and host lists are read in :mod:`agentifui_config.url_parsing`.
"""

from __future__ import annotations

import json
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from agentifui_config.errors import UNNAMED, ConfigurationError

__all__ = [
    "parse_bool",
    "parse_flags",
    "parse_list",
    "short_repr",
]

_TRUE: Final = frozenset({"true", "1", "yes", "on"})
_FALSE: Final = frozenset({"false", "0", "no", "off"})
_BOOL_WORDS: Final = "true/false, 1/0, yes/no or on/off"

# Values echoed in messages are cut short: an operator needs to recognise the
# value, not to read a megabyte of it back (nor a nested one deep enough to
# exhaust the recursion limit of repr()).
_SHORT: Final = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 80


def short_repr(value: object) -> str:
    """*value*'s ``repr()`` as an error message echoes it: cut short past 80 characters."""
    return _SHORT.repr(value)


def parse_bool(value: str | bool, *, variable: str = UNNAMED) -> bool:
    """Read a boolean written as true/false, 1/0, yes/no or on/off, in any case.

    Raises:
        ConfigurationError: *value* is none of those words.
    """
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ConfigurationError(
        f"expected a boolean, got {short_repr(value)}",
        variable=variable,
        remedy=f"use {_BOOL_WORDS}",
    )


def parse_list(value: str | Sequence[str] | None, *, variable: str = UNNAMED) -> list[str]:
    """Read a list given as a JSON array or as comma-separated values.

    Items are stripped of surrounding whitespace and empty items are dropped, so
    ``""`` and ``"[]"`` both give ``[]``. A list passes through the same clean-up.

    Raises:
        ConfigurationError: The value starts like a JSON array but is not one,
            the array holds something other than strings, or the value is
            neither text nor a list.
    """
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        items: Sequence[object] = (
            _json_array(text, variable) if text.startswith("[") else text.split(",")
        )
    elif isinstance(value, Iterable):
        items = list(value)
    else:
        raise ConfigurationError(
            f"expected a list, got {short_repr(value)}",
            variable=variable,
            remedy='give comma-separated values a,b or a JSON array such as ["a", "b"]',
        )
    return _clean_items(items, variable)


def _json_array(text: str, variable: str) -> list[object]:
    loaded = _json_loads(text)
    if not isinstance(loaded, list):
        raise ConfigurationError(
            "starts with '[' but is not a valid JSON array",
            variable=variable,
            remedy='write a JSON array such as ["a", "b"], or comma-separated values a,b',
        )
    return loaded


def _json_loads(text: str) -> object:
    """The JSON value in *text*, or ``None`` when it is not JSON.

    Besides :class:`json.JSONDecodeError`, deep nesting raises
    :class:`RecursionError` and a number longer than Python's integer digit
    limit raises a plain :class:`ValueError`: both mean "not a usable value".
    """
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _clean_items(items: Sequence[object], variable: str) -> list[str]:
    cleaned = []
    for item in items:
        if not isinstance(item, str):
            raise ConfigurationError(
                f"list items must be strings, got {short_repr(item)}",
                variable=variable,
                remedy="quote every item of the JSON array",
            )
        if stripped := item.strip():
            cleaned.append(stripped)
    return cleaned


def parse_flags(
    value: str | Mapping[str, object] | None, *, variable: str = "FEATURE_FLAGS"
) -> dict[str, bool]:
    """Read feature flags given as a JSON object or as ``name=on,other=off``.

    A bare ``name`` means true. Values accept true/false, 1/0, yes/no and
    on/off in any case; names are stripped and kept as written.

    Raises:
        ConfigurationError: A flag has no name or a value that is not a
            boolean (the message names the flag), or the value is neither
            text nor a mapping.
    """
    if value is None:
        return {}
    if isinstance(value, str):
        text = value.strip()
        pairs = _json_object(text, variable) if text.startswith("{") else _flag_pairs(text)
    elif isinstance(value, Mapping):
        pairs = dict(value)
    else:
        raise ConfigurationError(
            f"expected flags, got {short_repr(value)}",
            variable=variable,
            remedy='give name=on,other=off or a JSON object such as {"beta": true}',
        )
    return {
        _flag_name(name, variable): _flag_value(name, raw, variable) for name, raw in pairs.items()
    }


def _json_object(text: str, variable: str) -> dict[str, object]:
    loaded = _json_loads(text)
    if not isinstance(loaded, dict):
        raise ConfigurationError(
            "starts with '{' but is not a valid JSON object",
            variable=variable,
            remedy='write a JSON object such as {"beta": true}, or name=on,other=off',
        )
    return loaded


def _flag_pairs(text: str) -> dict[str, object]:
    pairs: dict[str, object] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, raw = item.partition("=")
        pairs[name] = raw if sep else True
    return pairs


def _flag_name(name: str, variable: str) -> str:
    stripped = str(name).strip()
    if not stripped:
        raise ConfigurationError(
            "a flag has no name", variable=variable, remedy="write each flag as name=on or name=off"
        )
    return stripped


def _flag_value(name: str, raw: object, variable: str) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | str) and str(raw).strip().lower() in _TRUE | _FALSE:
        return str(raw).strip().lower() in _TRUE
    raise ConfigurationError(
        f"flag {short_repr(str(name).strip())} has value {short_repr(raw)}, which is not a boolean",
        variable=variable,
        remedy=f"give it {_BOOL_WORDS}",
    )

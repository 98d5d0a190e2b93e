"""Tests for ``agentifui_config.parsing``: lists, flags and booleans from text."""

from __future__ import annotations

import contextlib
import json
from typing import assert_type

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentifui_config.errors import UNNAMED, ConfigurationError
from agentifui_config.parsing import parse_bool, parse_flags, parse_list

_TRUE_WORDS = ("true", "1", "yes", "on")
_FALSE_WORDS = ("false", "0", "no", "off")

# Text from every printable character (no surrogates, which no environment holds).
_printable = st.characters(exclude_categories=("Cs", "Cc"))


def _recase(word: str, flips: list[bool]) -> str:
    return "".join(c.swapcase() if flip else c for c, flip in zip(word, flips, strict=False))


class TestParseBool:
    @pytest.mark.parametrize("word", _TRUE_WORDS)
    def test_true_words(self, word: str) -> None:
        """true, 1, yes and on read as True."""
        assert parse_bool(word) is True

    @pytest.mark.parametrize("word", _FALSE_WORDS)
    def test_false_words(self, word: str) -> None:
        """false, 0, no and off read as False."""
        assert parse_bool(word) is False

    @given(
        word=st.sampled_from(_TRUE_WORDS + _FALSE_WORDS),
        flips=st.lists(st.booleans(), min_size=5, max_size=5),
        pad=st.sampled_from(["", " ", "\t", "\n "]),
    )
    @settings(max_examples=200)
    def test_any_case_and_padding(self, word: str, flips: list[bool], pad: str) -> None:
        """Case and surrounding whitespace do not change the reading."""
        assert parse_bool(pad + _recase(word, flips) + pad) is (word in _TRUE_WORDS)

    @pytest.mark.parametrize("value", [True, False])
    def test_booleans_pass_through(self, value: bool) -> None:
        """A bool is returned as it is."""
        assert parse_bool(value) is value

    @pytest.mark.parametrize("word", ["", "maybe", "2", "y", "enabled", "tru e"])
    def test_other_words_are_an_error_naming_the_variable(self, word: str) -> None:
        """Anything else is an error that names the variable and lists the accepted words."""
        with pytest.raises(
            ConfigurationError,
            match=rf"^DB_ECHO_SQL: expected a boolean, got '{word}' - "
            r"use true/false, 1/0, yes/no or on/off$",
        ):
            parse_bool(word, variable="DB_ECHO_SQL")

    def test_unnamed_variable(self) -> None:
        """Without a variable, the error names the placeholder the settings layer renames."""
        with pytest.raises(ConfigurationError) as caught:
            parse_bool("maybe")
        assert caught.value.variables == (UNNAMED,)

    @given(st.text())
    @settings(max_examples=300)
    def test_any_text_gives_a_bool_or_a_configuration_error(self, text: str) -> None:
        """Whatever the text, the result is a bool or a ConfigurationError, nothing else."""
        with contextlib.suppress(ConfigurationError):
            assert isinstance(parse_bool(text), bool)

    def test_signature(self) -> None:
        """parse_bool returns a bool."""
        assert_type(parse_bool("on"), bool)


class TestParseList:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (
                '["https://a.example", "https://b.example"]',
                ["https://a.example", "https://b.example"],
            ),
            ('  [" a ", "", "b"]  ', ["a", "b"]),
            ("[]", []),
            ("a,b", ["a", "b"]),
            (" a , b ,, c ,", ["a", "b", "c"]),
            ("single", ["single"]),
            ("", []),
            ("   ", []),
            (",,,", []),
            ("http://[::1]:8000,http://localhost", ["http://[::1]:8000", "http://localhost"]),
        ],
    )
    def test_json_array_or_comma_separated(self, value: str, expected: list[str]) -> None:
        """A JSON array is read as such, anything else as comma-separated, items stripped."""
        assert parse_list(value) == expected

    def test_json_items_may_hold_commas(self) -> None:
        """Inside a JSON array a comma is part of an item, not a separator."""
        assert parse_list('["a,b", "c"]') == ["a,b", "c"]

    @pytest.mark.parametrize(
        ("value", "expected"),
        [(["a", " b ", ""], ["a", "b"]), (("x",), ["x"]), ([], []), (None, [])],
    )
    def test_sequences_pass_through_the_same_clean_up(
        self, value: list[str] | tuple[str, ...] | None, expected: list[str]
    ) -> None:
        """A list (or None, meaning unset) gets the same stripping and dropping."""
        assert parse_list(value) == expected

    @pytest.mark.parametrize("value", ["[", "[a, b]", '["a",', "[1", '["a": 1]'])
    def test_broken_json_array_is_an_error(self, value: str) -> None:
        """Text that starts like a JSON array but is not one is an error, not a list."""
        with pytest.raises(
            ConfigurationError,
            match=r"^CORS_ORIGINS: starts with '\[' but is not a valid JSON array - write a JSON "
            r"array such as \[\"a\", \"b\"\], or comma-separated values a,b$",
        ):
            parse_list(value, variable="CORS_ORIGINS")

    @pytest.mark.parametrize(
        ("value", "shown"), [("[1]", "1"), ('["a", null]', "None"), ('[["a"]]', r"\['a'\]")]
    )
    def test_non_string_items_are_an_error(self, value: str, shown: str) -> None:
        """A JSON array may hold only strings; the error shows the item."""
        with pytest.raises(
            ConfigurationError,
            match=rf"^CORS_ORIGINS: list items must be strings, got {shown} - "
            r"quote every item of the JSON array$",
        ):
            parse_list(value, variable="CORS_ORIGINS")

    def test_non_string_item_in_a_sequence_is_an_error(self) -> None:
        """A list holding something other than strings is refused too."""
        with pytest.raises(ConfigurationError, match="list items must be strings, got 3"):
            parse_list(["a", 3])  # type: ignore[list-item]

    @pytest.mark.parametrize("value", ["[" * 100_000, "[" + "1" * 5_000 + "]"])
    def test_pathological_json_is_a_configuration_error(self, value: str) -> None:
        """Nesting past the recursion limit or a number past the digit limit is refused cleanly."""
        with pytest.raises(ConfigurationError, match="is not a valid JSON array"):
            parse_list(value)

    def test_a_huge_item_is_shown_cut_short(self) -> None:
        """An error quotes a long item only in part."""
        with pytest.raises(ConfigurationError) as caught:
            parse_list(json.dumps([{"k": "v" * 10_000}]))
        assert len(str(caught.value)) < 300

    @given(
        st.lists(
            st.text(_printable, min_size=1).map(str.strip).filter(bool),
            max_size=8,
        )
    )
    @settings(max_examples=300)
    def test_json_round_trip(self, items: list[str]) -> None:
        """Any list of stripped, non-empty strings survives json.dumps then parse_list."""
        assert parse_list(json.dumps(items)) == items

    @given(
        st.lists(
            st.text(_printable.filter(lambda c: c != ","), min_size=1).map(str.strip).filter(bool),
            min_size=1,
            max_size=8,
        ).filter(lambda items: not items[0].startswith("["))
    )
    @settings(max_examples=300)
    def test_comma_round_trip(self, items: list[str]) -> None:
        """Stripped items without commas survive being joined with commas then parsed."""
        assert parse_list(",".join(items)) == items
        assert parse_list(" , ".join(items)) == items

    @given(st.text())
    @settings(max_examples=300)
    def test_any_text_gives_a_list_or_a_configuration_error(self, text: str) -> None:
        """Whatever the text, the result is a list of clean items or a ConfigurationError."""
        with contextlib.suppress(ConfigurationError):
            assert all(item and item == item.strip() for item in parse_list(text))

    @given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(), st.lists))
    @settings(max_examples=200)
    def test_any_json_gives_a_list_or_a_configuration_error(self, value: object) -> None:
        """Whatever JSON a variable holds, the result is a list or a ConfigurationError."""
        with contextlib.suppress(ConfigurationError):
            assert isinstance(parse_list(json.dumps(value)), list)

    def test_signature(self) -> None:
        """parse_list returns a list of strings."""
        assert_type(parse_list("a,b"), list[str])


class TestWrongTypes:
    @pytest.mark.parametrize("value", [1, 2.5, object()])
    def test_parse_list_refuses_a_non_list(self, value: object) -> None:
        """A value that is neither text nor a list is a ConfigurationError, not a TypeError."""
        with pytest.raises(ConfigurationError, match=r"^X: expected a list"):
            parse_list(value, variable="X")  # type: ignore[arg-type]

    @pytest.mark.parametrize("value", [1, ["beta"], ("a", "b")])
    def test_parse_flags_refuses_a_non_mapping(self, value: object) -> None:
        """A value that is neither text nor a mapping is a ConfigurationError, not a TypeError."""
        with pytest.raises(ConfigurationError, match=r"^X: expected flags"):
            parse_flags(value, variable="X")  # type: ignore[arg-type]


class TestParseFlags:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("beta=true,legacy=off", {"beta": True, "legacy": False}),
            ("beta", {"beta": True}),
            (" beta , new_ui = YES ,old=No ", {"beta": True, "new_ui": True, "old": False}),
            ("a=1,b=0,c=on,d=OFF", {"a": True, "b": False, "c": True, "d": False}),
            ('{"beta": true, "legacy": false}', {"beta": True, "legacy": False}),
            (
                '{"beta": "on", "legacy": 0, "new": "Yes"}',
                {"beta": True, "legacy": False, "new": True},
            ),
            ("", {}),
            (" , ,", {}),
            ("{}", {}),
        ],
    )
    def test_pairs_bare_names_or_json(self, value: str, expected: dict[str, bool]) -> None:
        """name=value pairs, bare names (true) and JSON objects all read as flags."""
        assert parse_flags(value) == expected

    @pytest.mark.parametrize(
        ("value", "expected"),
        [({"a": "off", " b ": True}, {"a": False, "b": True}), ({}, {}), (None, {})],
    )
    def test_mappings_pass_through_the_same_reading(
        self, value: dict[str, object] | None, expected: dict[str, bool]
    ) -> None:
        """A mapping (or None, meaning unset) is read with the same rules."""
        assert parse_flags(value) == expected

    @pytest.mark.parametrize(
        ("value", "flag", "shown"),
        [
            ("beta=maybe", "beta", "'maybe'"),
            ("beta=", "beta", "''"),
            ("ok=on, beta=2", "beta", "'2'"),
            ('{"beta": 2}', "beta", "2"),
            ('{"beta": null}', "beta", "None"),
            ('{"beta": 1.0}', "beta", "1.0"),
            ("x=a=b", "x", "'a=b'"),
        ],
    )
    def test_non_boolean_value_is_an_error_naming_the_flag(
        self, value: str, flag: str, shown: str
    ) -> None:
        """A value that is not a boolean is an error that names the flag and the value."""
        with pytest.raises(
            ConfigurationError,
            match=rf"^FEATURE_FLAGS: flag '{flag}' has value {shown}, which is not a boolean - "
            r"give it true/false, 1/0, yes/no or on/off$",
        ):
            parse_flags(value)

    @pytest.mark.parametrize("value", ["=on", " = off", '{" ": true}'])
    def test_nameless_flag_is_an_error(self, value: str) -> None:
        """A flag without a name is an error."""
        with pytest.raises(
            ConfigurationError,
            match=r"^FEATURE_FLAGS: a flag has no name - write each flag as name=on or name=off$",
        ):
            parse_flags(value)

    @pytest.mark.parametrize("value", ["{", '{"a": true', "{beta}", '{"a": true}}', "{" * 100_000])
    def test_broken_json_object_is_an_error(self, value: str) -> None:
        """Text that starts like a JSON object but is not one is an error on the variable."""
        with pytest.raises(
            ConfigurationError,
            match=r"^FLAGS: starts with '\{' but is not a valid JSON object - ",
        ):
            parse_flags(value, variable="FLAGS")

    @given(
        st.dictionaries(
            st.text(_printable, min_size=1).map(str.strip).filter(bool), st.booleans(), max_size=6
        )
    )
    @settings(max_examples=200)
    def test_json_round_trip(self, flags: dict[str, bool]) -> None:
        """Any flags with stripped names survive json.dumps then parse_flags."""
        assert parse_flags(json.dumps(flags)) == flags

    @given(
        st.dictionaries(
            st.text(_printable.filter(lambda c: c not in ",="), min_size=1)
            .map(str.strip)
            .filter(lambda name: bool(name) and not name.startswith("{")),
            st.tuples(st.booleans(), st.sampled_from(range(4)), st.booleans()),
            max_size=6,
        )
    )
    @settings(max_examples=200)
    def test_pairs_round_trip(self, flags: dict[str, tuple[bool, int, bool]]) -> None:
        """Flags written as name=word pairs, in any spelling, read back as written."""
        words = {True: _TRUE_WORDS, False: _FALSE_WORDS}
        text = ",".join(
            f"{name}={words[on][spelling].upper() if shout else words[on][spelling]}"
            for name, (on, spelling, shout) in flags.items()
        )
        assert parse_flags(text) == {name: on for name, (on, _, _) in flags.items()}

    @given(st.text())
    @settings(max_examples=300)
    def test_any_text_gives_flags_or_a_configuration_error(self, text: str) -> None:
        """Whatever the text, the result is a dict of booleans or a ConfigurationError."""
        with contextlib.suppress(ConfigurationError):
            flags = parse_flags(text)
            assert all(name and name == name.strip() for name in flags)
            assert set(flags.values()) <= {True, False}

    def test_signature(self) -> None:
        """parse_flags returns a dict of booleans."""
        assert_type(parse_flags("beta"), dict[str, bool])

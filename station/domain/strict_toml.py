"""Strict reading of TOML documents: recipes and station settings share it.

A typo in a production file must never fall back silently to a default: unknown keys are
refused at every level, every value's type is checked, and each error names its place, e.g.
``recipe.toml: [steps.flash] timeout_seconds: must be more than 0 and at most 86400 seconds``.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from station.domain.errors import ConfigurationError, RecipeError

PlacedErrorFactory = Callable[[str, str], ConfigurationError]
T = TypeVar("T")


class StrictTable:
    """One TOML table with its place; refuses unknown keys and wrong types.

    ``error`` makes the error for a place and a message (``RecipeError``, ``SettingsError``), so
    that every refusal names the file, the table and the key.
    """

    def __init__(
        self,
        data: Mapping[str, Any],
        label: str,
        names: tuple[str, ...],
        allowed: Iterable[str] | None,
        *,
        error: PlacedErrorFactory = RecipeError,
    ) -> None:
        self.data = data
        self.label = label
        self.names = names
        self._error = error
        if allowed is not None:
            unknown = self.unknown_keys(allowed)
            if unknown:
                raise unknown[0]

    def unknown_keys(self, allowed: Iterable[str]) -> list[ConfigurationError]:
        """An error for each key of this table that ``allowed`` does not name."""
        allowed_keys = list(allowed)
        return [self.error(key, f"unknown key (allowed here: {', '.join(allowed_keys)})")
                for key in self.data if key not in allowed_keys]  # fmt: skip

    def place(self, key: str | None = None) -> str:
        parts = []
        if self.names:
            parts.append("[" + ".".join(toml_key(name) for name in self.names) + "]")
        if key is not None:
            parts.append(key)
        return f"{self.label}: {' '.join(parts)}" if parts else self.label

    def error(self, key: str | None, message: str) -> ConfigurationError:
        return self._error(self.place(key), message)

    def has(self, key: str) -> bool:
        return key in self.data

    def _get(self, key: str, required: bool) -> Any:
        if key not in self.data:
            if required:
                raise self.error(key, "missing (required)")
            return None
        return self.data[key]

    def string(self, key: str, *, required: bool = True, default: str | None = None) -> str:
        value = self._get(key, required)
        if value is None:
            if default is None:
                raise self.error(key, "missing (required)")
            return default
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, not {toml_type(value)}")
        return value

    def optional_string(self, key: str) -> str | None:
        return self.string(key, required=False, default="") if self.has(key) else None

    def integer(
        self, key: str, *, required: bool = True, default: int | None = None, minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        value = self._get(key, required)
        if value is None:
            if default is None:
                raise self.error(key, "missing (required)")
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer, not {toml_type(value)}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be at least {minimum}, not {value}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"must be at most {maximum}, not {value}")
        return value

    def seconds(self, key: str, *, default: float | None = None) -> float:
        """A positive number of seconds; required unless a default is given."""
        value = self._get(key, required=default is None)
        if value is None:
            assert default is not None
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number of seconds, not {toml_type(value)}")
        seconds = float(value)
        if not math.isfinite(seconds) or seconds <= 0 or seconds > 24 * 3600:
            raise self.error(key, f"must be more than 0 and at most 86400 seconds, not {value}")
        return seconds

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self._get(key, required=False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, not {toml_type(value)}")
        return value

    def table(self, key: str, allowed: Iterable[str] | None, *, required: bool = True) -> StrictTable | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.error(key, f"must be a table, not {toml_type(value)}")
        return StrictTable(value, self.label, (*self.names, key), allowed, error=self._error)

    def required_table(self, key: str, allowed: Iterable[str] | None) -> StrictTable:
        table = self.table(key, allowed, required=True)
        assert table is not None
        return table

    def choice(self, key: str, choices: type[enum.StrEnum], *, default: str | None = None) -> str:
        value = self.string(key, required=default is None, default=default)
        known = [member.value for member in choices]
        if value not in known:
            raise self.error(key, f"{value!r} is not one of: {', '.join(known)}")
        return value

    def pattern(self, key: str, *, required: bool = True, default: str | None = None) -> re.Pattern[str]:
        text = self.string(key, required=required, default=default)
        try:
            return re.compile(text)
        except re.error as error:
            raise self.error(key, f"not a valid regular expression: {error}") from None


class Problems:
    """The problems found in one file, collected so that all are reported at once: each part is
    read with :meth:`read`, which notes a refusal and goes on; :meth:`raise_found` raises them."""

    def __init__(self, error_type: type[ConfigurationError]) -> None:
        self._error_type = error_type
        self.found: list[ConfigurationError] = []

    def read(self, reader: Callable[[], T]) -> T | None:
        """What ``reader`` read, or None when it refused (the refusal is kept)."""
        try:
            return reader()
        except ConfigurationError as problem:
            if not isinstance(problem, self._error_type):
                raise
            self.found.append(problem)
            return None

    def add(self, problems: Iterable[ConfigurationError]) -> None:
        self.found.extend(problems)

    def raise_found(self, combine: Callable[[list[ConfigurationError]], ConfigurationError]) -> None:
        """Raise the one problem found, or all of them as ``combine`` joins them; nothing if none."""
        if len(self.found) == 1:
            raise self.found[0]
        if self.found:
            raise combine(self.found)


def toml_key(name: str) -> str:
    """A key as TOML writes it: bare when it may be, else quoted."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else '"' + name.replace('"', '\\"') + '"'


def toml_type(value: object) -> str:
    """A value's TOML type in words, for an error message."""
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "an array",
             dict: "a table"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a date or time"


def toml_quoted(text: str) -> str:
    """``text`` as a TOML basic string, control characters escaped (for files the station writes)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(character if character >= " " else f"\\u{ord(character):04x}" for character in escaped)
    return f'"{escaped}"'

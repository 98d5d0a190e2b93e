"""Alembic configurations from a path or a ``Config``, and the per-process script cache.

A migration helper accepts its Alembic configuration three ways: the path of an
``alembic.ini`` (or of a ``pyproject.toml`` holding ``[tool.alembic]``), the
path of the migration directory itself (the one holding ``env.py``, whose own
``alembic.ini`` is read when it has one), or an ``alembic.config.Config``.
The database URL is never written into that configuration: the helpers hand
Alembic a connection instead, so a password holding ``%`` never meets the ini
file's interpolation.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
from pathlib import Path
from typing import Any, Final, TypeAlias

from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from agentifui_config.errors import AgentifuiError

__all__ = [
    "AlembicConfigSource",
    "MigrationError",
    "cached_script_directory",
    "clear_script_cache",
    "load_alembic_config",
    "read_script_directory",
    "script_directory",
    "with_attributes",
]

AlembicConfigSource: TypeAlias = str | os.PathLike[str] | Config
"""An ``alembic.ini`` path, a migration directory holding ``env.py``, or an Alembic ``Config``."""

_ARGUMENT: Final = "alembic_config"
_INI: Final = "alembic.ini"

_Fingerprint: TypeAlias = tuple[tuple[str, int, int], ...]

# Script directories already read, by where their scripts are, each with the
# fingerprint of its revision files when read; see script_directory().
_SCRIPTS: dict[tuple[str | None, ...], tuple[_Fingerprint, ScriptDirectory]] = {}


class MigrationError(AgentifuiError):
    """A migration helper cannot do what was asked; the message says what to change.

    Alembic's own refusals (an unknown revision, several heads where one was
    meant) arrive as this error too, their text kept. It is no
    ``ConfigurationError``: ``variable`` is set only when an environment
    variable is at fault (``DB_PGBOUNCER``).

    Args:
        message: What cannot be done, and why.
        remedy: What to change.
        variable: The environment variable at fault, only when one is.
        argument: The argument of the call at fault (``directory``,
            ``lock_timeout``), for a command line to name its own option.

    Attributes:
        argument: The argument at fault, or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        remedy: str = "",
        variable: str | None = None,
        argument: str | None = None,
    ) -> None:
        super().__init__(message, remedy=remedy, variable=variable)
        self.argument = argument


def load_alembic_config(source: AlembicConfigSource) -> Config:
    """Return the Alembic configuration *source* stands for.

    Args:
        source: An ``alembic.ini`` (or ``pyproject.toml``) path, a directory
            holding an ``alembic.ini`` or ``env.py``, or a ``Config``, returned as it is.

    Returns:
        The configuration; for a directory, the ``alembic.ini`` in it, read as
        if given by its path (``prepend_sys_path`` and all), or else an
        in-memory one whose ``script_location`` is that directory.

    Raises:
        MigrationError: The path is neither a file nor a migration directory.
    """
    if isinstance(source, Config):
        return source
    path = Path(source)
    if path.is_dir() and (path / _INI).is_file():
        # The directory's own alembic.ini: its prepend_sys_path lets env.py import the app.
        return Config(path / _INI)
    if path.is_dir():
        if not (path / "env.py").is_file():
            raise MigrationError(
                f"{path} holds no env.py, so it is not an Alembic migration directory",
                argument=_ARGUMENT,
                remedy="give the directory that holds env.py, or its alembic.ini; "
                "init_migrations() writes both",
            )
        config = Config()
        # set_main_option() interpolates: a '%' in the path must be doubled.
        config.set_main_option("script_location", str(path.resolve()).replace("%", "%%"))
        return config
    if path.is_file():
        return Config(toml_file=path) if path.suffix == ".toml" else Config(path)
    raise MigrationError(
        f"{path} does not exist",
        argument=_ARGUMENT,
        remedy="give the path of alembic.ini or of the directory that holds env.py",
    )


def _cache_key(config: Config) -> tuple[str | None, ...]:
    return (
        config.config_file_name,
        config.toml_file_name,
        config.get_alembic_option("script_location"),
        config.get_alembic_option("version_locations"),
    )


def _fingerprint(script: ScriptDirectory) -> _Fingerprint:
    """What the revision files of *script* look like on disk: each one's path, mtime and size.

    A revision file added, removed, renamed or rewritten changes it; listing
    the version locations reads no file, so checking it costs a few ``stat``
    calls, not an import of every revision.
    """
    seen: list[tuple[str, int, int]] = []
    # Alembic's own resolution of version_locations (package resources and all).
    for location in script._version_locations:  # private: no public equivalent
        for root, directories, files in os.walk(location):
            directories[:] = sorted(name for name in directories if name != "__pycache__")
            for name in sorted(files):
                path = os.path.join(root, name)
                with contextlib.suppress(OSError):  # removed since listed: left out, as it is gone
                    found = os.stat(path)
                    seen.append((path, found.st_mtime_ns, found.st_size))
            if not script.recursive_version_locations:
                break
    return tuple(seen)


def cached_script_directory(config: Config) -> ScriptDirectory | None:
    """Return the script directory of *config* if this process has read it and it is current.

    ``None`` when it was never read, or when a revision file appeared,
    disappeared or changed since: the caller reads it again with
    :func:`script_directory`.
    """
    cached = _SCRIPTS.get(_cache_key(config))
    if cached is None:
        return None
    fingerprint, script = cached
    return script if _fingerprint(script) == fingerprint else None


def script_directory(config: Config) -> ScriptDirectory:
    """Return the script directory of *config*, reading its revision files once per process.

    The cache is keyed by the configuration file and the script and version
    locations, so each health check and each ``upgrade()`` of a database at
    head finds the revisions in memory. It is read again when a revision file
    appears, disappears or changes: each call lists the version locations (no
    file is read). :func:`clear_script_cache` forgets every entry.

    Raises:
        MigrationError: The configuration names no script location, or Alembic
            cannot read the revisions (a revision file fails to import, a
            ``down_revision`` names no revision).
    """
    script = cached_script_directory(config)
    if script is not None:
        return script
    try:
        script = ScriptDirectory.from_config(config)
        # Listed before the files are read: a file that changes meanwhile reads as stale next time.
        fingerprint = _fingerprint(script)
        # Read every revision file now, not on first use inside a health budget.
        script.get_heads()
    except CommandError as exc:
        raise MigrationError(
            f"cannot read the migration scripts: {exc}",
            argument=_ARGUMENT,
            remedy="check script_location in the Alembic configuration and the revision files",
        ) from exc
    _SCRIPTS[_cache_key(config)] = (fingerprint, script)
    return script


async def read_script_directory(config: Config) -> ScriptDirectory:
    """Return :func:`script_directory` of *config*, reading the files in a worker thread.

    Importing every revision file is slow for a long history: a read that the
    cache cannot answer runs off the event loop, so the loop keeps serving.

    Raises:
        MigrationError: As :func:`script_directory`.
    """
    cached = cached_script_directory(config)
    if cached is not None:
        return cached
    return await asyncio.to_thread(script_directory, config)


def clear_script_cache() -> None:
    """Forget every script directory read so far; the next status check reads the files again."""
    _SCRIPTS.clear()


def with_attributes(config: Config, **attributes: Any) -> Config:
    """Return a shallow copy of *config* whose ``attributes`` also hold *attributes*.

    The caller's ``Config`` is left untouched, so a connection handed to one
    run never lingers in it for the next, and one ``Config`` can serve
    concurrent runs.
    """
    clone = copy.copy(config)
    # Config.attributes is memoised in the instance dict; the copy gets its own.
    clone.__dict__["attributes"] = {**config.attributes, **attributes}
    return clone

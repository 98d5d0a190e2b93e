"""``init_migrations()``: a migration directory whose ``env.py`` is one call to the helper.

It writes what ``alembic init`` writes (``alembic.ini``, ``env.py``,
``script.py.mako`` and an empty ``versions/``), all in one directory, from the
files shipped in ``agentifui_config/migrations/template_files/``. The plain
``alembic -c <directory>/alembic.ini ...`` command works there, reading the
database from the ``DB_*`` variables.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path
from string import Template
from typing import Final

from agentifui_config.migrations.scripts import MigrationError

__all__ = ["init_migrations"]

# Shipped name -> written name: the shipped env.py must not look like a module of the package.
_FILES: Final = {
    "alembic.ini": "alembic.ini",
    "env.py.template": "env.py",
    "script.py.mako": "script.py.mako",
}
_METADATA: Final = re.compile(
    r"(?P<module>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):(?P<object>[A-Za-z_]\w*)(?P<rest>(?:\.[A-Za-z_]\w*)*)"
)
_NO_METADATA: Final = (
    "# Your models' MetaData, for `alembic revision --autogenerate`, e.g.\n"
    "# from myapp.models import Base\n"
    "# target_metadata = Base.metadata\n"
    "target_metadata = None"
)


def init_migrations(
    directory: str | os.PathLike[str],
    *,
    metadata: str | None = None,
    settings: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a migration directory that uses :func:`run_migrations` in its ``env.py``.

    Args:
        directory: Where to write; created when missing. It becomes the script
            location, and holds ``alembic.ini`` too.
        metadata: The models' ``MetaData`` as ``package.module:Base.metadata``,
            imported by ``env.py`` for autogenerate; ``None`` leaves a commented hint.
        settings: The application's settings class as ``package.module:AppSettings``,
            passed by ``env.py`` to ``run_migrations(settings_class=...)`` so that the
            database and ``.env`` file are that class's.
        overwrite: Replace files that exist; by default they are refused.

    Returns:
        The path of the written ``alembic.ini``, for ``alembic -c`` or ``upgrade()``.

    Raises:
        MigrationError: A file to write exists and *overwrite* is false, or
            *metadata* or *settings* is not ``module:attribute``.
    """
    target = Path(directory)
    env_py = _render_env(metadata, settings)
    existing = [name for name in _FILES.values() if (target / name).exists()]
    if existing and not overwrite:
        raise MigrationError(
            f"{target} already holds {', '.join(existing)}",
            argument="directory",
            remedy="choose an empty directory, or pass overwrite=True to replace those files",
        )
    (target / "versions").mkdir(parents=True, exist_ok=True)
    shipped = resources.files(__package__).joinpath("template_files")
    for source, written in _FILES.items():
        content = env_py if written == "env.py" else shipped.joinpath(source).read_text("utf-8")
        (target / written).write_text(content, encoding="utf-8")
    return target / "alembic.ini"


def _render_env(metadata: str | None, settings: str | None) -> str:
    template = resources.files(__package__).joinpath("template_files", "env.py.template")
    if metadata is None:
        block = _NO_METADATA
    else:
        match = _named(metadata, "metadata", "package.module:Base.metadata")
        block = (
            f"from {match['module']} import {match['object']}\n\n"
            f"target_metadata = {match['object']}{match['rest']}"
        )
    settings_import = settings_argument = ""
    if settings is not None:
        match = _named(settings, "settings", "package.module:AppSettings")
        settings_import = f"from {match['module']} import {match['object']}\n"
        settings_argument = f", settings_class={match['object']}{match['rest']}"
    return Template(template.read_text("utf-8")).substitute(
        target_metadata=block,
        settings_import=settings_import,
        settings_argument=settings_argument,
    )


def _named(value: str, variable: str, example: str) -> re.Match[str]:
    match = _METADATA.fullmatch(value.strip())
    if match is None:
        raise MigrationError(
            f"{variable} {value!r} is not of the form module:attribute",
            argument=variable,
            remedy=f"give it as {example}",
        )
    return match

"""An agent service's data layer, built on agentifui-config's public API only.

Users signing in through several providers, with roles and groups; conversation
sessions with JSONB messages, enforced status transitions and expiry; API keys
stored as SHA-256 hashes; an audit log; soft delete; and the Alembic chain that
builds it all. See ``docs/examples.md`` (section ``agent_service``).

This module imports nothing heavy: the models live in
:mod:`examples.agent_service.models`, :data:`ALEMBIC_INI` locates the
migrations, and ``python -m examples.agent_service`` runs
:mod:`examples.agent_service.demo` against the database ``DB_*`` names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

__all__ = ["ALEMBIC_INI", "MIGRATIONS_DIR"]

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
"""The Alembic migration directory, written by ``init_migrations()``."""

ALEMBIC_INI: Final = MIGRATIONS_DIR / "alembic.ini"
"""The ``alembic.ini`` for ``alembic -c`` and for the library's ``upgrade()``/``downgrade()``."""

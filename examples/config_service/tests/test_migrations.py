"""The service's Alembic migrations, checked by the plugin's ready-made migration tests.

Each check runs on a database of its own, created on the test server and
dropped afterwards; they find the migrations through ``agentifui_alembic_config``
and the tables through ``agentifui_metadata`` (see ``conftest.py``).
"""

from __future__ import annotations

from agentifui_config.testing.migration_checks import (
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)

__all__ = [
    "test_model_definitions_match_ddl",
    "test_single_head_revision",
    "test_up_down_consistency",
    "test_upgrade",
]

"""Tests for what ``import agentifui_config`` costs and exposes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest

import agentifui_config

# Loaded only when the database lifecycle, migrations or the FastAPI integration are used.
_HEAVY: Final = ("sqlalchemy.ext.asyncio", "sqlalchemy.orm", "asyncpg", "alembic", "fastapi")

_PROBE: Final = """
import json, sys
import agentifui_config
settings = agentifui_config.load_settings()
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running *code*."""
    result = subprocess.run(  # noqa: S603 - runs this interpreter on a fixed script
        [sys.executable, "-c", code],
        capture_output=True,
        check=True,
        text=True,
        timeout=60,
        env={"PATH": "", "PYTHONWARNINGS": "ignore"},
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


class TestImportCost:
    def test_heavy_dependencies_are_not_imported(self) -> None:
        """Loading settings imports no async engine, ORM, driver, Alembic or FastAPI."""
        modules = _modules_after(_PROBE)
        assert "agentifui_config.settings" in modules
        loaded = sorted(
            name
            for name in modules
            for heavy in _HEAVY
            if name == heavy or name.startswith(f"{heavy}.")
        )
        assert loaded == []

    def test_import_loads_no_sqlalchemy_at_all(self) -> None:
        """``import agentifui_config`` loads no SQLAlchemy module, nor do its settings names."""
        probe = "import agentifui_config, json, sys; {use}print(json.dumps(sorted(sys.modules)))"
        bare = _modules_after(probe.format(use=""))
        settings = _modules_after(
            probe.format(use="agentifui_config.DatabaseConfig, agentifui_config.load_settings; ")
        )
        assert "pydantic_settings" not in bare
        assert not {"ssl", "socket"} & bare  # a connection's failures load them, not the import
        assert {"agentifui_config.database", "pydantic_settings"} <= settings
        for modules in (bare, settings):
            loaded = sorted(
                name
                for name in modules
                for heavy in ("sqlalchemy", *_HEAVY)
                if name == heavy or name.startswith(f"{heavy}.")
            )
            assert loaded == []

    def test_a_url_built_or_parsed_loads_sqlalchemy_core_only(self) -> None:
        """Building or parsing a URL loads SQLAlchemy's URL, still no engine, ORM or driver."""
        for use in (
            "agentifui_config.DatabaseConfig().url",
            "agentifui_config.parse_database_url('postgresql://u@h/d')",
        ):
            modules = _modules_after(
                f"import agentifui_config, json, sys; {use}; print(json.dumps(sorted(sys.modules)))"
            )
            assert "sqlalchemy.engine.url" in modules
            assert not {name.partition(".")[0] for name in modules} & {"asyncpg", "alembic"}
            assert not {"sqlalchemy.ext.asyncio", "sqlalchemy.orm"} & modules

    def test_probe_sees_heavy_imports(self) -> None:
        """The probe does report a heavy module when one is imported (so the check can fail)."""
        modules = _modules_after("import sqlalchemy.orm\n" + _PROBE)
        assert "sqlalchemy.orm" in modules


class TestPublicNames:
    def test_all_is_sorted(self) -> None:
        """__all__ is kept sorted, so additions are easy to review."""
        assert agentifui_config.__all__ == sorted(agentifui_config.__all__)
        assert len(set(agentifui_config.__all__)) == len(agentifui_config.__all__)

    @pytest.mark.parametrize("name", agentifui_config.__all__)
    def test_every_exported_name_is_importable(self, name: str) -> None:
        """Every name in __all__ can be imported from the package."""
        namespace: dict[str, object] = {}
        exec(f"from agentifui_config import {name}", namespace)  # noqa: S102 - fixed template over __all__
        assert namespace[name] is getattr(agentifui_config, name)

    def test_specification_names_are_exported(self) -> None:
        """The settings-layer names of the specification are public."""
        assert {
            "ConfigurationError",
            "DatabaseConfig",
            "Environment",
            "EnvironmentSettings",
            "get_settings",
            "load_settings",
        } <= set(agentifui_config.__all__)

    def test_unknown_attribute_is_an_attribute_error(self) -> None:
        """A name the package does not have raises AttributeError naming it."""
        with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
            getattr(agentifui_config, "NoSuchThing")  # noqa: B009 - the name must not resolve statically

    def test_dir_lists_the_public_names(self) -> None:
        """dir(agentifui_config) offers the public names."""
        assert set(agentifui_config.__all__) <= set(dir(agentifui_config))


class TestTyping:
    def test_py_typed_ships(self) -> None:
        """The package carries the PEP 561 py.typed marker."""
        assert (Path(agentifui_config.__file__).parent / "py.typed").is_file()


class TestApiPage:
    def test_documents_exactly_each_module_all(self) -> None:
        """docs/api.md lists, module by module, exactly the names in each ``__all__``."""
        import importlib
        import re
        from pathlib import Path

        page = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text("utf-8")
        sections = re.split(r"^## `([\w.]+)`$", page, flags=re.M)[1:]
        documented = dict(zip(sections[::2], sections[1::2], strict=True))
        assert documented, "docs/api.md has no module sections"
        for module_name, body in documented.items():
            names = re.findall(r"^- `(\w+)`", body, flags=re.M)
            module = importlib.import_module(module_name)
            assert sorted(names) == sorted(module.__all__), module_name

    def test_reference_renders_each_documented_module(self) -> None:
        """The generated API reference renders every module docs/api.md lists, in its order."""
        import re
        from pathlib import Path

        docs = Path(__file__).resolve().parents[1] / "docs"
        listed = re.findall(r"^## `([\w.]+)`$", (docs / "api.md").read_text("utf-8"), flags=re.M)
        rendered = re.findall(r"^::: ([\w.]+)$", (docs / "reference.md").read_text("utf-8"), re.M)
        assert rendered == listed

"""Helpers of the plugin tests: inner pytest projects on the outer run's server, and their files."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Final

from agentifui_config.testing.postgres import URL_VARIABLE

if TYPE_CHECKING:
    import pytest

    from agentifui_config.testing.postgres import PostgresServer

__all__ = [
    "NOTES_APP",
    "NOTES_MODELS",
    "SAMPLE",
    "SAMPLE_MODELS",
    "InnerSuite",
]

SAMPLE: Final = Path(__file__).parents[1] / "migrations_sample"
"""The project's sample migrations: a1 -> b2 -> c3, with ``items`` and ``migration_runs``."""

NOTES_MODELS: Final = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(200))
"""
"""``notes_models``: one table and no migrations, for ``create_all``."""

SAMPLE_MODELS: Final = """
from sqlalchemy import Column, Identity, Index, Integer, MetaData, String, Table, text

metadata = MetaData()

Table(
    "items",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100)),
    Index("ix_items_last_name", "last_name"),
)
Table(
    "migration_runs",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column("revision", String(32), nullable=False),
    Column("backend_pid", Integer, server_default=text("pg_backend_pid()")),
)
"""
"""``sample_models``: the models the sample migrations build at head."""

NOTES_APP: Final = """
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import select

from agentifui_config.fastapi import SessionDep, TransactionDep, health_router
from notes_models import Note

app = FastAPI()
app.include_router(health_router())


class NoteIn(BaseModel):
    text: str


@app.post("/notes", status_code=201)
async def create(note: NoteIn, session: TransactionDep) -> dict[str, object]:
    row = Note(text=note.text)
    session.add(row)
    await session.flush()
    return {"id": row.id, "text": row.text}


@app.post("/notes/committed", status_code=201)
async def create_and_commit(note: NoteIn, session: SessionDep) -> dict[str, object]:
    row = Note(text=note.text)
    session.add(row)
    await session.commit()
    return {"id": row.id}


@app.post("/notes/uncommitted", status_code=202)
async def create_without_commit(note: NoteIn, session: SessionDep) -> None:
    session.add(Note(text=note.text))
    await session.flush()


@app.post("/notes/by-id/{note_id}", status_code=201)
async def create_with_id(note_id: int, note: NoteIn, session: TransactionDep) -> None:
    session.add(Note(id=note_id, text=note.text))
    await session.flush()


@app.post("/notes/refused")
async def create_then_fail(note: NoteIn, session: SessionDep) -> None:
    session.add(Note(text=note.text))
    await session.flush()
    raise HTTPException(409, "refused")


@app.get("/notes")
async def list_notes(session: SessionDep) -> list[str]:
    return list((await session.scalars(select(Note.text).order_by(Note.id))).all())
"""
"""``notes_app``: a FastAPI app over ``notes_models`` using both session dependencies."""

# Loaded here so the inner runs find them loaded: after each in-process run,
# pytester forgets every module that run imported, which the next would load again.
for _module in (
    "agentifui_config.fastapi",
    "agentifui_config.migrations",
    "alembic.autogenerate",
    "httpx",
    "sqlalchemy.ext.asyncio",
    "sqlalchemy.orm",
):
    importlib.import_module(_module)


class InnerSuite:
    """A pytester project whose runs use the PostgreSQL server at *url*.

    Setting ``AGENTIFUI_TEST_DATABASE_URL`` to the outer run's server keeps
    each inner run from starting an embedded server of its own.

    Args:
        pytester: The outer test's pytester.
        monkeypatch: The outer test's monkeypatch, undone after it.
        url: The server's admin URL, password included.
    """

    def __init__(
        self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, url: str
    ) -> None:
        monkeypatch.setenv(URL_VARIABLE, url)
        pytester.syspathinsert()
        self.pytester = pytester

    @classmethod
    def on(
        cls, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, server: PostgresServer
    ) -> InnerSuite:
        """A project on *server*, the outer run's."""
        return cls(pytester, monkeypatch, server.admin_url.render_as_string(hide_password=False))

    def ini(self, *lines: str, fixture_loop: str = "function", test_loop: str = "function") -> None:
        """Write the inner ``tox.ini``: strict asyncio mode, warnings as errors, and *lines*."""
        self.pytester.makeini(
            "\n".join(
                [
                    "[pytest]",
                    "asyncio_mode = strict",
                    f"asyncio_default_fixture_loop_scope = {fixture_loop}",
                    f"asyncio_default_test_loop_scope = {test_loop}",
                    "filterwarnings = error",
                    *lines,
                ]
            )
            + "\n"
        )

    def files(self, **modules: str) -> None:
        """Write Python modules into the project, by module name."""
        self.pytester.makepyfile(**modules)

    def run(self, *args: str) -> pytest.RunResult:
        """Run pytest in this process on the project."""
        # Hypothesis' plugin imports hypothesis afresh for its summary in each run: 0.6 s.
        return self.pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest", *args)

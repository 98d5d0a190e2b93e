"""A configuration service: applications and their named JSON configurations in PostgreSQL.

The layers, each in its own module:

- :mod:`~examples.config_service.schema`: the tables, in SQLAlchemy Core;
- :mod:`~examples.config_service.repository`: parameterised SQL, returning plain records;
- :mod:`~examples.config_service.payloads`: the request and response bodies;
- :mod:`~examples.config_service.routers`: the HTTP API under ``/api/v1``;
- :mod:`~examples.config_service.problems`: 404 and 409 as RFC 9457 problem details;
- :mod:`~examples.config_service.app`: ``create_app()``, which wires them to
  agentifui-config's lifespan, health endpoints, CORS and logging;
- ``migrations/``: its Alembic migrations, run through ``agentifui_config.migrations``.

Importing this package loads nothing: Alembic's ``env.py`` imports
:mod:`~examples.config_service.schema` without FastAPI.
"""

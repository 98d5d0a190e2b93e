"""Load the settings from the environment and print them, secrets masked.

``nox -s demo`` runs this with a broken production environment, after the tour
of :mod:`examples.demo`, to show the one report that refuses it and that no
secret is printed. Run directly (``python examples/demo_settings.py``) it shows
what your own environment yields. A refused configuration prints the report
that lists every problem and exits with status 1, as a service refuses to start.
"""

from __future__ import annotations

import sys

from agentifui_config import ConfigurationError, EnvironmentSettings, load_settings

__all__ = ["describe_settings", "main"]


def describe_settings(settings: EnvironmentSettings) -> str:
    """Return the settings as aligned ``name  value`` lines, secrets masked, then their repr."""
    shown = {
        "environment": settings.environment,
        "database": settings.database.masked_url,
        "connection_info": settings.database.connection_info,
        "cors_origins": settings.cors_origins,
        "log_level": settings.log_level,
        "feature_flags": settings.feature_flags,
        # A SecretStr prints as asterisks: the value is reachable only through
        # get_secret_value(), which nothing here calls.
        "secret_key": settings.secret_key,
    }
    width = max(map(len, shown))
    lines = [f"{name:<{width}}  {value}" for name, value in shown.items()]
    return "\n".join([*lines, "", repr(settings)])


def main() -> int:
    """Print the settings the environment yields, or the report of what is wrong with it."""
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        print(f"Configuration refused:\n{exc}", file=sys.stderr)
        return 1
    print(describe_settings(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m examples.agent_service``: run the walk-through of :mod:`examples.agent_service.demo`.

The database comes from the ``DB_*`` variables, as for any service on
agentifui-config; a refused configuration prints its report and exits with 1.
"""

from __future__ import annotations

import asyncio
import sys

from agentifui_config import ConfigurationError, load_settings
from examples.agent_service.demo import run


def main() -> int:
    """Run the walk-through on the configured database and print its steps."""
    try:
        settings = load_settings()
        lines = asyncio.run(run(settings.database, retry_for=10))
    except ConfigurationError as exc:
        print(f"cannot run the example:\n{exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

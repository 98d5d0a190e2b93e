"""``python -m agentifui_config``: the ``agentifui-config`` command."""

from __future__ import annotations

from agentifui_config.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    raise SystemExit(main())

"""Complete host applications built on agentifui-config's public API, each with its own tests.

They are not part of the installed package: run them from the repository root,
where ``examples`` is importable (``python -m examples.demo``).
"""

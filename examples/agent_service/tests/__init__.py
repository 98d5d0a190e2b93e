"""Tests of the agent_service example, run with agentifui-config's pytest plugin."""

"""The config service's tests, on agentifui-config's pytest plugin."""

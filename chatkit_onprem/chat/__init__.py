"""The ChatKit server: protocol handling, the agent, and its tools."""

"""The generic category server: serves many integrations' tools over MCP and calls the upstreams.

Not built yet: issue #4 brings the runtime. The package exists so that the import contracts hold
from the first commit.
"""

"""The generic category server: serves many integrations' tools over MCP and calls the upstreams.

Layers, top to bottom: ``__main__``/``app`` (process and aiohttp), ``server`` (MCP handlers),
``service`` (load, list, call), then ``registry``, ``federation``, ``auth``, ``upstream``,
``results``, ``catalog`` and ``credentials``. The design is in docs/design/0004-category-server.md.
"""

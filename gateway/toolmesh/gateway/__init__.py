"""The toolmesh gateway (aiohttp): the one MCP endpoint agents use, with semantic routing.

``app`` assembles it; ``catalog`` and ``compile_pool`` know the tools, ``index`` and ``router`` find
them, ``server`` and ``service`` answer MCP (docs/design/0005, 0006).
"""

"""The toolmesh gateway (aiohttp): the one MCP endpoint agents use, with semantic routing.

Not built yet: issue #5 brings the app, the catalog, the index and the meta-tools. The package
exists so that the import contracts hold from the first commit.
"""

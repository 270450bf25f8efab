"""The gateway's read-only web console at ``/console``: the catalogue, a search playground, the
categories' state and the recent calls, as server-rendered HTML (routes.py, views.py, templates/).

It answers behind the same check of callers as ``/mcp`` and shows each viewer only the tools they
may call. TOOLMESH_CONSOLE=false leaves it out. docs/operations/console.md describes it.
"""

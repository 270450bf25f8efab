"""Catalogs: where the gateway and the category servers find MCPCategory and MCPIntegration objects.

``folder`` reads a folder of objects (local mode, and the category server's mounted catalog). The
cluster source (a watch on the API server) arrives with the operator issue behind the same shape.
"""

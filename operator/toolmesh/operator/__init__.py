"""The toolmesh operator (kopf): reconciles MCPCategory and MCPIntegration into workloads.

Not built yet: issue #6 brings the reconcilers, builders and the real-API-server tests. The
package exists so that the import contracts (components independent of each other) hold from
the first commit.
"""

"""Helpers for testing toolmesh against real parts (a real Kubernetes API server on loopback)."""

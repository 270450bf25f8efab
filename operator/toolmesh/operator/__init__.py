"""The toolmesh operator: MCPCategory and MCPIntegration reconciled into category servers (kopf).

Layers, from the bottom: ``names`` and ``settings``; pure ``builders``, ``bundle``, ``scaling`` and
``status``; ``specs`` (reading an integration's document) and ``apply`` (the one module that writes
children); ``reconcile`` (one entry point per kind); ``handlers`` (kopf registrations).
"""

"""The toolmesh operator: MCPCategory and MCPIntegration reconciled into category servers (kopf).

Layers, from the bottom: ``names`` and ``settings``; pure ``builders``, ``bundle``, ``scaling``,
``status`` and ``observed`` (an integration parsed once, at the boundary); ``specs`` (compiling an
integration's document), ``checks`` (what the integration reconcile reads), ``events`` and
``apply`` (the one module that writes children); ``reconcile`` (one entry point per kind);
``handlers`` (kopf registrations).
"""

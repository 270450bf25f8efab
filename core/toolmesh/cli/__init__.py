"""The ``toolmesh`` command line: one entry point, a subcommand per job.

Subcommands import their component lazily, so ``toolmesh crds`` does not load the gateway.
"""

"""``python -m toolmesh.operator``: run the operator (in a pod: its service account; else the kubeconfig)."""

from __future__ import annotations

import asyncio
import sys

from toolmesh.common import logging as logging_setup
from toolmesh.kube import load_connection
from toolmesh.operator import handlers
from toolmesh.operator.settings import OperatorSettings


def main() -> int:
    settings = OperatorSettings()
    logging_setup.configure(settings.log_level, settings.log_format)
    asyncio.run(handlers.run(settings, load_connection()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where upstream credentials come from, and keeping them out of everything but the request.

A ``secretRef`` names a Secret; its keys (``apiKey``, ``token``, ``username``, ``password``,
``clientId``, ``clientSecret``) are looked up in this order:

1. the environment: ``TOOLMESH_SECRET_<SECRET>_<KEY>`` (upper case, other characters as ``_``),
   e.g. ``TOOLMESH_SECRET_TASKS_CREDENTIALS_APIKEY``;
2. a mounted Secret: ``<credentials_dir>/<secret>/<key>`` (how the operator mounts it in a pod);
3. a Secret object in the catalog folder (local development only).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class MissingCredential(Exception):
    """A credential the integration's auth needs is not configured."""


def env_name(secret: str, key: str) -> str:
    return "TOOLMESH_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", f"{secret}_{key}").upper()


@dataclass
class SecretStore:
    """Looks credentials up; remembers every value it hands out, so results can be scrubbed."""

    directory: Path | None = None
    objects: Mapping[str, Mapping[str, bytes]] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    handed_out: set[str] = field(default_factory=set)

    def get(self, secret: str, key: str) -> str:
        value = self._lookup(secret, key)
        if value is None:
            raise MissingCredential(
                f"credential {key!r} of Secret {secret!r} is not configured "
                f"(set {env_name(secret, key)} or mount the Secret)"
            )
        if len(value) >= 4:  # shorter values would scrub ordinary text
            self.handed_out.add(value)
        return value

    def _lookup(self, secret: str, key: str) -> str | None:
        if (value := self.environ.get(env_name(secret, key))) is not None:
            return value
        if self.directory is not None and (path := self.directory / secret / key).is_file():
            return path.read_text(encoding="utf-8").strip()
        if (raw := self.objects.get(secret, {}).get(key)) is not None:
            return raw.decode("utf-8").strip()
        return None

    def scrub(self, text: str) -> str:
        """The text with every credential handed out replaced by ``[redacted]``."""
        for value in self.handed_out:
            if value in text:
                text = text.replace(value, "[redacted]")
        return text

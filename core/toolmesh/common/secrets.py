"""Where upstream credentials come from, and keeping them out of everything but the request.

A ``secretRef`` names a Secret; its keys (``apiKey``, ``token``, ``username``, ``password``,
``clientId``, ``clientSecret``) are looked up in this order:

1. the environment: ``TOOLMESH_SECRET_<SECRET>_<KEY>`` (upper case, other characters as ``_``),
   e.g. ``TOOLMESH_SECRET_TASKS_CREDENTIALS_APIKEY``;
2. a mounted Secret: ``<credentials_dir>/<secret>/<key>`` (how the operator mounts it in a pod);
3. a Secret object in the catalog folder (local development only).

Scrubbing replaces every value handed out in each form a request could carry it and an upstream
could echo it: as it is, percent-encoded (query and cookie values), JSON-escaped (an echoed header
inside a JSON body) and base64 (Basic credentials: the request builder reveals ``user:pass``).
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus

#: Shorter values are not scrubbed: they would redact ordinary text.
MIN_SCRUBBED = 4
REDACTED = "[redacted]"


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
        if len(value) >= MIN_SCRUBBED:
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
        """The text with every credential handed out, in every form (:func:`forms`), replaced by ``[redacted]``."""
        return scrub(text, self.handed_out)


@dataclass
class CallScrubber:
    """Scrubs one call's results: the store's values and those revealed for this call only (a
    caller's own credentials, what the request builder derived from them), which are kept nowhere else."""

    store: SecretStore
    revealed: set[str] = field(default_factory=set)

    def reveal(self, *values: str) -> None:
        self.revealed.update(values)

    def __call__(self, text: str) -> str:
        return scrub(text, self.revealed | self.store.handed_out)


@functools.lru_cache(maxsize=4096)
def forms(value: str) -> tuple[str, ...]:
    """``value`` as a request may carry it and an echo may show it, longest first."""
    encoded = {
        value,
        quote(value, safe=""),  # query and cookie values (toolmesh.category.auth)
        quote(value),
        quote_plus(value, safe=""),
        base64.b64encode(value.encode()).decode(),
        base64.urlsafe_b64encode(value.encode()).decode(),
    }
    encoded |= {e.rstrip("=") for e in encoded if e.endswith("=")}
    encoded |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), e) for e in encoded}
    escaped = set()
    for form in encoded:
        for ascii_only in (True, False):
            inner = json.dumps(form, ensure_ascii=ascii_only)[1:-1]
            escaped |= {inner, inner.replace("/", "\\/")}
    found = {f for f in encoded | escaped if len(f) >= MIN_SCRUBBED}
    return tuple(sorted(found, key=lambda f: (-len(f), f)))


def scrub(text: str, values: Iterable[str]) -> str:
    """``text`` with every form of each of ``values`` replaced by ``[redacted]``, longest first."""
    all_forms = sorted({f for v in values if len(v) >= MIN_SCRUBBED for f in forms(v)}, key=len, reverse=True)
    for form in all_forms:
        if form in text:
            text = text.replace(form, REDACTED)
    return text

"""Vault (or OpenBao) for the gateway and the category servers: log in, keep the token alive, and
read, write and delete KV version 2 secrets.

hvac does the protocol; it is synchronous, so every request runs on one worker thread of this
client's own (one thread: hvac's session is not shared across threads, and with the reads cached
(:class:`CachedReader`) Vault sees few requests). The token is renewed when two thirds of its TTL
have passed and the client logs in again when renewal is refused or a request is denied with a
token that Vault no longer knows (a denial by policy does not log in again: that would only mint
tokens). Errors are :class:`VaultError` with fixed sentences that name the
path or the setting, never a secret value or Vault's raw response.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import hvac
import hvac.exceptions
import requests
import structlog
from opentelemetry.trace import SpanKind

from toolmesh.common import tracing
from toolmesh.vault.settings import VaultSettings

log = structlog.get_logger("toolmesh.vault")
T = TypeVar("T")
#: Renew the token once this fraction of its TTL has passed.
RENEW_AT = 2 / 3


class VaultError(Exception):
    """Vault could not serve a request; the text is safe to show (no secret, no token)."""


class VaultUnavailable(VaultError):
    """Vault cannot be reached, is sealed, or the login failed."""


class VaultDenied(VaultError):
    """Vault's policy refuses this path to the component's role."""


class VaultConflict(VaultError):
    """A check-and-set write lost to another writer."""


@dataclass
class Versioned:
    data: dict[str, str]
    version: int


@dataclass
class Vault:
    settings: VaultSettings
    clock: Callable[[], float] = time.monotonic
    _client: hvac.Client | None = None
    _renew_at: float = float("inf")
    _renewable: bool = False
    _worker: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="vault")
    )
    logins: int = 0

    @property
    def address(self) -> str:
        return self.settings.addr or "(TOOLMESH_VAULT_ADDR unset)"

    # -- the public, async surface ---------------------------------------------------------------

    async def read(self, path: str) -> dict[str, str] | None:
        """The secret's current data, or None when there is none at ``path``."""
        found = await self.read_versioned(path)
        return None if found is None else found.data

    async def read_versioned(self, path: str) -> Versioned | None:
        def read(client: hvac.Client) -> Versioned | None:
            try:
                response = client.secrets.kv.v2.read_secret_version(
                    path=path, mount_point=self.settings.kv_mount, raise_on_deleted_version=False
                )
            except hvac.exceptions.InvalidPath:
                return None
            body = response.get("data") or {}
            data = body.get("data")
            if data is None:  # a deleted version
                return None
            return Versioned({str(k): str(v) for k, v in data.items()}, int(body["metadata"]["version"]))

        return await self._run(read, path)

    async def write(self, path: str, data: dict[str, str], *, cas: int | None = None) -> int:
        """Write a new version (``cas``: only if the current version is this one; 0: only if new)."""

        def write(client: hvac.Client) -> int:
            try:
                response = client.secrets.kv.v2.create_or_update_secret(
                    path=path, secret=data, cas=cas, mount_point=self.settings.kv_mount
                )
            except hvac.exceptions.InvalidRequest as exc:
                if "check-and-set" in str(exc):
                    raise VaultConflict(f"{path} was changed by another writer") from None
                raise VaultError(f"Vault refused the write to {path}") from None
            return int(response["data"]["version"])

        return await self._run(write, path)

    async def delete(self, path: str) -> None:
        """Delete every version of the secret and its metadata (nothing there: no error)."""

        def delete(client: hvac.Client) -> None:
            client.secrets.kv.v2.delete_metadata_and_all_versions(
                path=path, mount_point=self.settings.kv_mount
            )

        await self._run(delete, path)

    async def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)

    # -- the token's life, on the worker thread -----------------------------------------------------

    async def _run(self, operation: Callable[[hvac.Client], T], path: str) -> T:
        """``operation`` on the worker thread, in a span that names the operation and the KV mount
        (never the path: it names callers and integrations)."""
        loop = asyncio.get_running_loop()
        attributes = {
            "toolmesh.vault.operation": operation.__name__,
            "toolmesh.vault.mount": self.settings.kv_mount,
        }
        with tracing.span("toolmesh.vault", attributes, SpanKind.CLIENT):
            return await loop.run_in_executor(self._worker, self._with_token, operation, path)

    def _with_token(self, operation: Callable[[hvac.Client], T], path: str) -> T:
        try:
            client = self._ensure_token()
            try:
                return operation(client)
            except hvac.exceptions.Forbidden:
                if self.settings.auth_method == "token" or self._token_valid(client):
                    raise  # the policy says no: logging in again would only mint another token
                client = self._login()  # the token expired early (revoked, max TTL): once more
                return operation(client)
        except hvac.exceptions.Forbidden:
            raise VaultDenied(
                f"Vault denies {self.settings.kv_mount}/{path} to this component; check the policy of its "
                f"{self.settings.auth_method} login"
            ) from None
        except (requests.exceptions.RequestException, hvac.exceptions.VaultDown) as exc:
            raise VaultUnavailable(f"Vault at {self.address} is unavailable ({type(exc).__name__})") from None
        except hvac.exceptions.VaultError as exc:
            raise VaultError(f"Vault could not serve {path} ({type(exc).__name__})") from None

    @staticmethod
    def _token_valid(client: hvac.Client) -> bool:
        try:
            client.auth.token.lookup_self()
        except hvac.exceptions.Forbidden:
            return False
        return True

    def _ensure_token(self) -> hvac.Client:
        if self._client is None:
            return self._login()
        if self.clock() >= self._renew_at:
            if self._renewable:
                try:
                    response = self._client.auth.token.renew_self()
                    self._set_lifetime(response["auth"]["lease_duration"], response["auth"]["renewable"])
                    log.info("vault.token_renewed", ttl=response["auth"]["lease_duration"])
                    return self._client
                except hvac.exceptions.VaultError:
                    pass  # past its max TTL, or revoked: log in again
            return self._login()
        return self._client

    def _login(self) -> hvac.Client:
        settings = self.settings
        if not settings.addr:
            raise VaultUnavailable("TOOLMESH_VAULT_ADDR is not set: this component has no Vault")
        verify: bool | str = str(settings.ca_cert) if settings.ca_cert else True
        client = hvac.Client(url=settings.addr, timeout=settings.timeout_seconds, verify=verify)
        method = settings.auth_method
        try:
            if method == "token":
                client.token = _secret(settings.token, settings.token_file, "TOOLMESH_VAULT_TOKEN")
                info = client.auth.token.lookup_self()["data"]
                self._set_lifetime(info.get("ttl", 0), bool(info.get("renewable")))
            else:
                if method == "approle":
                    if not settings.role_id:
                        raise VaultUnavailable("TOOLMESH_VAULT_ROLE_ID is required with auth method approle")
                    secret_id = _secret(
                        settings.secret_id, settings.secret_id_file, "TOOLMESH_VAULT_SECRET_ID"
                    )
                    response = client.auth.approle.login(
                        role_id=settings.role_id,
                        secret_id=secret_id,
                        mount_point=settings.auth_mount or "approle",
                    )
                else:
                    if not settings.role:
                        raise VaultUnavailable("TOOLMESH_VAULT_ROLE is required with auth method kubernetes")
                    try:
                        jwt = settings.service_account_token_file.read_text().strip()
                    except OSError:
                        raise VaultUnavailable(
                            f"no ServiceAccount token at {settings.service_account_token_file}"
                        ) from None
                    response = client.auth.kubernetes.login(
                        role=settings.role, jwt=jwt, mount_point=settings.auth_mount or "kubernetes"
                    )
                self._set_lifetime(response["auth"]["lease_duration"], response["auth"]["renewable"])
        except (hvac.exceptions.Forbidden, hvac.exceptions.InvalidRequest, hvac.exceptions.Unauthorized):
            raise VaultUnavailable(
                f"Vault at {self.address} refused the {method} login; check the role and its credentials"
            ) from None
        self._client = client
        self.logins += 1
        log.info("vault.logged_in", method=method, addr=settings.addr)
        return client

    def _set_lifetime(self, ttl: Any, renewable: bool) -> None:
        seconds = float(ttl or 0)
        self._renewable = renewable
        self._renew_at = self.clock() + seconds * RENEW_AT if seconds > 0 else float("inf")


def _secret(value: Any, file: Any, variable: str) -> str:
    if value is not None:
        return str(value.get_secret_value())
    if file is not None:
        try:
            return str(file.read_text()).strip()
        except OSError:
            raise VaultUnavailable(f"cannot read {variable}_FILE ({file})") from None
    raise VaultUnavailable(f"{variable} (or {variable}_FILE) is required")


@dataclass
class CachedReader:
    """Reads through a cache of ``ttl`` seconds, one Vault request per path at a time.

    Concurrent reads of a path that is not cached share one request. A failed read, and a path with
    nothing there, are not cached (a credential stored a moment ago is found at once).
    """

    vault: Vault
    ttl: float
    clock: Callable[[], float] = time.monotonic
    _cache: dict[str, tuple[float, dict[str, str]]] = field(default_factory=dict)
    _pending: dict[str, asyncio.Future[dict[str, str] | None]] = field(default_factory=dict)

    async def read(self, path: str) -> dict[str, str] | None:
        cached = self._cache.get(path)
        if cached is not None and cached[0] > self.clock():
            return cached[1]
        pending = self._pending.get(path)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[dict[str, str] | None] = asyncio.get_running_loop().create_future()
        self._pending[path] = future
        try:
            data = await self.vault.read(path)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must
            raise
        finally:
            self._pending.pop(path, None)
        if self.ttl > 0 and data is not None:
            self._cache[path] = (self.clock() + self.ttl, data)
        future.set_result(data)
        return data

    def forget(self, path: str) -> None:
        self._cache.pop(path, None)

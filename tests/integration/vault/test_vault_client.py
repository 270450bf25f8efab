"""toolmesh.vault against a real OpenBao server: KV v2 with check-and-set, AppRole login with a
scoped policy, token renewal and a fresh login once the token's max TTL is over, Vault down."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests import leaks
from toolmesh.testing.vault import DevVault
from toolmesh.vault import CachedReader, Vault, VaultConflict, VaultDenied, VaultSettings, VaultUnavailable

pytestmark = pytest.mark.vault
leaks.secret("visible-value", "hidden-value", "wrong-secret")


def root(dev_vault: DevVault) -> Vault:
    from toolmesh.testing.vault import ROOT_TOKEN

    return Vault(VaultSettings(addr=dev_vault.addr, auth_method="token", token=ROOT_TOKEN))


def approle(dev_vault: DevVault, *, policy: str, ttl: str = "1h", max_ttl: str = "2h") -> VaultSettings:
    """An AppRole whose tokens carry only ``policy``; returns the settings a component would use."""
    admin = dev_vault.admin()
    if "approle/" not in admin.sys.list_auth_methods():
        admin.sys.enable_auth_method("approle")
    name = f"role-{uuid.uuid4().hex[:8]}"
    admin.auth.approle.create_or_update_approle(
        name, token_policies=[policy], token_ttl=ttl, token_max_ttl=max_ttl
    )
    role_id = admin.auth.approle.read_role_id(name)["data"]["role_id"]
    secret_id = admin.auth.approle.generate_secret_id(name)["data"]["secret_id"]
    return VaultSettings(addr=dev_vault.addr, auth_method="approle", role_id=role_id, secret_id=secret_id)


async def test_kv_round_trip_with_check_and_set(dev_vault: DevVault) -> None:
    vault = root(dev_vault)
    path = f"tests/{uuid.uuid4().hex}"
    assert await vault.read(path) is None
    assert await vault.write(path, {"apiKey": "k1"}, cas=0) == 1
    with pytest.raises(VaultConflict, match="changed by another writer"):
        await vault.write(path, {"apiKey": "k2"}, cas=0)
    found = await vault.read_versioned(path)
    assert found is not None
    assert (found.data, found.version) == ({"apiKey": "k1"}, 1)
    assert await vault.write(path, {"apiKey": "k2"}, cas=1) == 2
    assert await vault.read(path) == {"apiKey": "k2"}
    await vault.delete(path)
    assert await vault.read(path) is None
    await vault.close()


async def test_an_approle_sees_only_what_its_policy_grants(dev_vault: DevVault) -> None:
    prefix = uuid.uuid4().hex[:8]
    dev_vault.admin().sys.create_or_update_policy(
        f"p-{prefix}", f'path "secret/data/{prefix}/allowed/*" {{ capabilities = ["read"] }}'
    )
    writer = root(dev_vault)
    await writer.write(f"{prefix}/allowed/x", {"token": "visible-value"})
    await writer.write(f"{prefix}/other/x", {"token": "hidden-value"})
    vault = Vault(approle(dev_vault, policy=f"p-{prefix}"))
    assert await vault.read(f"{prefix}/allowed/x") == {"token": "visible-value"}
    with pytest.raises(VaultDenied) as denied:
        await vault.read(f"{prefix}/other/x")
    assert f"secret/{prefix}/other/x" in str(denied.value)
    assert "hidden-value" not in str(denied.value)
    with pytest.raises(VaultDenied):
        await vault.read(f"{prefix}/other/x")
    assert vault.logins == 1  # a denial is not an expired token: no new login, no new token
    await vault.close()


async def test_the_token_is_renewed_then_replaced_by_a_new_login(dev_vault: DevVault) -> None:
    prefix = uuid.uuid4().hex[:8]
    dev_vault.admin().sys.create_or_update_policy(
        f"p-{prefix}", f'path "secret/data/{prefix}/*" {{ capabilities = ["read"] }}'
    )
    await root(dev_vault).write(f"{prefix}/x", {"apiKey": "v"})
    now = [0.0]
    vault = Vault(approle(dev_vault, policy=f"p-{prefix}", ttl="3s", max_ttl="3s"), clock=lambda: now[0])
    assert await vault.read(f"{prefix}/x") == {"apiKey": "v"}
    assert vault.logins == 1
    now[0] += 100  # past two thirds of the TTL: renewal (capped by the max TTL), same login
    assert await vault.read(f"{prefix}/x") == {"apiKey": "v"}
    assert vault.logins == 1
    await asyncio.sleep(3.5)  # the max TTL is over: Vault refuses the token, the client logs in again
    assert await vault.read(f"{prefix}/x") == {"apiKey": "v"}
    assert vault.logins == 2
    await vault.close()


async def test_vault_down_is_a_clear_error_that_names_the_address() -> None:
    from toolmesh.testing.cluster import free_port

    addr = f"http://127.0.0.1:{free_port()}"
    vault = Vault(VaultSettings(addr=addr, auth_method="token", token="s.not-shown", timeout_seconds=1))
    with pytest.raises(VaultUnavailable) as down:
        await vault.read("anything")
    assert addr in str(down.value)
    assert "not-shown" not in str(down.value)
    await vault.close()


async def test_a_bad_login_says_which_method_failed(dev_vault: DevVault) -> None:
    settings = VaultSettings(
        addr=dev_vault.addr, auth_method="approle", role_id="nope", secret_id="wrong-secret"
    )
    vault = Vault(settings)
    with pytest.raises(VaultUnavailable, match="refused the approle login") as refused:
        await vault.read("x")
    assert "wrong-secret" not in str(refused.value)
    await vault.close()


async def test_concurrent_reads_of_one_path_share_one_request(dev_vault: DevVault) -> None:
    vault = root(dev_vault)
    path = f"tests/{uuid.uuid4().hex}"
    await vault.write(path, {"apiKey": "shared"})
    reads = 0
    original = vault.read

    async def counting(p: str) -> dict[str, str] | None:
        nonlocal reads
        reads += 1
        return await original(p)

    vault.read = counting  # type: ignore[method-assign]
    cache = CachedReader(vault, ttl=60)
    results = await asyncio.gather(*(cache.read(path) for _ in range(50)))
    assert results == [{"apiKey": "shared"}] * 50
    assert reads == 1
    assert await cache.read(path) == {"apiKey": "shared"}
    assert reads == 1
    cache.forget(path)
    await cache.read(path)
    assert reads == 2
    await vault.close()

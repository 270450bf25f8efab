"""OAuth sign-ins across gateway replicas: flows in progress kept in a real Redis, so a link made
by one replica is finished by another; states expire and are used once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import aiohttp
import pytest

from tests.e2e.stub_oauth import StubAuthorizationServer, query_of
from toolmesh.api.auth import Auth
from toolmesh.gateway.identity.oauth import OAuthBroker
from toolmesh.gateway.identity.states import RedisStates
from toolmesh.testing.redis import LocalRedis
from toolmesh.testing.vault import ROOT_TOKEN, DevVault
from toolmesh.vault import Vault, VaultSettings

pytestmark = [pytest.mark.e2e, pytest.mark.vault, pytest.mark.redis]


@pytest.fixture(scope="module")
def redis_server() -> Iterator[LocalRedis]:
    with LocalRedis() as server:
        yield server


async def test_states_in_redis_expire_and_are_taken_once(redis_server: LocalRedis) -> None:
    states, other = RedisStates(redis_server.url), RedisStates(redis_server.url)
    key = uuid.uuid4().hex
    await states.put(key, "v", ttl=30)
    assert await other.get(key) == "v"  # another replica sees it
    assert await other.take(key) == "v"
    assert await states.take(key) is None  # used once
    await states.put(key + "x", "v", ttl=0.2)
    await asyncio.sleep(0.4)
    assert await other.get(key + "x") is None  # Redis expired it
    await states.close()
    await other.close()


async def test_a_link_made_by_one_replica_is_finished_by_another(
    redis_server: LocalRedis, dev_vault: DevVault
) -> None:
    oauth = StubAuthorizationServer(login_as="carol")
    await oauth.start()
    auth = Auth.model_validate({
        "type": "oauth2AuthorizationCode", "vaultPath": "unused",
        "oauth2": {"authorizationUrl": f"{oauth.url}/authorize", "tokenUrl": f"{oauth.url}/token"},
    })  # fmt: skip
    prefix = f"r{uuid.uuid4().hex[:8]}/users"

    async def client(integration: str, auth: Auth) -> tuple[str, str | None]:
        return oauth.client_id, oauth.client_secret

    def replica(http: aiohttp.ClientSession) -> OAuthBroker:
        vault = Vault(VaultSettings(addr=dev_vault.addr, auth_method="token", token=ROOT_TOKEN))
        broker = OAuthBroker(
            vault, RedisStates(redis_server.url), "https://gw.example.test", prefix, client, {"crm": auth}
        )
        broker.http = http
        return broker

    async with aiohttp.ClientSession() as http:
        first, second = replica(http), replica(http)
        try:
            await finish_elsewhere(first, second, http, auth)
        finally:
            for broker in (first, second):
                await broker.states.close()
                await broker.vault.close()
            await oauth.close()


async def finish_elsewhere(
    first: OAuthBroker, second: OAuthBroker, http: aiohttp.ClientSession, auth: Auth
) -> None:
    link = await first.connect_link("carol", "crm")
    state = query_of(link)["state"]
    authorize = await second.authorization_redirect(state)  # the browser lands on the other replica
    assert query_of(authorize)["redirect_uri"] == "https://gw.example.test/oauth/callback"
    async with http.get(authorize, allow_redirects=False) as consent:
        back = query_of(consent.headers["Location"])
    assert await first.complete(back["state"], back["code"]) == ("carol", "crm")
    assert await second.access_token("carol", "crm", auth) == "carol-access-1-x7q"

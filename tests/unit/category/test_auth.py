"""Putting an integration's credentials into a request: where each scheme goes, where its values
come from, and what is said when one is missing."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from toolmesh.api.auth import Auth
from toolmesh.category import auth
from toolmesh.category.auth import AuthUnavailable
from toolmesh.category.upstream import UpstreamPool
from toolmesh.common.secrets import SecretStore
from toolmesh.openapi.request import HttpRequest

REQUEST = HttpRequest("GET", "https://api.example/v1/pets?limit=5", (("Accept", "application/json"),))
VALUES = {
    "apiKey": "key-1234",
    "token": "tok-5678",
    "accessToken": "acc-9012",
    "username": "ada",
    "password": "pw-3456",
}


def make(**fields: Any) -> Auth:
    return Auth.model_validate({"secretRef": {"name": "creds"}, **fields})


def store() -> SecretStore:
    return SecretStore(objects={"creds": {k: v.encode() for k, v in VALUES.items()}}, environ={})


async def authorized(auth_: Auth, request: HttpRequest = REQUEST) -> tuple[HttpRequest, list[str]]:
    revealed: list[str] = []
    pool = UpstreamPool(max_response_bytes=1024, connect_timeout=1, per_host=1, max_redirects=0)  # never used
    out = await auth.authorize(
        request, auth_, store=store(), tokens=auth.TokenCache(), pool=pool, timeout=1,
        reveal=lambda *values: revealed.extend(values),
    )  # fmt: skip
    await pool.close()
    return out, revealed


async def test_no_auth_leaves_the_request_as_it_is() -> None:
    assert (await authorized(Auth.model_validate({"type": "none"})))[0] is REQUEST


async def test_an_api_key_goes_in_its_header_and_replaces_one_already_there() -> None:
    request = HttpRequest("GET", REQUEST.url, (("x-api-key", "old"), ("Accept", "*/*")))
    out, revealed = await authorized(
        make(type="apiKey", apiKey={"in": "header", "name": "X-API-Key"}), request
    )
    assert out.headers == (("Accept", "*/*"), ("X-API-Key", "key-1234"))
    assert revealed == ["key-1234"]


async def test_an_api_key_in_the_query_is_encoded_and_kept_for_redirects() -> None:
    out, _ = await authorized(make(type="apiKey", apiKey={"in": "query", "name": "api key"}))
    assert out.url == "https://api.example/v1/pets?limit=5&api%20key=key-1234"
    assert out.redirect_query == (("api%20key", "key-1234"),)
    bare = auth.with_query(HttpRequest("GET", "https://api.example/v1", ()), "k", "a/b")
    assert bare.url == "https://api.example/v1?k=a%2Fb"


async def test_an_api_key_in_a_cookie_joins_the_cookies_already_set() -> None:
    request = HttpRequest("GET", REQUEST.url, (("Cookie", "theme=dark"),))
    out, _ = await authorized(make(type="apiKey", apiKey={"in": "cookie", "name": "sid"}), request)
    assert out.header("cookie") == "theme=dark; sid=key-1234"


async def test_bearer_basic_and_authorization_code_use_the_authorization_header() -> None:
    bearer, _ = await authorized(make(type="bearer"))
    assert bearer.header("Authorization") == "Bearer tok-5678"
    basic, revealed = await authorized(make(type="basic"))
    encoded = base64.b64encode(b"ada:pw-3456").decode()
    assert basic.header("Authorization") == f"Basic {encoded}"
    assert revealed == [f"Basic {encoded}", "ada:pw-3456", encoded]  # every form the upstream may echo
    code = make(type="oauth2AuthorizationCode", oauth2={"tokenUrl": "https://id.example/token",
                                                        "authorizationUrl": "https://id.example/authorize"})  # fmt: skip
    assert auth.static_credential(code, auth.mapping_lookup(VALUES, "test")) == auth.Credential(
        "header", "Authorization", "Bearer acc-9012"
    )


def test_client_credentials_have_no_static_credential() -> None:
    cc = make(type="oauth2ClientCredentials", oauth2={"tokenUrl": "https://id.example/token"})
    assert auth.static_credential(cc, auth.mapping_lookup(VALUES, "test")) is None


def test_a_missing_secret_key_names_the_variable_that_would_set_it() -> None:
    get = auth.secret_lookup(make(type="bearer"), SecretStore(environ={}))
    with pytest.raises(
        AuthUnavailable,
        match=r"credential 'token' of Secret 'creds' is not configured \(set TOOLMESH_SECRET_CREDS_TOKEN",
    ):
        get("token")


def test_a_missing_value_of_the_callers_credentials_names_the_key() -> None:
    with pytest.raises(AuthUnavailable, match=r"^the caller's credentials has no 'apiKey'$"):
        auth.mapping_lookup({"apiKey": ""}, "the caller's credentials")("apiKey")


async def test_per_user_auth_needs_the_callers_credentials() -> None:
    per_user = Auth.model_validate({"type": "bearer", "perUser": True})
    with pytest.raises(AuthUnavailable, match="call it through the gateway as a signed-in user"):
        await auth.lookup(per_user, store(), None, None)
    get = await auth.lookup(per_user, store(), None, {"token": "alice-tok"})
    assert get("token") == "alice-tok"


async def test_a_vault_path_without_vault_says_which_variable_to_set() -> None:
    in_vault = Auth.model_validate({"type": "bearer", "vaultPath": "team/tasks"})
    with pytest.raises(AuthUnavailable, match=r"spec\.auth\.vaultPath needs Vault: set TOOLMESH_VAULT_ADDR"):
        await auth.lookup(in_vault, store(), None, None)

"""An integration's credentials for its upstream (``spec.auth`` of an ``MCPIntegration``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from toolmesh.api.base import URL_PATTERN, ApiModel, LocalObjectReference, Rule, exactly_one


class AuthType(StrEnum):
    """How requests to the upstream are authenticated."""

    NONE = "none"
    API_KEY = "apiKey"
    BEARER = "bearer"
    BASIC = "basic"
    OAUTH2_CLIENT_CREDENTIALS = "oauth2ClientCredentials"
    OAUTH2_AUTHORIZATION_CODE = "oauth2AuthorizationCode"


class ApiKeyAuth(ApiModel):
    """Where an API key goes in the request."""

    location: Annotated[
        Literal["header", "query", "cookie"],
        Field(alias="in", description="Request part that carries the key: header, query or cookie."),
    ] = "header"
    name: Annotated[
        str,
        Field(
            description="Name of the header, query parameter or cookie, e.g. X-API-Key.",
            min_length=1,
            max_length=256,
        ),
    ]


class OAuth2Settings(ApiModel):
    """Endpoints and scopes of the upstream's OAuth 2.0 authorization server."""

    token_url: Annotated[str, Field(description="Token endpoint.", pattern=URL_PATTERN, max_length=2048)]
    authorization_url: Annotated[
        str | None,
        Field(
            description="Authorization endpoint (authorization-code flow only).",
            pattern=URL_PATTERN,
            max_length=2048,
        ),
    ] = None
    revocation_url: Annotated[
        str | None,
        Field(
            description="Token revocation endpoint (RFC 7009), used on disconnect.",
            pattern=URL_PATTERN,
            max_length=2048,
        ),
    ] = None
    scopes: Annotated[
        list[Annotated[str, Field(max_length=256)]], Field(description="Scopes requested.", max_length=64)
    ] = Field(default_factory=list)


class Auth(ApiModel):
    """Credentials for the upstream. They are injected into upstream requests and never shown to agents."""

    rules = (
        Rule(
            cel="self.type != 'apiKey' || has(self.apiKey)",
            message="spec.auth.apiKey (in and name) is required when spec.auth.type is apiKey",
            check=lambda a: a.type != AuthType.API_KEY or a.api_key is not None,
        ),
        Rule(
            cel="!self.type.startsWith('oauth2') || has(self.oauth2)",
            message="spec.auth.oauth2 (tokenUrl, scopes) is required when spec.auth.type is an OAuth2 type",
            check=lambda a: not a.type.startswith("oauth2") or a.oauth2 is not None,
        ),
        Rule(
            cel="self.type != 'oauth2AuthorizationCode' || (has(self.oauth2) && has(self.oauth2.authorizationUrl))",
            message="spec.auth.oauth2.authorizationUrl is required when spec.auth.type is oauth2AuthorizationCode",
            check=lambda a: (
                a.type != AuthType.OAUTH2_AUTHORIZATION_CODE
                or (a.oauth2 is not None and a.oauth2.authorization_url is not None)
            ),
        ),
        Rule(
            cel="self.type != 'oauth2AuthorizationCode' || !has(self.perUser) || !self.perUser",
            message="spec.auth.perUser does not apply to oauth2AuthorizationCode (its tokens are always per user): put the OAuth client's clientId and clientSecret in spec.auth.secretRef or spec.auth.vaultPath",
            check=lambda a: a.type != AuthType.OAUTH2_AUTHORIZATION_CODE or not a.per_user,
        ),
        Rule(
            cel="self.type == 'none' || [has(self.secretRef), has(self.vaultPath), has(self.perUser) && self.perUser].filter(x, x).size() == 1",
            message="exactly one of spec.auth.secretRef, spec.auth.vaultPath or spec.auth.perUser: true must be set when spec.auth.type is not none",
            check=lambda a: (
                a.type == AuthType.NONE
                or exactly_one(a.secret_ref is not None, a.vault_path is not None, a.per_user)
            ),
        ),
    )

    type: Annotated[
        AuthType,
        Field(
            description="Scheme: none, apiKey, bearer, basic, oauth2ClientCredentials or oauth2AuthorizationCode."
        ),
    ]
    api_key: Annotated[ApiKeyAuth | None, Field(description="Placement of the key, for type apiKey.")] = None
    oauth2: Annotated[
        OAuth2Settings | None, Field(description="Authorization server, for the OAuth2 types.")
    ] = None
    secret_ref: Annotated[
        LocalObjectReference | None,
        Field(
            description="Secret with shared credentials under the keys apiKey, token, username and password, or clientId and clientSecret (for oauth2AuthorizationCode: the OAuth client the gateway signs users in with)."
        ),
    ] = None
    vault_path: Annotated[
        str | None,
        Field(
            description="Vault KV v2 path of shared credentials (same keys as secretRef).",
            pattern=r"^[A-Za-z0-9_.\-/]+$",
            max_length=512,
        ),
    ] = None
    per_user: Annotated[
        bool,
        Field(
            description="Each user brings their own credentials (apiKey, token, or username and password), kept in Vault by the gateway at <TOOLMESH_VAULT_USER_PREFIX>/<user>/<integration>."
        ),
    ] = False

    @property
    def per_caller(self) -> bool:
        """Does each caller bring their own credentials (perUser, or the authorization-code flow's tokens)?"""
        return self.per_user or self.type == AuthType.OAUTH2_AUTHORIZATION_CODE

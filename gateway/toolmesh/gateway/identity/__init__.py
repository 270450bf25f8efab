"""Upstream identity at the gateway: each caller's own upstream credentials, kept in Vault, and the
OAuth 2.0 authorization-code flow (PKCE) brokered on the caller's behalf (docs/design/security.md)."""

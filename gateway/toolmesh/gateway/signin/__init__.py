"""The gateway as the authorization server MCP clients see, for identity providers that do not
register clients: it registers them itself, sends each user to the provider to sign in, and issues
its own tokens for its resource (docs/design/0020-oauth-interop.md, TOOLMESH_AUTH_DELEGATE_*)."""

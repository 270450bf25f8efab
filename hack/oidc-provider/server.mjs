// The real authorization server of toolmesh's `oidc` tests: npm's oidc-provider (a certified OpenID
// provider) on a loopback port, configured the way an MCP deployment needs it. Clients register
// themselves (RFC 7591, open registration, unless turned off), use authorization code + PKCE
// (S256), and ask for a resource (RFC 8707); access tokens for a known resource are JWTs whose
// `aud` is that resource.
// A user signs in at the development interaction pages (any login, then consent), which a test can
// complete with plain HTTP. A confidential client may also use client credentials, so a test can
// get a real token for another resource.
//
//   node server.mjs '<json>'   where json = {
//     "modules": "<folder whose node_modules holds oidc-provider (hack/oidc-provider.sh prints it)>",
//     "port": 0,                          // 0: any free port
//     "resources": ["http://127.0.0.1:8080/mcp", ...],   // resources it issues tokens for
//     "scope": "tools:read",              // the scope a token for any of them carries
//     "groups": {"alice": ["finance"]},   // a `groups` claim in these users' access and ID tokens
//     "registration": true,               // false: no dynamic registration (clients configured only)
//     "clients": [{client_id, client_secret, grant_types: ["client_credentials"], ...}],
//     "clientIdMetadataDocuments": false  // accept HTTPS URLs as client ids (draft-02, experimental),
//   }                                     // fetched from loopback too (NODE_EXTRA_CA_CERTS to trust it)
//
// Prints one line `listening <issuer>` on stdout once it serves; logs go to stderr.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const config = JSON.parse(process.argv[2] ?? '{}');
const entry = path.join(config.modules, 'node_modules', 'oidc-provider', 'lib', 'index.js');
const { default: Provider, errors } = await import(pathToFileURL(entry).href);

const signing = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const resources = new Set(config.resources ?? []);
const scope = config.scope ?? 'tools:read';
const groups = config.groups ?? {};

const server = createServer();
await new Promise((resolve) => server.listen(config.port ?? 0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const features = {
  devInteractions: { enabled: true },
  registration: { enabled: config.registration !== false },
  clientCredentials: { enabled: true },
  revocation: { enabled: true },
  resourceIndicators: {
    enabled: true,
    defaultResource: (ctx, client, oneOf) => oneOf,
    useGrantedResource: () => true,
    getResourceServerInfo: (ctx, resource) => {
      if (!resources.has(resource)) throw new errors.InvalidTarget(`unknown resource ${resource}`);
      return {
        scope,
        audience: resource,
        accessTokenTTL: 300,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      };
    },
  },
};
if (config.clientIdMetadataDocuments) {
  features.clientIdMetadataDocument = { enabled: true, ack: 'draft-02' };
}
// oidc-provider refuses to fetch documents from loopback and private addresses (SSRF protection);
// a test serves its client's metadata document on loopback, so this test provider lets it.
const fetchLoopback = (url, options) => globalThis.fetch(url, { ...options, dispatcher: undefined });

const provider = new Provider(issuer, {
  jwks: { keys: [{ ...signing, kid: 'test-1', use: 'sig', alg: 'RS256' }] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  clients: config.clients ?? [],
  scopes: ['openid', 'offline_access', scope],
  features,
  pkce: { required: () => true },
  ...(config.clientIdMetadataDocuments ? { fetch: fetchLoopback } : {}),
  findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub, groups: groups[sub] ?? [] }) }),
  claims: { openid: ['sub', 'groups'] },
  conformIdTokenClaims: false, // the ID token carries groups too (a client signing users in reads it)
  extraTokenClaims: (ctx, token) => {
    const member = groups[token.accountId];
    return member ? { groups: member } : undefined;
  },
});
provider.on('server_error', (ctx, error) => console.error('server_error', error));
server.on('request', provider.callback());

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
console.log(`listening ${issuer}`);

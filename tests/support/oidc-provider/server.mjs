// A real OpenID Connect provider on loopback for reactbin's tests: panva's certified oidc-provider with its
// development login form (any login, any password). The tests start it with `node server.mjs` and read the
// issuer from the first line it prints.
//
// Environment: PORT (required), CLIENT_ID, CLIENT_SECRET, REDIRECT_URI (reactbin's /auth/oidc/callback).
// Accounts: the login typed in the form is the subject; logins starting with "admin" are in the group
// "reactbin-admins" (the `groups` claim), others in none.
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.CLIENT_ID,
      client_secret: process.env.CLIENT_SECRET,
      redirect_uris: [process.env.REDIRECT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  // Every client must use PKCE here, so a client that does not is refused (reactbin sends S256).
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'email', 'groups'],
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  // The test signs in through the login form; consent is granted at once (a first-party client).
  loadExistingGrant: async (ctx) => {
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile email groups');
    grant.addOIDCClaims(['preferred_username', 'name', 'email', 'groups']);
    await grant.save();
    return grant;
  },
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({
      sub: id,
      preferred_username: id,
      name: id,
      email: `${id}@example.test`,
      email_verified: true,
      groups: id.startsWith('admin') ? ['reactbin-admins'] : [],
    }),
  }),
  cookies: { keys: ['reactbin-test-provider-cookie-key'] },
  features: { devInteractions: { enabled: true } },
});

// Plain http on loopback: tell the provider it is not behind a TLS-terminating proxy.
provider.proxy = false;

provider.listen(port, '127.0.0.1', () => {
  console.log(`issuer ${issuer}`);
});

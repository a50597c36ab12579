// A real OpenID Connect provider on loopback for reactbin's tests: panva's certified oidc-provider with a plain
// login form of our own (any login, any password; the provider's development form loads web fonts from the
// internet, and the tests send traffic to loopback only). The tests start it with `node server.mjs`.
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
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
});

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 65536) break;
  }
  return new URLSearchParams(body);
}

// The login step of every sign-in: a form, then the provider continues with the typed login as the account.
provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([^/]+)(\/login)?$/.exec(ctx.path);
  if (!match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (!match[2] && ctx.method === 'GET') {
    ctx.type = 'html';
    ctx.body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test ID: sign in</title></head>
<body><main><h1>Test ID</h1>
<form method="post" action="/interaction/${escape(details.uid)}/login">
<label>Login <input name="login" required autofocus></label>
<label>Password <input type="password" name="password" required></label>
<button type="submit">Sign-in</button>
</form></main></body></html>`;
    return undefined;
  }
  if (match[2] && ctx.method === 'POST') {
    const form = await readForm(ctx.req);
    const login = form.get('login');
    if (!login) {
      ctx.status = 400;
      ctx.body = 'login required';
      return undefined;
    }
    ctx.respond = false;
    await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
    return undefined;
  }
  return next();
});

// Plain http on loopback: tell the provider it is not behind a TLS-terminating proxy.
provider.proxy = false;

provider.listen(port, '127.0.0.1', () => {
  console.log(`issuer ${issuer}`);
});

// The service's main flows, driven through openapi-fetch with the types
// openapi-typescript generates from the OpenAPI document (docs/clients.md).
//
//   npx openapi-typescript openapi.json -o schema.d.ts
//   npx tsc --noEmit -p tsconfig.json && npx tsx flow.ts [base-url]
//
// Every call goes through the typed client: a wrong path, parameter or body
// field is a compile error. Each check prints one line; the first that fails
// stops the script with status 1. Usernames get a random suffix, so the flow
// runs against a service that already has users.
//
// Each user logs in, makes an API key with the login token, and does the
// rest (posts, cleanings, offers) with a client that sends only `X-API-Key`;
// the key's limits are checked too: it cannot list keys (login only), a
// `read` key cannot write, and a revoked key is 401 on its next call.
import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./schema";

type Schemas = components["schemas"];
type Problem = Schemas["ProblemDetails"];
type Tokens = Schemas["TokenResponse"];
type Scope = Schemas["Scope"];
type ApiKey = Schemas["ApiKeyCreated"];

const BASE = process.argv[2] ?? "http://127.0.0.1:8080";
const RUN = Math.random().toString(16).slice(2, 8);
const PASSWORD = "Secret123";
let checks = 0;

function ensure(what: string, condition: boolean, detail: unknown = ""): void {
  if (!condition) {
    console.error(`FAIL ${what}`, detail);
    process.exit(1);
  }
  checks += 1;
  console.log(`ok   ${what}`);
}

/** `value`, which must be there. */
function must<T>(what: string, value: T | null | undefined): T {
  ensure(what, value !== null && value !== undefined);
  return value as T;
}

/** The body of a successful answer with this status; else stop. */
function expect<T>(
  what: string,
  result: { data?: T; error?: unknown; response: Response },
  status: number,
): T {
  const { data, error, response } = result;
  ensure(`${what}: ${status}`, response.status === status && data !== undefined, {
    status: response.status,
    error,
  });
  return data as T;
}

/** A documented error: openapi-fetch hands back the typed problem body. */
function problem(
  what: string,
  result: { data?: unknown; error?: Problem; response: Response },
  status: number,
): Problem {
  const { error, response } = result;
  ensure(`${what}: ${status}`, response.status === status && error !== undefined, {
    status: response.status,
  });
  ensure(`${what}: the problem's status is ${status}`, error?.status === status, error);
  return error as Problem;
}

const anonymous = createClient<paths>({ baseUrl: BASE });

function asUser(tokens: Tokens): Client<paths> {
  return createClient<paths>({
    baseUrl: BASE,
    headers: { Authorization: `Bearer ${tokens.access_token}` },
  });
}

/** An API key made with a login token; its secret is in this answer only. */
async function makeKey(who: string, login: Client<paths>, scopes: Scope[]): Promise<ApiKey> {
  const names = scopes.join(",");
  const result = await login.POST("/api/v1/users/me/api-keys", {
    body: { name: `flow.ts ${names} ${RUN}`, scopes, expires_in_days: 1 },
  });
  const key = expect(`${who} makes a ${names} API key`, result, 201);
  const location = result.response.headers.get("Location");
  ensure(
    `${who}'s key: oak_, 47 characters, the asked scopes, its Location`,
    key.key.startsWith("oak_") &&
      key.key.length === 47 &&
      key.key.startsWith(key.prefix) &&
      JSON.stringify(key.scopes) === JSON.stringify(scopes) &&
      location === `/api/v1/users/me/api-keys/${key.id}`,
    { prefix: key.prefix, length: key.key.length, scopes: key.scopes, location },
  );
  return key;
}

/** A client whose only credential is the key, in `X-API-Key`. */
function byKey(key: ApiKey): Client<paths> {
  return createClient<paths>({ baseUrl: BASE, headers: { "X-API-Key": key.key } });
}

/** Registers `name` (made unique) and logs in with the OAuth2 form. */
async function signUp(name: string): Promise<[string, Tokens]> {
  const username = `${name}_${RUN}`;
  const user = expect(
    `register ${username}`,
    await anonymous.POST("/api/v1/auth/register", {
      body: { username, email: `${username}@example.com`, password: PASSWORD },
    }),
    201,
  );
  ensure(`${username} is a user`, user.role === "user", user.role);
  const form: Schemas["LoginForm"] = { grant_type: "password", username, password: PASSWORD };
  const tokens = expect(
    `log in as ${username} (form)`,
    await anonymous.POST("/api/v1/auth/login", {
      body: form,
      bodySerializer: (body) => new URLSearchParams(body as Record<string, string>),
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    }),
    200,
  );
  ensure("the token type is bearer", tokens.token_type === "bearer", tokens.token_type);
  return [username, tokens];
}

// Accounts and sessions.
const [aliceName, aliceTokens] = await signUp("alice");
let alice = asUser(aliceTokens);
expect(
  "log in with JSON too",
  await anonymous.POST("/api/v1/auth/login", {
    body: { username: aliceName, password: PASSWORD },
  }),
  200,
);
const meResult = await alice.GET("/api/v1/users/me");
const me = expect("users/me", meResult, 200);
ensure("users/me is alice", me.username === aliceName, me.username);
ensure("users/me has an ETag", (meResult.response.headers.get("ETag") ?? "").startsWith('"'));

const refreshed = expect(
  "refresh the tokens",
  await anonymous.POST("/api/v1/auth/refresh", {
    body: { refresh_token: aliceTokens.refresh_token },
  }),
  200,
);
ensure("a new refresh token", refreshed.refresh_token !== aliceTokens.refresh_token);
alice = asUser(refreshed);
const again = expect("users/me with the new access token", await alice.GET("/api/v1/users/me"), 200);
ensure("the new access token works", again.id === me.id);
problem(
  "the spent refresh token again",
  await anonymous.POST("/api/v1/auth/refresh", {
    body: { refresh_token: aliceTokens.refresh_token },
  }),
  401,
);

// API keys: alice makes one with her login token; from here on her client
// sends only the key. A key may not manage keys: listing them is 403.
const aliceLogin = alice;
const aliceKey = await makeKey("alice", aliceLogin, ["write"]);
alice = byKey(aliceKey);
const byTheKey = expect("users/me with the key", await alice.GET("/api/v1/users/me"), 200);
ensure("the key acts as alice", byTheKey.id === me.id, byTheKey.id);
problem("list API keys with the key alone (login only)", await alice.GET("/api/v1/users/me/api-keys"), 403);

// Posts, with the key: create, list page by page, update with If-Match, delete.
const created: string[] = [];
for (const n of [1, 2, 3]) {
  const post = expect(
    `create post ${n}`,
    await alice.POST("/api/v1/posts", {
      params: { header: { "Idempotency-Key": `${RUN}-post-${n}` } },
      body: { title: `Post ${n} of ${aliceName}`, body: "Written through the SDK.", published: true },
    }),
    201,
  );
  ensure(`post ${n} is alice's`, post.author_username === aliceName);
  created.push(post.id);
}

const first = expect(
  "list posts, limit 2",
  await anonymous.GET("/api/v1/posts", { params: { query: { author: aliceName, limit: 2 } } }),
  200,
);
ensure("first page: 2 posts and more", first.data.length === 2 && first.has_more, first);
const cursor = must("first page: a next_cursor", first.next_cursor);
const last = expect(
  "follow next_cursor",
  await anonymous.GET("/api/v1/posts", { params: { query: { author: aliceName, limit: 2, cursor } } }),
  200,
);
ensure("last page: 1 post, no cursor", last.data.length === 1 && !last.has_more && last.next_cursor === null, last);
const seen = [...first.data, ...last.data].map((p) => p.id);
ensure(
  "the pages hold every post once, newest first",
  JSON.stringify(seen) === JSON.stringify([...created].reverse()),
  seen,
);

const postId = must("the first post's id", created[0]);
const read = await alice.GET("/api/v1/posts/{id}", { params: { path: { id: postId } } });
expect("get a post", read, 200);
const etag = read.response.headers.get("ETag") ?? "";
const patched = await alice.PATCH("/api/v1/posts/{id}", {
  params: { path: { id: postId }, header: { "If-Match": etag } },
  body: { title: "Hello again" },
});
ensure("PATCH with the current ETag", expect("PATCH", patched, 200).title === "Hello again");
const newTag = patched.response.headers.get("ETag") ?? "";
ensure("the ETag changed", newTag !== "" && newTag !== etag, newTag);
problem(
  "PATCH with the stale ETag",
  await alice.PATCH("/api/v1/posts/{id}", {
    params: { path: { id: postId }, header: { "If-Match": etag } },
    body: { title: "Too late" },
  }),
  412,
);
const deleted = await alice.DELETE("/api/v1/posts/{id}", {
  params: { path: { id: postId }, header: { "If-Match": newTag } },
});
ensure("DELETE is 204", deleted.response.status === 204, deleted.response.status);
problem(
  "the deleted post",
  await alice.GET("/api/v1/posts/{id}", { params: { path: { id: postId } } }),
  404,
);

// A key's limits: a read key reads but may not write, not even alice's own
// post; a revoked key is 401 on its very next call.
const reader = byKey(await makeKey("alice", aliceLogin, ["read"]));
const kept = { path: { id: must("the second post's id", created[1]) } };
expect("get a post with the read key", await reader.GET("/api/v1/posts/{id}", { params: kept }), 200);
const refused = problem(
  "PATCH alice's post with the read key",
  await reader.PATCH("/api/v1/posts/{id}", { params: kept, body: { title: "Not with read" } }),
  403,
);
ensure("the 403 names the write scope", (refused.detail ?? "").includes("`write`"), refused.detail);
const keys = expect("alice lists her keys (login token)", await aliceLogin.GET("/api/v1/users/me/api-keys"), 200);
ensure(
  "the write key is listed, without the key itself",
  keys.data.some((k) => k.id === aliceKey.id) && keys.data.every((k) => !("key" in k)),
  keys.data,
);
const revoked = await aliceLogin.DELETE("/api/v1/users/me/api-keys/{id}", {
  params: { path: { id: aliceKey.id } },
});
ensure("revoke the write key (login token): 204", revoked.response.status === 204, revoked.response.status);
problem("users/me with the revoked key", await alice.GET("/api/v1/users/me"), 401);
const after = expect("alice lists her keys again", await aliceLogin.GET("/api/v1/users/me/api-keys"), 200);
ensure("the revoked key is gone from the list", after.data.every((k) => k.id !== aliceKey.id), after.data);

// The marketplace, each with a write key: olivia posts a job, carlos
// offers, olivia accepts.
const [, oliviaTokens] = await signUp("olivia");
const olivia = byKey(await makeKey("olivia", asUser(oliviaTokens), ["write"]));
const [carlosName, carlosTokens] = await signUp("carlos");
const carlos = byKey(await makeKey("carlos", asUser(carlosTokens), ["write"]));
const cleaning = expect(
  "olivia posts a cleaning",
  await olivia.POST("/api/v1/cleanings", {
    body: { name: "Two-room flat", description: "Windows too", price: 49.5, cleaning_type: "full_clean" },
  }),
  201,
);
ensure("the price comes back as 49.5", cleaning.price === 49.5, cleaning.price);
// The feed is newest first: on a fresh service the cleaning leads the first
// page; on a busy one, others may have posted since.
const feed = expect(
  "carlos reads the feed",
  await carlos.GET("/api/v1/cleanings/feed", { params: { query: { limit: 100 } } }),
  200,
);
ensure("the cleaning is in carlos's feed", feed.data.some((c) => c.id === cleaning.id));
const cleaningPath = { path: { id: cleaning.id } };
const offer = expect(
  "carlos offers",
  await carlos.POST("/api/v1/cleanings/{id}/offers", { params: cleaningPath, body: {} }),
  201,
);
ensure("the offer is pending", offer.status === "pending", offer.status);
const offers = expect(
  "olivia lists the offers",
  await olivia.GET("/api/v1/cleanings/{id}/offers", { params: cleaningPath }),
  200,
);
ensure(
  "carlos's offer is listed",
  offers.data.length === 1 && offers.data[0]?.username === carlosName,
  offers.data,
);
const offerPath = { path: { id: cleaning.id, username: carlosName } };
const accepted = expect(
  "olivia accepts",
  await olivia.POST("/api/v1/cleanings/{id}/offers/{username}/accept", { params: offerPath }),
  200,
);
ensure("the offer is accepted", accepted.status === "accepted", accepted.status);
problem(
  "carlos tries to accept his own offer",
  await carlos.POST("/api/v1/cleanings/{id}/offers/{username}/accept", { params: offerPath }),
  403,
);

console.log(`${checks} passed, 0 failed`);

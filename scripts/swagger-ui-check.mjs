// Drives Swagger UI in headless Chromium as a person would, and fails (exit
// status 1, a screenshot of the page) at the first step that goes wrong:
//
//   1. "Try it out" on POST /api/v1/auth/register with the example body as
//      it is: 201;
//   2. "Try it out" on POST /api/v1/posts before logging in: 401;
//   3. Authorize with a username and password (the OAuth2 password flow);
//   4. "Try it out" on POST /api/v1/posts with the example body as it is:
//      201, written by that user;
//   5. over HTTP, log in as that user and make a `write` API key with the
//      login token;
//   6. in a fresh browser profile (nothing authorized, nothing kept from
//      steps 1-4): "Try it out" on POST /api/v1/cleanings: 401;
//   7. Authorize with the key alone (the `apiKey` scheme, `X-API-Key`);
//   8. "Try it out" on POST /api/v1/cleanings with the example body as it
//      is: 201, owned by that user, sent with `X-API-Key` and no
//      `Authorization`.
//
// With a username and password given, steps 1 and 4 send that user and a
// post of their own instead of the examples, for a service that already
// has the example user. scripts/clients.sh runs it in CI (on a fresh
// service, examples as they are); by hand, from a folder where
// `npm install playwright-core@1` was run, with Debian's chromium:
//
//   node swagger-ui-check.mjs http://127.0.0.1:8080 [username password]
//
// Screenshots go to $SCREENSHOT_DIR (default: the current folder).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base = 'http://127.0.0.1:8080', givenUser, givenPassword] = process.argv.slice(2);
const shots = process.env.SCREENSHOT_DIR ?? '.';
const STEP_TIMEOUT = 15000;

// A fresh profile each time (Swagger UI keeps what was authorized in the
// profile's storage); the flags keep Chromium from reaching out to the
// network on its own (update checks, sync, QUIC probes).
async function openBrowser() {
  const dir = mkdtempSync(join(tmpdir(), 'swagger-ui-check-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  ctx.setDefaultTimeout(STEP_TIMEOUT);
  return { dir, ctx, pg: ctx.pages()[0] ?? await ctx.newPage() };
}

async function closeBrowser() {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

let { dir: profile, ctx: context, pg: page } = await openBrowser();
let step = 'open Swagger UI';

class CheckFailed extends Error {}

/** Opens an operation, clicks "Try it out", optionally replaces the body,
 *  executes, and returns the status and body Swagger UI shows. */
async function tryItOut(id, body) {
  const op = page.locator(`#${id}`);
  if (!(await op.locator('button.try-out__btn').isVisible())) {
    await op.locator('.opblock-summary').first().click();
  }
  // Clear an earlier answer, so it is not mistaken for this one.
  const clear = op.locator('button.btn-clear');
  if (await clear.isVisible()) await clear.click();
  const tryOut = op.locator('button.try-out__btn');
  if ((await tryOut.innerText()).trim() === 'Try it out') await tryOut.click();
  const textarea = op.locator('textarea.body-param__text');
  if (body !== undefined) await textarea.fill(JSON.stringify(body));
  const sent = await textarea.inputValue();
  await op.locator('button.execute').click();
  const row = op.locator('.live-responses-table .response').first();
  await row.locator('.response-col_status').waitFor();
  const status = (await row.locator('.response-col_status').innerText()).trim();
  const shown = await row.locator('.response-col_description pre').first().innerText().catch(() => '');
  return { status, sent, shown };
}

/** The part of the Authorize dialog for one scheme, by its heading. */
function authPart(heading) {
  return page.locator('.modal-ux .auth-container')
    .filter({ has: page.locator('h4', { hasText: heading }) });
}

/** A JSON request over HTTP, outside the browser: [status, body]. */
async function call(method, path, headers, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return [response.status, await response.json()];
}

function expectStatus(what, result, status) {
  console.log(`${what}: ${result.status} (sent ${result.sent.replace(/\s+/g, ' ')})`);
  if (result.status !== String(status)) {
    throw new CheckFailed(`${what}: expected ${status}, Swagger UI shows ${result.status}: ${result.shown.slice(0, 300)}`);
  }
}

try {
  await page.goto(`${base}/docs/`);
  await page.waitForSelector('.swagger-ui .btn.authorize');

  step = 'register with the example';
  const register = givenUser
    ? { username: givenUser, email: `${givenUser}@example.com`, password: givenPassword }
    : undefined;
  const registered = await tryItOut('operations-auth-register', register);
  expectStatus('try it out POST /api/v1/auth/register', registered, 201);
  const example = JSON.parse(registered.sent);
  const username = example.username;
  const password = example.password;

  step = 'create a post before logging in';
  const post = givenUser
    ? { title: `From Swagger UI ${Date.now()}`, body: 'Written through Try it out.', published: true }
    : undefined;
  expectStatus('try it out POST /api/v1/posts, not logged in', await tryItOut('operations-posts-create_post', post), 401);

  step = 'authorize';
  await page.click('.swagger-ui .btn.authorize');
  // The dialog has one part per scheme (apiKey, oauth2), each with its own
  // Authorize and Close buttons; the heading tells them apart.
  const oauth2 = authPart('OAuth2, password');
  await oauth2.locator('input#oauth_username').fill(username);
  await oauth2.locator('input#oauth_password').fill(password);
  await oauth2.locator('button.btn.modal-btn.auth.authorize').click();
  await oauth2.locator('button.btn.modal-btn.auth:has-text("Logout")').waitFor();
  console.log(`authorize: logged in as ${username}`);
  await oauth2.locator('button.btn-done').click();

  step = 'create a post with the example';
  const created = await tryItOut('operations-posts-create_post', post);
  expectStatus('try it out POST /api/v1/posts', created, 201);
  const author = JSON.parse(created.shown).author_username;
  if (author !== username) throw new CheckFailed(`the post's author is ${author}, not ${username}`);
  console.log(`the post is by ${author}`);
  await page.locator('#operations-posts-create_post .live-responses-table').screenshot({ path: join(shots, 'swagger-ui.png') });

  step = 'make an API key over HTTP';
  const [loggedIn, tokens] = await call('POST', '/api/v1/auth/login', {}, { username, password });
  if (loggedIn !== 200) throw new CheckFailed(`log in over HTTP: ${loggedIn} ${JSON.stringify(tokens)}`);
  const login = { Authorization: `Bearer ${tokens.access_token}` };
  const [, me] = await call('GET', '/api/v1/users/me', login);
  const [made, apiKey] = await call('POST', '/api/v1/users/me/api-keys', login,
    { name: `Swagger UI check ${Date.now()}`, scopes: ['write'], expires_in_days: 1 });
  if (made !== 201 || !/^oak_/.test(apiKey.key ?? '')) {
    throw new CheckFailed(`make an API key: expected 201 and a key, got ${made} ${JSON.stringify(apiKey)}`);
  }
  const shortKey = `${apiKey.key.slice(0, 12)}…`;
  console.log(`make an API key over HTTP (login token): ${made}, ${shortKey}`);

  step = 'open Swagger UI in a fresh browser profile';
  await closeBrowser();
  ({ dir: profile, ctx: context, pg: page } = await openBrowser());
  await page.goto(`${base}/docs/`);
  await page.waitForSelector('.swagger-ui .btn.authorize');

  step = 'create a cleaning before authorizing with the key';
  expectStatus('try it out POST /api/v1/cleanings, fresh profile, not authorized',
    await tryItOut('operations-cleanings-create_cleaning'), 401);

  step = 'authorize with the API key';
  await page.click('.swagger-ui .btn.authorize');
  const keyPart = authPart('(apiKey)');
  await keyPart.locator('input#api_key_value').fill(apiKey.key);
  await keyPart.locator('button.btn.modal-btn.auth.authorize').click();
  await keyPart.locator('button.btn.modal-btn.auth:has-text("Logout")').waitFor();
  console.log(`authorize: API key ${shortKey}`);
  await keyPart.locator('button.btn-done').click();

  step = 'create a cleaning with the API key';
  const cleaning = await tryItOut('operations-cleanings-create_cleaning');
  expectStatus('try it out POST /api/v1/cleanings with the API key', cleaning, 201);
  const owner = JSON.parse(cleaning.shown).owner_id;
  if (owner !== me.id) throw new CheckFailed(`the cleaning's owner is ${owner}, not ${username} (${me.id})`);
  // The curl command Swagger UI shows is the request it sent.
  const curl = await page.locator('#operations-cleanings-create_cleaning .curl-command').innerText();
  if (!curl.includes(`X-API-Key: ${apiKey.key}`) || /authorization:/i.test(curl)) {
    throw new CheckFailed(`Swagger UI did not send the key alone: ${curl}`);
  }
  console.log(`the cleaning is ${username}'s, sent with X-API-Key and no Authorization`);
  await page.locator('#operations-cleanings-create_cleaning .live-responses-table').screenshot({ path: join(shots, 'swagger-ui-api-key.png') });
} catch (e) {
  const shot = join(shots, 'swagger-ui-failure.png');
  await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
  console.error(`FAIL at "${step}": ${e instanceof CheckFailed ? e.message : e}`);
  console.error(`screenshot: ${shot}`);
  process.exitCode = 1;
} finally {
  await closeBrowser();
}

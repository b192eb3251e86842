// Drives Swagger UI in headless Chromium as a person would: Authorize with a
// username and password (OAuth2 password flow), then "Try it out" on
// POST /api/v1/posts, and prints the status Swagger UI shows.
//
//   npm install playwright-core@1   (once, in any folder; uses /usr/bin/chromium)
//   node scripts/swagger-ui-check.mjs http://127.0.0.1:8080 alice Secret123
import { chromium } from 'playwright-core';

const [base = 'http://127.0.0.1:8080', username = 'alice', password = 'Secret123'] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage();
await page.goto(`${base}/docs/`);
await page.waitForSelector('.swagger-ui .btn.authorize');
await page.click('.swagger-ui .btn.authorize');
const dialog = page.locator('.modal-ux');
await dialog.locator('input#oauth_username').fill(username);
await dialog.locator('input#oauth_password').fill(password);
await dialog.locator('button.btn.modal-btn.auth.authorize').click();
await dialog.locator('button.btn.modal-btn.auth:has-text("Logout")').waitFor({ timeout: 10000 });
console.log('authorize: logged in');
await dialog.locator('button.btn-done').click();

const op = page.locator('#operations-posts-create_post');
await op.locator('.opblock-summary').click();
await op.locator('button.try-out__btn').click();
const body = JSON.stringify({ title: `From Swagger UI ${Date.now()}`, body: 'Written through Try it out.', published: true });
await op.locator('textarea.body-param__text').fill(body);
await op.locator('button.execute').click();
const status = op.locator('.live-responses-table .response .response-col_status').first();
await status.waitFor({ timeout: 10000 });
console.log('try it out POST /api/v1/posts:', (await status.innerText()).trim());
await page.screenshot({ path: 'swagger-ui-check.png', fullPage: false });
await browser.close();

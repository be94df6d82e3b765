// The web inbox as a person works it, in Debian's headless Chromium driven by playwright-core.
// Started by tests/e2e/web.rs, which runs the binary and the sandbox (Meta) and passes:
//   SWITCHBOARD_URL, SWITCHBOARD_TOKEN (OWNER), SWITCHBOARD_CHROMIUM, SWITCHBOARD_SCREENSHOTS,
//   SWITCHBOARD_VERIFY_TOKEN, CUSTOMER_PHONE, QUIET_CUSTOMER_PHONE (wrote 30 hours ago).
// When the customer or Meta must act, this prints `STEP <name> [argument]` and waits for
// `OK <name>` on stdin. Any console error or page error fails the run.

import { createInterface } from 'node:readline';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this through cargo test -p switchboard-e2e --test e2e web`);
  return value;
};
const BASE = env('SWITCHBOARD_URL').replace(/\/$/, '');
const TOKEN = env('SWITCHBOARD_TOKEN');
const SHOTS = env('SWITCHBOARD_SCREENSHOTS');
const VERIFY_TOKEN = env('SWITCHBOARD_VERIFY_TOKEN');
const CUSTOMER = env('CUSTOMER_PHONE');
const QUIET = env('QUIET_CUSTOMER_PHONE');
const WAIT = 20_000;

mkdirSync(SHOTS, { recursive: true });

// --- The harness conversation (stdin/stdout) ---
const answers = [];
const waiting = [];
createInterface({ input: process.stdin }).on('line', (line) => {
  const next = waiting.shift();
  if (next) next(line); else answers.push(line);
});
function nextAnswer() {
  return answers.length ? Promise.resolve(answers.shift()) : new Promise((resolve) => waiting.push(resolve));
}
async function harness(step, argument = '') {
  console.log(`STEP ${step}${argument ? ` ${argument}` : ''}`);
  const answer = await nextAnswer();
  if (answer !== `OK ${step}`) throw new Error(`the harness answered "${answer}" to ${step}`);
}

function log(message) {
  console.log(`· ${message}`);
}

// --- Errors: any console error or page error fails the run, except network answers a step
// expects (a 401 after signing in with a revoked token; a 404 from an optional route). ---
const problems = [];
let expectedStatuses = [];
function watch(page, label) {
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const where = message.location().url || '';
    const expected = expectedStatuses.find(({ status, path }) =>
      message.text().includes(`status of ${status}`) && where.includes(path));
    if (!expected) problems.push(`${label} console error: ${message.text()} (${where})`);
  });
  page.on('pageerror', (error) => problems.push(`${label} page error: ${error.message}`));
}
function failIfProblems(where) {
  if (problems.length) throw new Error(`${where}:\n  ${problems.join('\n  ')}`);
}

/** Every button, link, input, select and textarea has a name a screen reader can say. */
async function checkLabels(page, where) {
  const unnamed = await page.evaluate(() => {
    const bad = [];
    for (const el of document.querySelectorAll('button, a[href], input, select, textarea')) {
      if (el.closest('[hidden]') || el.type === 'hidden') continue;
      const name = (el.getAttribute('aria-label') || '').trim()
        || (el.getAttribute('aria-labelledby') && document.getElementById(el.getAttribute('aria-labelledby'))?.textContent.trim())
        || [...(el.labels || [])].map((l) => l.textContent.trim()).join(' ')
        || (['BUTTON', 'A'].includes(el.tagName) ? el.textContent.trim() : '');
      if (!name) bad.push(el.outerHTML.slice(0, 120));
    }
    return bad;
  });
  if (unnamed.length) throw new Error(`${where}: controls without an accessible name:\n  ${unnamed.join('\n  ')}`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, name), fullPage: false });
  log(`screenshot ${name}`);
}

async function signIn(page, token = TOKEN) {
  await page.goto(`${BASE}/`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Conversations' }).waitFor({ timeout: WAIT });
}

async function api(path, init = {}) {
  const response = await fetch(`${BASE}${path}`, {
    ...init, headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json', ...(init.headers || {}) },
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

/** Waits until the tick of the outbound message containing `text` says `status`; returns the
 * statuses seen on the way (polled every 100 ms, as a person would watch them change). */
async function watchTicks(page, text, status) {
  const message = page.locator('li.message.outbound').filter({ hasText: text }).last();
  await message.waitFor({ timeout: WAIT });
  const seen = [];
  const deadline = Date.now() + WAIT;
  while (Date.now() < deadline) {
    const now = await message.locator('.ticks').getAttribute('data-status').catch(() => null);
    if (now && seen[seen.length - 1] !== now) seen.push(now);
    if (now === status) return seen;
    await page.waitForTimeout(100);
  }
  throw new Error(`"${text}" never reached ${status}; ticks seen: ${seen.join(' → ')}`);
}

const browser = await chromium.launch({ executablePath: env('SWITCHBOARD_CHROMIUM'), headless: true });
try {
  // ---------------- Laptop ----------------
  const laptop = await browser.newContext({ viewport: { width: 1366, height: 860 } });
  const page = await laptop.newPage();
  watch(page, 'laptop');
  let navigations = 0;
  page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) navigations += 1; });

  // The page and its headers: a strict policy, nothing inline.
  const root = await page.goto(`${BASE}/`);
  const csp = root.headers()['content-security-policy'] || '';
  if (!csp.includes("script-src 'self'") || csp.includes('unsafe')) throw new Error(`weak CSP: ${csp}`);
  await page.getByRole('heading', { name: 'Switchboard' }).waitFor();
  await checkLabels(page, 'sign-in');

  // A wrong token is refused with the API's reason, and nothing is stored.
  expectedStatuses = [{ status: 401, path: '/api/me' }];
  await page.getByLabel('API token').fill('sb_not_a_real_token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'That token was refused' }).waitFor({ timeout: WAIT });
  expectedStatuses = [];
  log('a wrong token is refused with the reason');

  await signIn(page);
  log('signed in');
  const quiet = page.locator('a.conversation').filter({ hasText: `+${QUIET}` });
  await quiet.waitFor({ timeout: WAIT });
  await quiet.locator('.window-closed').waitFor();
  log('Pedro is listed with his window closed');

  // A customer writes while the page is open: it appears without a reload.
  const navigationsBefore = navigations;
  await harness('customer-writes');
  const ana = page.locator('a.conversation').filter({ hasText: 'Ana Web' });
  await ana.waitFor({ timeout: WAIT });
  await ana.locator('.badge').waitFor({ timeout: WAIT });
  if (navigations !== navigationsBefore) throw new Error('the page reloaded to show the new message');
  log(`Ana's message appeared live (${await ana.locator('.badge').textContent()} unread)`);

  await ana.click();
  await page.getByRole('heading', { name: 'Ana Web', level: 2 }).waitFor();
  const thread = page.getByRole('log');
  await thread.locator('li.message.inbound').filter({ hasText: 'modelo azul' }).waitFor();
  // The photo, fetched with the token and shown inline; the PDF as a link.
  const photo = thread.locator('img.media-image');
  await photo.waitFor({ timeout: WAIT });
  await page.waitForFunction(() => {
    const img = document.querySelector('img.media-image');
    return img && img.src.startsWith('blob:') && img.complete && img.naturalWidth === 240;
  }, null, { timeout: WAIT });
  await thread.getByRole('link', { name: /factura-2291\.pdf/ }).waitFor({ timeout: WAIT });
  log('the photo shows inline and the PDF as a link');

  await page.getByRole('button', { name: /^Mark read/ }).click();
  await ana.locator('.badge').waitFor({ state: 'detached', timeout: WAIT });
  log('marked read');

  // Reply inside the window and watch the ticks go to read.
  const reply = 'Sí, nos quedan tres. ¿Te lo reservo?';
  await page.getByLabel('Message', { exact: true }).fill(reply);
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  const seen = await watchTicks(page, reply, 'READ');
  if (!seen.includes('SENT') && !seen.includes('DELIVERED')) throw new Error(`no tick before read: ${seen}`);
  const readTick = thread.locator('li.message.outbound').filter({ hasText: reply }).locator('.ticks');
  if ((await readTick.textContent()) !== '✓✓' || !(await readTick.getAttribute('class')).includes('read')) {
    throw new Error('the read tick is not a blue ✓✓');
  }
  log(`reply ticks: ${seen.join(' → ')}`);

  // A second reply that Meta later reports failed: ✕ with the reason on hover.
  const doomed = '¿Te llamo mañana?';
  await page.getByLabel('Message', { exact: true }).fill(doomed);
  await page.keyboard.press('Enter');
  await thread.locator('li.message.outbound').filter({ hasText: doomed }).waitFor({ timeout: WAIT });
  await harness('meta-fails-reply', doomed);
  await watchTicks(page, doomed, 'FAILED');
  const failedTick = thread.locator('li.message.outbound').filter({ hasText: doomed }).locator('.ticks');
  const reason = await failedTick.getAttribute('title');
  if ((await failedTick.textContent()) !== '✕' || !reason.startsWith('Failed: ')) throw new Error(`failed tick: ${reason}`);
  log(`a failed message shows ✕ with "${reason}"`);

  // The lead beside the thread: name, stage, notes.
  const details = page.getByRole('complementary', { name: 'Details' });
  await details.getByText('Ana Web', { exact: true }).waitFor({ timeout: WAIT });
  await details.getByLabel('Stage').waitFor();
  await details.getByLabel('New note').fill('Reservar el modelo azul hasta el viernes');
  await details.getByRole('button', { name: 'Add note' }).click();
  await details.locator('.note-item').filter({ hasText: 'modelo azul hasta el viernes' }).waitFor({ timeout: WAIT });
  log('a note was added to the lead');

  // Assign to me; the list says so.
  await page.getByRole('button', { name: 'Assign to me' }).click();
  await ana.locator('.assignee').filter({ hasText: '→' }).waitFor({ timeout: WAIT });
  await page.getByRole('button', { name: 'Mine', exact: true }).click();
  await page.locator('a.conversation').filter({ hasText: `+${QUIET}` }).waitFor({ state: 'detached', timeout: WAIT });
  await ana.waitFor();
  await page.getByRole('button', { name: 'All', exact: true }).click();
  await page.locator('a.conversation').filter({ hasText: `+${QUIET}` }).waitFor({ timeout: WAIT });
  log('assigned to me; the Mine filter shows it alone');

  // The ticket: change its status from the side panel.
  const ticketTitle = details.getByRole('heading', { name: /^Ticket #\d+/ });
  await ticketTitle.waitFor({ timeout: WAIT });
  await details.getByLabel('Status').selectOption('resolved');
  await details.getByRole('button', { name: 'Update status' }).click();
  await details.getByRole('status').filter({ hasText: 'is now Resolved' }).waitFor({ timeout: WAIT });
  log(`${(await ticketTitle.textContent()).trim()} resolved from the page`);

  await checkLabels(page, 'inbox');
  const shown = await thread.locator('li.message').count();
  if (await page.locator('.load-older').isVisible()) {
    const answer = await page.evaluate(async () => {
      const id = location.hash.split('/').pop();
      const r = await fetch(`/api/integrations/conversations/${id}/messages?limit=50`, { headers: { Authorization: `Bearer ${sessionStorage.getItem('switchboard.token')}` } });
      return r.json();
    });
    throw new Error(`"Show older messages" is offered with all ${shown} messages shown (page state ${await thread.getAttribute('data-loaded')}/${await thread.getAttribute('data-total')}; API total ${answer.total}, page ${answer.data.length}: ${answer.data.map((m) => m.id).join(',')})`);
  }
  await shot(page, 'laptop-inbox.png');
  failIfProblems('inbox');

  // ---------------- Templates ----------------
  await page.getByRole('link', { name: 'Templates' }).click();
  await page.getByRole('heading', { name: 'Templates', level: 2 }).waitFor();
  await page.getByRole('button', { name: 'Sync from Meta' }).click();
  const approved = page.locator('tr').filter({ hasText: 'sample_issue_resolution' }).filter({ hasText: 'approved' });
  await approved.first().waitFor({ timeout: WAIT });
  log("Meta's templates synced");
  await page.getByLabel('Name', { exact: true }).fill('stock_alert');
  await page.getByLabel('Language', { exact: true }).fill('es');
  await page.getByLabel('Body', { exact: true }).fill('Hola {{1}}, ya llegó {{2}}. Te lo guardamos hasta el {{3}}.');
  const preview = page.locator('#template-preview');
  await preview.locator('mark.placeholder').filter({ hasText: '{{2}}' }).waitFor();
  await page.getByLabel('Example for {{1}}').fill('Ana');
  await preview.locator('mark.filled').filter({ hasText: 'Ana' }).waitFor();
  log('the preview fills placeholders as they are typed');
  await page.getByRole('button', { name: 'Create template' }).click();
  await page.getByRole('status').filter({ hasText: 'stock_alert was created' }).waitFor({ timeout: WAIT });
  const local = page.locator('tr').filter({ hasText: 'stock_alert' });
  await local.getByRole('button', { name: 'Submit to Meta' }).click();
  await page.getByRole('status').filter({ hasText: 'sent to Meta for review' }).waitFor({ timeout: WAIT });
  log('a template was written and submitted');
  await checkLabels(page, 'templates');
  await page.evaluate(() => document.querySelector('.page').scrollTo(0, 0));
  await shot(page, 'laptop-templates.png');
  failIfProblems('templates');

  // ---------------- A template to a customer outside the window ----------------
  await page.getByRole('link', { name: 'Conversations' }).click();
  await quiet.click();
  await page.getByText('The 24-hour window is closed').waitFor({ timeout: WAIT });
  if (await page.getByLabel('Message', { exact: true }).count()) throw new Error('free text offered outside the window');
  const picker = page.getByLabel('Template', { exact: true });
  await picker.locator('option', { hasText: 'sample_issue_resolution' }).first().waitFor({ state: 'attached', timeout: WAIT });
  const option = await picker.locator('option', { hasText: 'sample_issue_resolution' }).first().getAttribute('value');
  await picker.selectOption(option);
  await page.getByLabel('{{1}}', { exact: true }).fill('Pedro');
  await page.locator('.template-composer .preview mark.filled').filter({ hasText: 'Pedro' }).waitFor();
  await page.getByRole('button', { name: 'Send template' }).click();
  const templateSeen = await watchTicks(page, 'Template: sample_issue_resolution', 'READ');
  log(`the template reached Pedro outside the window: ${templateSeen.join(' → ')}`);
  failIfProblems('template send');

  // ---------------- Settings ----------------
  // The health figures come from a newer route; a version without it shows the cards alone.
  expectedStatuses = [{ status: 404, path: '/api/whatsapp/status' }];
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('heading', { name: 'WhatsApp numbers' }).waitFor();
  const callback = page.getByLabel('Callback URL', { exact: true });
  await callback.waitFor({ timeout: WAIT });
  expectedStatuses = [];
  const callbackUrl = await callback.inputValue();
  if (callbackUrl !== `${BASE}/api/webhooks/whatsapp`) throw new Error(`callback URL ${callbackUrl}`);
  const verify = await page.getByLabel('Verify token', { exact: true }).inputValue();
  if (verify !== VERIFY_TOKEN) throw new Error(`verify token ${verify}`);
  // What the page tells an admin to paste into Meta passes Meta's verification handshake.
  const handshake = await fetch(`${callbackUrl}?hub.mode=subscribe&hub.verify_token=${encodeURIComponent(verify)}&hub.challenge=4242`);
  if ((await handshake.text()) !== '4242') throw new Error('the shown webhook settings fail the verification handshake');
  log('the webhook URL and verify token pass the handshake');

  // The connection test (another part of the API; a version without it says so).
  expectedStatuses = [{ status: 404, path: '/api/integrations/whatsapp/test' }];
  await page.getByRole('button', { name: 'Test connection' }).click();
  const results = page.locator('.test-results');
  await results.locator('.success, .failure, .note').first().waitFor({ timeout: WAIT });
  const outcome = (await results.textContent()).replace(/\s+/g, ' ').trim();
  if (!outcome.startsWith('Connection works.') && !outcome.includes('not available in this version')) {
    throw new Error(`the connection test failed against the sandbox: ${outcome}`);
  }
  log(`connection test: ${outcome.slice(0, 160)}`);
  expectedStatuses = [];

  // A token: created (shown once), then revoked.
  await page.getByLabel('Token name').fill('Inbox e2e bot');
  await page.getByRole('button', { name: 'Create token' }).click();
  const fresh = await page.getByLabel('New API token', { exact: true }).inputValue();
  const check = await fetch(`${BASE}/api/me`, { headers: { Authorization: `Bearer ${fresh}` } });
  if (check.status !== 200) throw new Error(`the new token does not work: ${check.status}`);
  const row = page.locator('tr').filter({ hasText: 'Inbox e2e bot' });
  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.getByRole('button', { name: /Confirm: revoke/ }).click();
  await row.getByText('revoked').waitFor({ timeout: WAIT });
  const after = await fetch(`${BASE}/api/me`, { headers: { Authorization: `Bearer ${fresh}` } });
  if (after.status !== 401) throw new Error(`a revoked token still works: ${after.status}`);
  log('a token was created, worked, was revoked and stopped');
  await checkLabels(page, 'settings');
  await page.evaluate(() => document.querySelector('.page').scrollTo(0, 0));
  await shot(page, 'laptop-settings.png');
  failIfProblems('settings');

  // A token revoked elsewhere: the next call signs the page out with the reason.
  const { body: created } = await api('/api/tokens', { method: 'POST', body: JSON.stringify({ name: 'short-lived' }) });
  await page.evaluate((t) => sessionStorage.setItem('switchboard.token', t), created.token);
  await page.getByRole('link', { name: 'Conversations' }).click();
  await page.locator('a.conversation').first().waitFor({ timeout: WAIT });
  expectedStatuses = [{ status: 401, path: '/api/' }];
  await api(`/api/tokens/${created.id}`, { method: 'DELETE' });
  await page.getByRole('alert').filter({ hasText: 'You were signed out' }).waitFor({ timeout: WAIT });
  await page.getByLabel('API token').waitFor();
  expectedStatuses = [];
  log('a revoked token sends the page back to sign-in with the reason');
  failIfProblems('sign-out on 401');
  await laptop.close();

  // ---------------- Phone ----------------
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const mobile = await phone.newPage();
  watch(mobile, 'phone');
  await signIn(mobile);
  const anaOnPhone = mobile.locator('a.conversation').filter({ hasText: 'Ana Web' });
  await anaOnPhone.waitFor({ timeout: WAIT });
  if (await mobile.locator('.thread-pane').isVisible()) throw new Error('the thread shows beside the list on a phone');
  await shot(mobile, 'phone-list.png');
  await anaOnPhone.tap();
  await mobile.getByRole('heading', { name: 'Ana Web', level: 2 }).waitFor();
  await mobile.getByRole('log').locator('li.message').last().waitFor();
  if (await mobile.locator('.list-pane').isVisible()) throw new Error('the list shows beside the thread on a phone');
  await checkLabels(mobile, 'phone thread');
  await shot(mobile, 'phone-thread.png');
  // The details open over the thread and close again.
  await mobile.getByRole('button', { name: 'Details' }).tap();
  const phoneDetails = mobile.getByRole('complementary', { name: 'Details' });
  await phoneDetails.getByText('Ana Web', { exact: true }).waitFor({ timeout: WAIT });
  await shot(mobile, 'phone-details.png');
  await phoneDetails.getByRole('button', { name: 'Close details' }).tap();
  await phoneDetails.waitFor({ state: 'hidden' });
  await mobile.getByRole('link', { name: 'Back to conversations' }).tap();
  await anaOnPhone.waitFor();
  await mobile.getByRole('button', { name: 'Sign out' }).tap();
  await mobile.getByLabel('API token').waitFor();
  log('phone: list and thread are separate views; signed out');
  failIfProblems('phone');
  await phone.close();
  log('all browser checks passed');
} catch (error) {
  console.log(`FAILED: ${error.stack || error.message}`);
  if (problems.length) console.log(`also:\n  ${problems.join('\n  ')}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  process.exit(process.exitCode || 0);
}

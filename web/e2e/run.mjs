// Browser tests of the embedded admin console (/console/) and storefront (/storefront/).
//
// Each test starts its own `behalf serve` on a free port with a fresh database (SQLite, and one on
// PostgreSQL), drives Debian's chromium through playwright-core (one browser, one context per person)
// and saves a screenshot of each step under out/<test>/. Run by scripts/test.sh after the Go tests:
//
//   BEHALF_BIN=path/to/behalf [BEHALF_E2E_PG_URL=postgres://…/fresh_db] node web/e2e/run.mjs [test names…]
//
// Without BEHALF_E2E_PG_URL the PostgreSQL test is skipped, which fails the run when CI is set.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const OUT = process.env.BEHALF_E2E_OUT || join(here, 'out');
const BIN = process.env.BEHALF_BIN;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PG = process.env.BEHALF_E2E_PG_URL || '';
const CI = !!process.env.CI && process.env.CI !== 'false';
const STEP_TIMEOUT = 20_000;

if (!BIN) {
  console.error('BEHALF_BIN must name a built behalf binary');
  process.exit(2);
}

// ---- servers ---------------------------------------------------------------------------------------

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

const servers = [];

/** Starts behalf serve with demo data; resolves to { base, logins: {login: password}, log }. */
async function startServer(name, { db, env = {} } = {}) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `behalf-e2e-${name}-`));
  const dsn = db || `sqlite:${join(dir, 'behalf.db')}`;
  const logFile = join(OUT, name, 'server.log');
  const child = spawn(BIN, ['serve', '--addr', `127.0.0.1:${port}`, '--db', dsn, '--demo'], {
    env: { ...process.env, BEHALF_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const srv = { child, dir, base: `http://127.0.0.1:${port}`, logins: {}, stdout: '', stderr: '' };
  servers.push(srv);
  child.stderr.on('data', (b) => { srv.stderr += b; });
  await new Promise((res, rej) => {
    child.on('exit', (code) => rej(new Error(`${name}: behalf serve exited with ${code}\n${srv.stderr}`)));
    child.stdout.on('data', (b) => {
      srv.stdout += b;
      if (srv.stdout.includes('Admin console:')) res();
    });
  });
  for (const line of srv.stdout.split('\n')) {
    const m = /^ {2}(\S+)\s+(\S+)\s+(\S+)$/.exec(line);
    if (m) srv.logins[m[1]] = m[3];
  }
  srv.log = () => { writeFileSync(logFile, srv.stderr); return srv.stderr; };
  return srv;
}

function stopServers() {
  for (const s of servers) {
    s.child.kill('SIGTERM');
    rmSync(s.dir, { recursive: true, force: true });
  }
}

// ---- helpers ---------------------------------------------------------------------------------------

function check(cond, message) {
  if (!cond) throw new Error(message);
}

function shooter(test) {
  const dir = join(OUT, test);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let n = 0;
  return async (page, step) => {
    n += 1;
    await page.screenshot({ path: join(dir, `${String(n).padStart(2, '0')}-${step}.png`), fullPage: true });
  };
}

async function newPerson(browser, opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...opts });
  ctx.setDefaultTimeout(STEP_TIMEOUT);
  const errors = [];
  ctx.on('weberror', (e) => errors.push(String(e.error())));
  ctx.on('console', (m) => { if (m.type() === 'error' && !/status of 401/.test(m.text())) errors.push(m.text()); });
  ctx.errors = errors;
  return ctx;
}

async function consoleSignIn(page, base, login, password) {
  await page.goto(`${base}/console/`);
  await page.getByLabel('Login').fill(login);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText(`Signed in as ${login}`).waitFor();
}

async function findCustomer(page, search, name) {
  await page.getByLabel('Search contacts and users').fill(search);
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('link', { name }).first().click();
  await page.getByRole('heading', { level: 1, name }).waitFor();
}

/** Clicks "Login on behalf…", gives a reason, and returns the storefront tab it opens. */
async function loginOnBehalf(page, reason, { again = false } = {}) {
  if (again) await page.getByRole('button', { name: 'New link' }).click();
  else await page.getByRole('button', { name: /Login on behalf/ }).click();
  await page.getByLabel(/^Reason/).fill(reason);
  const [tab] = await Promise.all([
    page.context().waitForEvent('page'),
    page.getByRole('button', { name: 'Open the storefront' }).click(),
  ]);
  await tab.waitForLoadState('domcontentloaded');
  return tab;
}

async function shopSignIn(page, base, login, password) {
  await page.goto(`${base}/storefront/`);
  await page.getByLabel('Login').fill(login);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'My account' }).waitFor();
}

// ---- tests -----------------------------------------------------------------------------------------

const tests = {};

// The headline flow, end to end, on SQLite.
tests.flow = async (browser) => {
  const shot = shooter('flow');
  const srv = await startServer('flow');
  const { base } = srv;
  const supportPw = srv.logins.support;
  check(supportPw && srv.logins['anna.schmidt'], `demo logins not printed: ${srv.stdout}`);

  // Security headers of the apps, and the SDL.
  const confirmRes = await fetch(`${base}/storefront/account/impersonate/x`);
  check(confirmRes.headers.get('referrer-policy') === 'no-referrer', 'confirm page lacks Referrer-Policy: no-referrer');
  const csp = confirmRes.headers.get('content-security-policy') || '';
  check(/script-src 'self'/.test(csp) && !/unsafe-inline|unsafe-eval/.test(csp), `weak CSP: ${csp}`);
  check((await (await fetch(`${base}/graphql/schema.graphql`)).text()).includes('type Query'), 'schema.graphql');

  const staff = await newPerson(browser);
  const con = await staff.newPage();
  await consoleSignIn(con, base, 'support', supportPw);
  await shot(con, 'console-signed-in');
  await findCustomer(con, 'schm', 'Anna Schmidt');
  const card = con.getByRole('region', { name: 'Account anna.schmidt' });
  await card.getByRole('button', { name: /Login on behalf/ }).waitFor();
  await shot(con, 'console-customer');
  await con.screenshot({ path: join(OUT, 'console-customer.png') });

  // First ticket: a wrong password burns it.
  let shop = await loginOnBehalf(con, 'Ticket #4711: the cart will not check out');
  await shop.locator('#customer-name').getByText('Anna Schmidt').waitFor();
  check(!shop.url().includes('ticket'), `ticket still in the address bar: ${shop.url()}`);
  check(new URL(shop.url()).pathname.startsWith('/storefront/account/impersonate/'), `confirm page at ${shop.url()}`);
  await shot(shop, 'confirm-page');
  await shop.getByLabel('Your own login').fill('support');
  await shop.getByLabel('Your own password').fill('not the password');
  await shop.getByRole('button', { name: /Continue as/ }).click();
  await shop.getByText('the link is now used up').waitFor();
  await shop.getByText('click “Login on behalf” again').waitFor();
  await shot(shop, 'confirm-wrong-password');
  await shop.close();

  // The console issues a new ticket; the right password opens the session.
  await con.bringToFront();
  shop = await loginOnBehalf(con, 'Ticket #4711: the cart will not check out', { again: true });
  await shop.locator('#customer-name').getByText('Anna Schmidt').waitFor();
  await shop.getByLabel('Your own login').fill('support');
  await shop.getByLabel('Your own password').fill(supportPw);
  await shop.getByRole('button', { name: /Continue as/ }).click();
  const banner = shop.getByRole('region', { name: 'Login on behalf' });
  await banner.getByText('Acting for Anna Schmidt as support').waitFor();
  check((await banner.textContent()).includes('Ticket #4711'), 'banner lacks the reason');
  await shot(shop, 'storefront-banner');
  await shop.screenshot({ path: join(OUT, 'storefront-banner.png') });

  // The console lists the live session with its on-behalf flag and operator.
  await con.bringToFront();
  await card.getByRole('button', { name: 'Sessions' }).click();
  const sessionRow = card.locator('tbody tr').filter({ hasText: 'on behalf' });
  await sessionRow.waitFor();
  check((await sessionRow.textContent()).includes('support'), 'session row names the operator');
  await shot(con, 'console-sessions');

  // The customer, signed in on her own, sees the session in her account: who and why.
  const anna = await newPerson(browser);
  const own = await anna.newPage();
  await shopSignIn(own, base, 'anna.schmidt', srv.logins['anna.schmidt']);
  await own.getByRole('link', { name: 'My account' }).click();
  const live = own.locator('tr[data-on-behalf="true"]');
  await live.waitFor();
  check((await live.textContent()).includes('support') && (await live.textContent()).includes('Ticket #4711'), 'My sessions names operator and reason');
  await shot(own, 'customer-sees-live-session');

  // A product, then the sample file with one bad line.
  await shop.bringToFront();
  await shop.getByLabel('Search products').fill('caliper');
  await shop.getByRole('button', { name: 'Search' }).click();
  const product = shop.locator('article[data-sku="TOL-CAL-150"]');
  await product.getByLabel('Quantity').fill('2');
  await product.getByRole('button', { name: 'Add to cart' }).click();
  await product.getByText('Added. 2 in the cart.').waitFor();
  await shot(shop, 'product-added');
  await shop.getByRole('link', { name: 'Cart' }).click();
  await shop.getByRole('heading', { name: 'Cart', level: 1 }).waitFor();
  await shop.getByLabel(/CSV or XLSX file/).setInputFiles(join(repo, 'testdata', 'sample-order-with-typo.csv'));
  await shop.getByRole('button', { name: 'Upload' }).click();
  const result = shop.locator('#upload-result');
  await result.getByText('9 lines added').waitFor();
  check(await result.locator('tr.upload-error').count() === 1, 'one bad line expected');
  check((await result.locator('tr.upload-error').textContent()).includes('PKG-TAPE-5O'), 'bad line names its sku');
  check(await shop.locator('tbody tr[data-sku]').count() === 10, 'cart should hold 10 lines');
  await shot(shop, 'cart-after-upload');
  await shop.getByRole('button', { name: 'Place order' }).click();
  await shop.getByText(/Order .* placed/).waitFor();
  await shot(shop, 'order-placed');
  await shop.getByRole('radio', { name: 'Card' }).check();
  await shop.getByLabel('Test card token').selectOption('tok_visa');
  await shop.getByRole('button', { name: /^Pay / }).click();
  await shop.getByText('Payment received').waitFor();
  check((await shop.locator('#order-status').textContent()) === 'paid', 'order paid');
  await shot(shop, 'order-paid');

  // End: the tab is signed out.
  await banner.getByRole('button', { name: 'End' }).click();
  await shop.getByText('The login-on-behalf session has ended').waitFor();
  check(await shop.getByRole('region', { name: 'Login on behalf' }).count() === 0, 'banner still shown after End');
  await shop.goto(`${base}/storefront/`);
  await shop.getByRole('heading', { name: 'Sign in to the shop' }).waitFor();
  await shot(shop, 'ended-signed-out');

  // The customer sees what was done for them; the session is no longer live.
  await own.bringToFront();
  await own.getByRole('link', { name: 'Products' }).click();
  await own.getByRole('link', { name: 'My account' }).click();
  const activity = own.locator('#activity');
  await activity.locator('tr[data-action="onbehalf.started"]').first().waitFor();
  for (const action of ['onbehalf.started', 'cart.add', 'cart.addFromFile', 'order.place', 'order.pay', 'onbehalf.ended']) {
    const row = activity.locator(`tr[data-action="${action}"]`).first();
    check(await row.count() === 1, `What was done for me lacks ${action}`);
    check((await row.textContent()).includes('support'), `${action} not stamped with support`);
  }
  check((await activity.locator('li.staff-order').first().textContent()).includes('placed by support'), 'order stamped with support');
  check(await own.locator('tr[data-on-behalf="true"]').count() === 0, 'ended session still listed as live');
  await shot(own, 'customer-what-was-done');

  // Back in the console: the audit trail of that pair.
  await con.bringToFront();
  await con.goto(`${base}/console/#/audit?actor=support&subject=anna.schmidt`);
  await con.locator('tr[data-action="onbehalf.ended"]').first().waitFor();
  for (const action of ['onbehalf.requested', 'onbehalf.started', 'cart.add', 'cart.addFromFile', 'order.place', 'order.pay', 'onbehalf.ended']) {
    check(await con.locator(`tr[data-action="${action}"]`).count() >= 1, `audit trail lacks ${action}`);
  }
  check((await con.locator('tr[data-action="onbehalf.denied"]').allTextContents()).some((t) => t.includes('failure')), 'the wrong password is on record');
  await shot(con, 'console-audit');
  // Outcome filter.
  await con.getByLabel('Outcome').selectOption('FAILURE');
  await con.getByRole('button', { name: 'Apply filters' }).click();
  await con.locator('tr[data-action="onbehalf.denied"]').first().waitFor();
  check(await con.locator('tr[data-action="order.pay"]').count() === 0, 'outcome filter');

  // Phone width: the storefront stays usable.
  await own.setViewportSize({ width: 390, height: 800 });
  await own.getByRole('link', { name: 'Products' }).click();
  await own.getByRole('heading', { name: 'Products' }).waitFor();
  await shot(own, 'phone-products');

  const log = srv.log();
  check(!/bh[tsk]_[A-Za-z0-9_-]{8}/.test(log), 'a token or ticket appears in the server log');
  check(!staff.errors.length && !anna.errors.length, `browser errors: ${[...staff.errors, ...anna.errors].join('; ')}`);
  await staff.close();
  await anna.close();
};

// A customer who switched consent off: the console explains why and shows no button (PostgreSQL).
tests.consent = async (browser) => {
  if (!PG) {
    if (CI) throw new Error('BEHALF_E2E_PG_URL is not set: the PostgreSQL browser test cannot run');
    return 'skipped: BEHALF_E2E_PG_URL not set';
  }
  const shot = shooter('consent');
  const srv = await startServer('consent', { db: PG });
  const ben = await newPerson(browser, { viewport: { width: 390, height: 800 } });
  const shop = await ben.newPage();
  await shopSignIn(shop, srv.base, 'ben.okafor', srv.logins['ben.okafor']);
  await shop.getByRole('link', { name: 'My account' }).click();
  const consent = shop.getByLabel('Allow support staff to log in on my behalf');
  check(await consent.isChecked(), 'consent starts allowed (opt-out)');
  await consent.uncheck();
  await shop.getByText('Nobody can log in on your behalf now.').waitFor();
  await shot(shop, 'consent-off');

  const staff = await newPerson(browser);
  const con = await staff.newPage();
  await consoleSignIn(con, srv.base, 'support', srv.logins.support);
  await findCustomer(con, 'okafor', 'Ben Okafor');
  const card = con.getByRole('region', { name: 'Account ben.okafor' });
  await card.getByText('has switched off login on behalf').waitFor();
  check(await card.getByRole('button', { name: /Login on behalf/ }).count() === 0, 'button shown despite no consent');
  await shot(con, 'console-no-consent');
  check(!staff.errors.length && !ben.errors.length, `browser errors: ${[...staff.errors, ...ben.errors].join('; ')}`);
  srv.log();
  await staff.close();
  await ben.close();
};

// An expired ticket shows the expiry message.
tests.expiry = async (browser) => {
  const shot = shooter('expiry');
  const ttl = 10; // seconds, the shortest BEHALF_ONBEHALF_TICKET_TTL
  const srv = await startServer('expiry', { env: { BEHALF_ONBEHALF_TICKET_TTL: `${ttl}s` } });
  const staff = await newPerson(browser);
  const con = await staff.newPage();
  await consoleSignIn(con, srv.base, 'support', srv.logins.support);
  await findCustomer(con, 'rossi', 'Elena Rossi');
  const issued = Date.now();
  const shop = await loginOnBehalf(con, 'Call 2231: reorder');
  await shop.locator('#customer-name').getByText('Elena Rossi').waitFor();
  await shop.getByLabel('Your own login').fill('support');
  await shop.getByLabel('Your own password').fill(srv.logins.support);
  await shot(shop, 'confirm-before-expiry');
  // The ticket's lifetime is real time on the server: wait it out.
  await shop.waitForTimeout(Math.max(0, issued + ttl * 1000 + 1500 - Date.now()));
  await shop.getByRole('button', { name: /Continue as/ }).click();
  await shop.getByText('This login-on-behalf link expired at').waitFor();
  await shot(shop, 'confirm-expired');
  // Opening the dead link again says so at once.
  check(await shop.getByRole('region', { name: 'Login on behalf' }).count() === 0, 'no session after expiry');
  srv.log();
  await staff.close();
};

// ---- runner ----------------------------------------------------------------------------------------

async function main() {
  const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(tests);
  mkdirSync(OUT, { recursive: true });
  const t0 = Date.now();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  let failed = 0;
  const results = await Promise.allSettled(names.map(async (n) => {
    const t = Date.now();
    const before = new Set(browser.contexts());
    try {
      const r = await tests[n](browser);
      return { n, r, ms: Date.now() - t };
    } catch (err) {
      // Keep what every page of this test showed when it failed.
      const pages = browser.contexts().filter((c) => !before.has(c)).flatMap((c) => c.pages());
      await Promise.all(pages.map((p, i) => p.screenshot({ path: join(OUT, n, `failure-${i}.png`), fullPage: true }).catch(() => {})));
      throw err;
    }
  }));
  results.forEach((res, i) => {
    if (res.status === 'fulfilled') {
      console.log(`${res.value.r ? 'SKIP' : 'ok  '} ${names[i]} (${(res.value.ms / 1000).toFixed(1)}s)${res.value.r ? `: ${res.value.r}` : ''}`);
    } else {
      failed += 1;
      console.log(`FAIL ${names[i]}: ${res.reason && res.reason.stack ? res.reason.stack : res.reason}`);
    }
  });
  await browser.close();
  stopServers();
  console.log(`browser tests: ${names.length - failed}/${names.length} passed in ${((Date.now() - t0) / 1000).toFixed(1)}s; screenshots in ${OUT}`);
  return failed ? 1 : 0;
}

main().then((rc) => process.exit(rc), (err) => {
  console.error(err);
  stopServers();
  process.exit(1);
});

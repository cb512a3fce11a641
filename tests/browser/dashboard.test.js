#!/usr/bin/env node
// The operator dashboard in a real browser (issue 8): starts a real tenured
// on 127.0.0.1 with the manual clock, seeds it through the HTTP API, opens
// the page at `/` in Debian's chromium (headless, driven by playwright-core)
// and checks that every number the page shows equals GET /v1/dashboard's,
// that it refreshes live, that the token leaves the address bar, and that
// a refused token and a node that went away are shown as errors. Saves a
// screenshot of the dashboard.
//
//   node tests/browser/dashboard.test.js --tenured build/nodes/tenured \
//     [--screenshot docs/dashboard.png] [--chromium /usr/bin/chromium]
//
// Exit codes: 0 passed, 1 failed, 77 skipped (no chromium or no
// playwright-core: `npm ci --prefix tests/browser`).
//
// No fixed sleeps: every wait is for a condition, with a deadline.
'use strict';

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');

// -- arguments ------------------------------------------------------------------

function arg(name, fallback) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const tenured = arg('tenured', process.env.TENURED
  || path.join(root, 'build', 'nodes', 'tenured'));
const chromiumPath = arg('chromium', process.env.CHROMIUM || '/usr/bin/chromium');
const screenshot = path.resolve(arg('screenshot', process.env.DASHBOARD_SCREENSHOT
  || path.join(os.tmpdir(), 'tenure-dashboard.png')));
const config = arg('config', path.join(root, 'config', 'tenured.conf'));

function skip(why) {
  console.log('dashboard browser test: SKIPPED: ' + why);
  process.exit(77);
}

let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (err) {
  skip('playwright-core is not installed (npm ci --prefix tests/browser)');
}
if (!fs.existsSync(chromiumPath)) skip(chromiumPath + ' does not exist');
if (!fs.existsSync(tenured)) {
  console.error('no tenured at ' + tenured);
  process.exit(1);
}

// -- small tools ----------------------------------------------------------------

const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');
const hex = (n) => crypto.randomBytes(n).toString('hex');

function check(cond, message) {
  if (!cond) throw new Error(message);
}

/// Polls `probe` until it returns a truthy value or `ms` pass.
async function eventually(probe, ms, what) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last: ${last}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// -- the node -------------------------------------------------------------------

function startNode(data) {
  const proc = spawn(tenured, ['--config', config, '--data', data,
    '--http-port', '0', '--shell-port', '0', '--clock', 'manual',
    '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const port = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk;
      const m = /listening http=127\.0\.0\.1:(\d+)/.exec(output);
      if (m) resolve(Number(m[1]));
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) =>
      reject(new Error(`tenured exited with ${code}: ${output}`)));
    setTimeout(() => reject(new Error('tenured did not start in 30 s: '
      + output)), 30000).unref();
  });
  return { proc, port, output: () => output };
}

async function stopNode(node) {
  if (node.proc.exitCode !== null) return node.proc.exitCode;
  const exited = new Promise((r) => node.proc.on('exit', (code) => r(code)));
  node.proc.kill('SIGTERM');
  const timeout = new Promise((r) => setTimeout(() => r('timeout'), 20000).unref());
  const code = await Promise.race([exited, timeout]);
  if (code === 'timeout') node.proc.kill('SIGKILL');
  return code;
}

class Api {
  constructor(port, token) {
    this.base = `http://127.0.0.1:${port}`;
    this.token = token;
  }

  async call(method, target, body, type) {
    const headers = { Authorization: 'Bearer ' + this.token };
    if (body !== undefined) headers['Content-Type'] = type || 'application/json';
    const res = await fetch(this.base + target, {
      method, headers,
      body: body === undefined ? undefined
        : (typeof body === 'string' ? body : JSON.stringify(body)),
    });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch (err) { json = null; }
    return { status: res.status, body: json, text };
  }

  get(target) { return this.call('GET', target); }
  post(target, body, type) { return this.call('POST', target, body, type); }

  /// The body of a 200 or 201 answer; throws on any other.
  async ok(method, target, body, type) {
    const r = await this.call(method, target, body, type);
    check(r.status === 200 || r.status === 201,
      `${method} ${target} -> ${r.status} ${r.text.slice(0, 300)}`);
    return r.body;
  }
}

// -- seeding --------------------------------------------------------------------

function application(program, n) {
  const org = `${program}-org-${hex(3)}`;
  const site = `https://${org}.example.org`;
  const body = {
    program,
    applicant: { name: 'Ada Lovelace', email: `member${n}@${org}.example.org`,
      job_title: 'Maintainer', country: 'DE' },
    organisation: { name: org, country: 'DE', website: site },
    hosting: 'saas', seats: 25, support: 'without', term: '1y',
  };
  if (program === 'edu') {
    body.channel = 'sheerid';
    body.edu = { institution: org, level: 'university' };
  } else if (program === 'oss') {
    body.channel = 'sheerid';
    body.oss = { project_name: org, description: 'A compiler for a small language',
      public_url: site, license: 'MIT', public_projects: 3, private_projects: 0,
      attests_not_for_profit: true };
  } else {
    body.channel = 'marketo';
    body.startup = { company_website: site, founded_year: 2023, employees: 12,
      funding_stage: 'seed' };
  }
  return body;
}

async function nodeNow(admin) {
  const r = await admin.ok('GET', '/v1/node');
  return Date.parse(r.node.now);
}

async function paidSubscription(admin, startMs, endMs) {
  const org = `paid-org-${hex(3)}`;
  const r = await admin.ok('POST', '/v1/subscriptions', {
    organisation: { name: org, country: 'US', website: `https://${org}.example.com` },
    plan: 'paid', seats: 50, start: new Date(startMs).toISOString(),
    end: new Date(endMs).toISOString(), contact_email: `admin@${org}.example.com`,
    sku: 'self-managed-ultimate', hosting: 'self_managed' });
  return r.id;
}

/// A week of activity: applications every day, bookings, a few compliance
/// cases, emergency licenses.
async function seed(admin) {
  const codes = (n) => Array.from({ length: n }, () => 'BRW-' + hex(5)).join('\n') + '\n';
  await admin.ok('POST', '/v1/coupons/edu/import', codes(40), 'text/csv');
  await admin.ok('POST', '/v1/coupons/oss/import', codes(12), 'text/csv');
  await admin.ok('POST', '/v1/coupons/startups/import', codes(9), 'text/csv');
  const day = 86400000;
  let n = 0;
  for (let d = 0; d < 6; d++) {
    for (const [program, count] of [['edu', 1 + (d % 3)], ['oss', d % 2],
      ['startups', d % 3 === 0 ? 2 : 1]]) {
      for (let i = 0; i < count; i++) {
        const app = await admin.ok('POST', '/v1/applications', application(program, ++n));
        // Startups go to the review queue: approve most, reject some.
        if (program === 'startups')
          await admin.ok('POST', '/v1/reviews/' + app.id,
            { decision: i === 0 && d % 2 === 0 ? 'approve' : 'reject',
              reason: 'browser test' });
      }
    }
    await admin.ok('POST', '/v1/admin/clock', { advance: '1d' });
  }
  const now = await nodeNow(admin);
  // Compliance cases in their cure period.
  for (let i = 0; i < 3; i++) {
    const sub = await paidSubscription(admin, now - 30 * day, now + 300 * day);
    await admin.ok('POST', `/v1/subscriptions/${sub}/compliance-cases`,
      { reason: 'seats shared with a for-profit', curable: true });
    await admin.ok('POST', '/v1/admin/clock', { advance: '2d' });
  }
  // Emergency licenses for paid plans whose grace period just ended.
  for (const users of [25, 40]) {
    const t = await nodeNow(admin);
    const sub = await paidSubscription(admin, t - 380 * day, t - 15 * day);
    await admin.ok('POST', '/v1/emergency-licenses', { subscription_id: sub,
      users, recipient_email: 'oncall@customer.example.com',
      ticket_url: 'https://support.example.com/tickets/4711' });
  }
  // What came due has fired when the clock answers.
  await admin.ok('POST', '/v1/admin/clock', { advance: '1s' });
}

/// Outreach (seed 003): accounts by CSV, an onboarding email to them, and
/// some of its emails opened and clicked through their tracked addresses,
/// read from the mail directory like a recipient's mail client would.
async function seedOutreach(admin, data) {
  const lines = ['account_ref,account_name,segment,hosting,stage,contact_name,email,roles'];
  for (let i = 0; i < 6; i++)
    lines.push(`crm-${i},Customer ${i},tech_touch,${i % 2 ? 'self_managed' : 'saas'},`
      + `onboarding,Admin ${i},admin${i}@c${i}.example,admin`,
    `crm-${i},Customer ${i},tech_touch,${i % 2 ? 'self_managed' : 'saas'},`
      + `onboarding,Owner ${i},owner${i}@c${i}.example,owner`);
  await admin.ok('POST', '/v1/accounts/import', lines.join('\n') + '\n', 'text/csv');
  const prg = await admin.ok('POST', '/v1/outreach/programs', {
    name: 'Welcome', kind: 'email', stage: 'onboarding', segments: ['tech_touch'],
    links: ['https://docs.example/start'],
    steps: [{ subject: 'Welcome, {{account}}', body: 'Hello {{name}}: {{link_1}}' }] });
  await admin.ok('POST', `/v1/outreach/programs/${prg.id}/launch`, {});
  // 3 SaaS accounts x 2 + 3 self-managed x 1 (Owners only on SaaS).
  const mailDir = path.join(data, 'mail');
  const mails = () => (fs.existsSync(mailDir) ? fs.readdirSync(mailDir) : [])
    .filter((f) => f.endsWith('.eml'))
    .map((f) => fs.readFileSync(path.join(mailDir, f), 'utf8'))
    .filter((t) => t.includes('X-Tenure-Template: outreach'));
  await eventually(() => mails().length === 9, 20000, 'the outreach emails');
  const unqp = (t) => t.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g,
    (_, h) => String.fromCharCode(parseInt(h, 16)));
  const urls = mails().map((t) => {
    const text = unqp(t);
    return { open: /http:\/\/127\.0\.0\.1:\d+\/v1\/track\/open\/[A-Za-z0-9_.]+/.exec(text)[0],
      click: /http:\/\/127\.0\.0\.1:\d+\/v1\/track\/click\/[A-Za-z0-9_.]+\?link=1/.exec(text)[0] };
  });
  for (let i = 0; i < 5; i++) await fetch(urls[i].open);
  for (let i = 3; i < 7; i++) await fetch(urls[i].click, { redirect: 'manual' });
  return prg.id;
}

// -- what the page must show ----------------------------------------------------

const PROGRAMS = ['edu', 'oss', 'startups'];

function fmt(x, digits) {
  if (x === null || x === undefined) return '—';
  return Number.isInteger(x) ? String(x) : x.toFixed(digits === undefined ? 1 : digits);
}

/// The text the element with key `k` must show, from the API's answer
/// `d`; undefined for a key the test does not know.
function expected(k, d) {
  const a = d.applications;
  let m;
  if (k === 'now') return d.now;
  if (k === 'apps.total') return fmt(a.total);
  if ((m = /^apps\.day\.(.+)$/.exec(k))) {
    const x = a.by_day.find((e) => e.date === m[1]);
    return x && fmt(PROGRAMS.reduce((t, p) => t + x[p], 0));
  }
  if ((m = /^apps\.state\.(.+)$/.exec(k)))
    return fmt(PROGRAMS.reduce((t, p) => t + a.programs[p].by_state[m[1]], 0));
  if ((m = /^apps\.(edu|oss|startups)\.total$/.exec(k)))
    return fmt(a.programs[m[1]].total);
  if ((m = /^apps\.(edu|oss|startups)\.(.+)$/.exec(k)))
    return fmt(a.programs[m[1]].by_state[m[2]]);
  if ((m = /^coupons\.(\w+)\.(\w+)$/.exec(k))) {
    const c = d.coupons.find((x) => x.program === m[1]);
    if (!c) return undefined;
    if (m[2] === 'runway_days')
      return c.runway_days === null ? 'no bookings' : fmt(c.runway_days);
    return fmt(c[m[2]]);
  }
  if (k === 'timers.total') return fmt(d.timers.total);
  if (k === 'timers.overdue') return fmt(d.timers.overdue);
  if ((m = /^timers\.kind\.(.+)$/.exec(k))) return fmt(d.timers.by_kind[m[1]]);
  if ((m = /^timers\.day\.(.+)$/.exec(k))) {
    const x = d.timers.by_day.find((e) => e.date === m[1]);
    return x && fmt(x.total);
  }
  if (k === 'cases.open') return fmt(d.compliance_cases.open);
  if (k === 'cases.overdue') return fmt(d.compliance_cases.overdue);
  if ((m = /^cases\.item\.(.+)\.days_left$/.exec(k))) {
    const x = d.compliance_cases.items.find((e) => e.id === m[1]);
    if (!x) return undefined;
    return x.deadline === null ? 'no deadline'
      : `${fmt(x.days_left)} d (${x.deadline.slice(0, 10)})`;
  }
  const e = d.emergency_licenses;
  if (k === 'em.count') return fmt(e.count);
  if (k === 'em.users') return fmt(e.users);
  if ((m = /^em\.day\.(.+)$/.exec(k))) {
    const x = e.by_day.find((y) => y.date === m[1]);
    return x && fmt(x.count);
  }
  if ((m = /^em\.item\.(.+)\.(users|days)$/.exec(k))) {
    const x = e.items.find((y) => y.id === m[1]);
    return x && fmt(x[m[2]]);
  }
  if (k === 'outreach.none')
    return d.outreach.programs.length === 0 ? 'no outreach programs' : undefined;
  if ((m = /^outreach\.(.+)\.(sent|opened|clicked|bounced|responses)$/.exec(k))) {
    const p = d.outreach.programs.find((x) => x.id === m[1]);
    return p && fmt(p.rates[m[2]]);
  }
  if ((m = /^outreach\.(.+)\.(open_rate|click_rate|bounce_rate)$/.exec(k))) {
    const p = d.outreach.programs.find((x) => x.id === m[1]);
    return p && `${fmt(p.rates[m[2]] * 100, 1)} %`;
  }
  return undefined;
}

/// Keys the page must show for `d`, whatever else it shows.
function required(d) {
  const keys = ['now', 'apps.total', 'timers.total', 'timers.overdue',
    'cases.open', 'cases.overdue', 'em.count', 'em.users'];
  for (const p of PROGRAMS) {
    keys.push(`apps.${p}.total`);
    for (const s of Object.keys(d.applications.programs[p].by_state))
      keys.push(`apps.${p}.${s}`);
  }
  for (const x of d.applications.by_day)
    if (PROGRAMS.some((p) => x[p] > 0)) keys.push('apps.day.' + x.date);
  for (const c of d.coupons)
    for (const f of ['available', 'reserved', 'redeemed', 'bookings_30d', 'runway_days'])
      keys.push(`coupons.${c.program}.${f}`);
  for (const k of Object.keys(d.timers.by_kind)) keys.push('timers.kind.' + k);
  for (const x of d.timers.by_day) if (x.total > 0) keys.push('timers.day.' + x.date);
  for (const x of d.compliance_cases.items) keys.push(`cases.item.${x.id}.days_left`);
  for (const x of d.emergency_licenses.items) keys.push(`em.item.${x.id}.users`);
  for (const x of d.emergency_licenses.by_day) if (x.count > 0) keys.push('em.day.' + x.date);
  if (d.outreach.programs.length === 0) keys.push('outreach.none');
  for (const p of d.outreach.programs)
    for (const f of ['sent', 'opened', 'clicked', 'bounced', 'responses',
      'open_rate', 'click_rate', 'bounce_rate'])
      keys.push(`outreach.${p.id}.${f}`);
  return keys;
}

async function shownNumbers(page) {
  return page.$$eval('[data-k]', (els) => els.map((e) => [e.getAttribute('data-k'),
    e.textContent.trim()]));
}

function compare(shown, d) {
  const problems = [];
  const seen = new Set();
  for (const [k, text] of shown) {
    seen.add(k);
    const want = expected(k, d);
    if (want === undefined) problems.push(`the page shows ${k} = "${text}", `
      + 'which the API does not have');
    else if (text !== want) problems.push(`${k}: page "${text}", API "${want}"`);
  }
  for (const k of required(d))
    if (!seen.has(k)) problems.push(`the page does not show ${k}`);
  return problems;
}

// -- the test -------------------------------------------------------------------

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tenure-browser-'));
  const data = path.join(dir, 'data');
  fs.mkdirSync(data);
  const adminToken = hex(32);
  const readerToken = hex(32);
  fs.writeFileSync(path.join(data, 'keys.json'), JSON.stringify({ keys: [
    { name: 'browser-admin', token_sha256: sha256(adminToken), scopes: ['admin'] },
    { name: 'browser-reader', token_sha256: sha256(readerToken), scopes: ['read'] },
  ] }), { mode: 0o600 });
  const node = startNode(data);
  let browser;
  let ok = false;
  try {
    const port = await node.port;
    const admin = new Api(port, adminToken);
    const reader = new Api(port, readerToken);
    await seed(admin);
    const outreach = await seedOutreach(admin, data);
    const view = await admin.ok('GET', `/v1/outreach/programs/${outreach}`);
    check(view.counts.sent === 9 && view.counts.opened === 7
      && view.counts.clicked === 4,
    'outreach counts: ' + JSON.stringify(view.counts));
    console.log('seeded the node on port ' + port);

    const args = ['--disable-gpu', '--disable-dev-shm-usage'];
    if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true,
      args, timeout: 60000 });
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 },
      deviceScaleFactor: 1 });
    const page = await context.newPage();
    page.setDefaultTimeout(20000);
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text()))
        pageErrors.push(m.text());
    });

    // The page, its token in the fragment (never sent to the server).
    await page.goto(`http://127.0.0.1:${port}/#token=${readerToken}&refresh=1`);
    await page.waitForFunction(() =>
      document.getElementById('state').textContent === 'live');
    check(!page.url().includes(readerToken), 'the token stayed in the address bar: '
      + page.url());
    check(await page.evaluate(() => sessionStorage.getItem('tenure.dashboard.token'))
      === readerToken, 'the token is not in sessionStorage');

    // Every number shown equals the API's. The node's state does not move
    // (manual clock, everything due has fired); the page polls every second,
    // so compare once it has drawn after our own request.
    const api = await reader.ok('GET', '/v1/dashboard');
    const apiAt = Date.now();
    await page.waitForFunction((t) =>
      Number(document.body.getAttribute('data-refreshed')) > t, apiAt);
    const shown = await shownNumbers(page);
    const problems = compare(shown, api);
    check(problems.length === 0, 'the page and the API differ:\n  '
      + problems.join('\n  '));
    check(api.applications.total > 10 && api.emergency_licenses.count === 2
      && api.compliance_cases.open === 3, 'the seed did not land: '
      + JSON.stringify(api.applications.programs));
    console.log(`the page shows ${shown.length} numbers, all equal to the API's`);

    // The screenshot, of the whole dashboard.
    fs.mkdirSync(path.dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log('screenshot: ' + screenshot);

    // Live: a new application shows up without reloading.
    const before = api.applications.total;
    await admin.ok('POST', '/v1/applications', application('edu', 999));
    await page.waitForFunction((n) => document.querySelector('[data-k="apps.total"]')
      .textContent === String(n), before + 1);
    console.log('refreshed live: ' + (before + 1) + ' applications');

    // A refused token: said so, and the token is asked for.
    const other = await context.newPage();
    await other.goto(`http://127.0.0.1:${port}/#token=not-a-token`);
    await other.waitForFunction(() => {
      const e = document.getElementById('error');
      return !e.hidden && e.textContent.includes('401');
    });
    check(await other.isVisible('#login'), 'no token form after a 401');
    await other.close();

    // The node goes away: the page says it cannot reach it.
    const code = await stopNode(node);
    check(code === 0, 'tenured did not stop cleanly: ' + code);
    await page.waitForFunction(() => {
      const e = document.getElementById('error');
      return !e.hidden && e.textContent.includes('Cannot reach the node');
    });
    check(await page.textContent('#state') === 'stale', 'the state is not stale');
    check(pageErrors.length === 0, 'the page reported errors:\n  '
      + pageErrors.join('\n  '));
    ok = true;
    console.log('dashboard browser test: PASSED');
  } finally {
    if (browser) await browser.close().catch(() => {});
    await stopNode(node);
    if (!ok) console.error('--- tenured output ---\n' + node.output().slice(-4000));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => {
  console.error('dashboard browser test: FAILED: ' + (err && err.stack || err));
  process.exit(1);
});

// The staff console end to end, in real headless Chromium (Debian's `chromium`, driven by
// playwright-core) against a real `chiiki demo --lottery-pending` on a free local port: sign
// in, approve a store, run the lottery, refund a payment, download the monthly Excel and read
// it back, define a points event and open its venue and printed codes, a viewer refused, a
// forged form refused. A screenshot of each page lands in docs/console/.
//
//   CHIIKI_BIN=target/debug/chiiki npm test      (from tests/console, after npm ci)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import ExcelJS from 'exceljs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const bin = resolve(root, process.env.CHIIKI_BIN ?? 'target/debug/chiiki');
const shots = join(root, 'docs', 'console');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

let server;
let base;
let browser;
let workdir;

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

async function waitReady(url, child) {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`chiiki demo exited with ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('chiiki demo did not become ready');
}

before(async () => {
  workdir = mkdtempSync(join(tmpdir(), 'chiiki-console-'));
  mkdirSync(shots, { recursive: true });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(
    bin,
    ['demo', '--lottery-pending', '--listen', `127.0.0.1:${port}`, '--file', join(workdir, 'demo.db')],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await waitReady(base, server);
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

async function signIn(login, password) {
  const context = await browser.newContext({ locale: 'ja-JP', viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  await page.goto(`${base}/console/login`);
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL('**/console/dashboard'), page.click('button[type=submit]')]);
  return { context, page };
}

const shot = (page, name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

/** A store applies through the public API, as the application form would. */
async function storeApplies() {
  const res = await fetch(`${base}/api/v1/store-applications`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'みどり書店 笠懸店',
      kana: 'みどりしょてんかさかけてん',
      romanised_name: 'MIDORI SHOTEN KASAKAKE',
      industry: 'books',
      size_class: 'small',
      district: '笠懸町',
      postal_code: '379-2311',
      address: '笠懸町阿左美1-2-3',
      representative: '緑 太郎',
      contact_name: '緑 次郎',
      phone: '0277-11-2222',
      email: 'books@example.jp',
      bank_account: {
        bank_code: '0128',
        branch_code: '141',
        account_type: 'ordinary',
        account_number: '7654321',
        holder_name: 'ミドリショテン',
      },
    }),
  });
  assert.equal(res.status, 201, await res.text());
}

test('an administrator runs the programme from the console', async () => {
  const login = await browser.newPage();
  await login.goto(`${base}/console/login`);
  await shot(login, 'login');
  await login.close();

  const { context, page } = await signIn('admin', 'chiiki-demo-admin');
  assert.match(await page.textContent('h1'), /概況/);
  await shot(page, 'dashboard');

  // Approve a store that applied.
  await storeApplies();
  await page.goto(`${base}/console/stores?status=pending`);
  await shot(page, 'stores');
  await page.click('text=みどり書店 笠懸店');
  await shot(page, 'store');
  await Promise.all([page.waitForURL(/done=approved/), page.click('#approve')]);
  assert.match(await page.textContent('#store-status'), /承認済み/);

  // The lottery: commit to a new seed, then reveal it to draw.
  await page.goto(`${base}/console/sale`);
  assert.match(await page.textContent('#sale-phase'), /抽選待ち/);
  await Promise.all([page.waitForLoadState('load'), page.click('#commit')]);
  const seed = (await page.textContent('#new-seed')).trim();
  assert.match(seed, /^[0-9a-f]{64}$/);
  await page.fill('#seed', seed);
  await Promise.all([page.waitForURL(/done=drawn/), page.click('#draw')]);
  assert.match(await page.textContent('#draw-summary'), /当選 \d+人/);
  await shot(page, 'sale');

  // Refund part of a payment.
  await page.goto(`${base}/console/payments`);
  await shot(page, 'payments');
  await page.click('table a[href^="/console/payments/"]');
  await page.fill('input[name=amount]', '100');
  await page.fill('input[name=reason]', '金額の打ち間違い');
  await Promise.all([page.waitForURL(/done=refunded/), page.click('form[action$="/refund"] button')]);
  assert.equal((await page.textContent('#payment-refunded')).trim(), '¥100');
  await shot(page, 'payment');

  // The help desk finds the demo resident by phone number.
  await page.goto(`${base}/console/residents?kind=phone&q=090-0000-0001`);
  await shot(page, 'residents');
  await page.click('table a[href^="/console/residents/"]');
  await shot(page, 'resident');

  await page.goto(`${base}/console/settlement`);
  await shot(page, 'settlement');

  // The monthly report: the Excel file opens and agrees with the dashboard's own count.
  await page.goto(`${base}/console/dashboard`);
  const monthPayments = Number(
    (await page.locator('.card', { hasText: '決済の件数' }).locator('.sub').textContent()).replace(/[^0-9]/g, ''),
  );
  await page.goto(`${base}/console/reports`);
  await shot(page, 'reports');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-xlsx')]);
  const file = join(workdir, 'report.xlsx');
  await download.saveAs(file);
  const book = new ExcelJS.Workbook();
  await book.xlsx.readFile(file);
  const names = book.worksheets.map((sheet) => sheet.name);
  assert.ok(names.length >= 5, `sheets: ${names}`);
  const rows = [];
  book.worksheets[0].eachRow((row) => rows.push([row.getCell(1).value, row.getCell(2).value]));
  const countRow = rows.find((r) => String(r[0]).startsWith('決済件数'));
  assert.ok(countRow, `a payments row in ${JSON.stringify(rows)}`);
  assert.equal(Number(countRow[1]), monthPayments, JSON.stringify(countRow));

  // Everything above is in the audit log, whose chain is intact.
  await page.goto(`${base}/console/audit`);
  const log = await page.textContent('main');
  for (const action of ['console.login', 'store.approve', 'sale.commit', 'sale.draw', 'payment.refund', 'export.report_xlsx']) {
    assert.ok(log.includes(action), action);
  }
  assert.match(await page.textContent('#chain-state'), /改ざんは見つかりません/);
  await shot(page, 'audit');

  // A forged form (another site cannot know the session's token) is refused.
  const forged = await context.request.post(`${base}/console/sale/expire`, {
    form: { csrf: 'forged.0.token' },
    maxRedirects: 0,
  });
  assert.equal(forged.status(), 403);
  await context.close();
});

test('an operator defines a points event and opens its codes', async () => {
  const { context, page } = await signIn('operator', 'chiiki-demo-operator');
  await page.goto(`${base}/console/points`);
  assert.match(await page.textContent('#points-events'), /朝のラジオ体操/);
  await shot(page, 'points');

  // The form takes Japan's wall-clock time; the event runs from an hour ago until tomorrow.
  const jst = (ms) => new Date(ms + 9 * 3600 * 1000).toISOString().slice(0, 16);
  await page.fill('#event-form input[name=name]', '笠懸町 花いっぱい運動');
  await page.fill('#event-form input[name=place]', '笠懸公民館');
  await page.fill('#event-form textarea[name=description]', '花壇の植え付けに参加した方に付与します。');
  await page.fill('#event-form input[name=points]', '150');
  await page.fill('#event-form input[name=starts_at]', jst(Date.now() - 3600 * 1000));
  await page.fill('#event-form input[name=ends_at]', jst(Date.now() + 24 * 3600 * 1000));
  await page.fill('#event-form input[name=capacity]', '40');
  await Promise.all([page.waitForURL(/done=created/), page.click('#event-submit')]);
  assert.equal((await page.textContent('#event-name')).trim(), '笠懸町 花いっぱい運動');
  assert.match(await page.textContent('#event-capacity'), /40/);
  await shot(page, 'points-event');

  // A refused change says why, in Japanese, and keeps what was typed.
  await page.fill('#event-form input[name=points]', '0');
  await Promise.all([page.waitForLoadState('load'), page.click('#event-submit')]);
  assert.match(await page.textContent('#event-form-error'), /ポイント/);
  assert.equal(await page.inputValue('#event-form input[name=points]'), '0');

  // The venue's tablet shows the rotating code the app scans.
  await page.goto(page.url().replace(/\?.*$/, ''));
  const venueHref = await page.getAttribute('#venue-link', 'href');
  const venue = await context.newPage();
  await venue.goto(`${base}${venueHref}`);
  await venue.waitForSelector('#code svg');
  assert.match(await venue.textContent('h1'), /花いっぱい運動/);
  await shot(venue, 'venue');
  await venue.close();

  // The printed code for a poster: a printable page, and on record.
  await Promise.all([page.waitForLoadState('load'), page.click('#printed-code')]);
  assert.equal(await page.locator('#printed svg').count(), 1);
  assert.match(await page.textContent('#printed-payload'), /\S{20,}/);
  await shot(page, 'points-printed');
  await page.goto(`${base}/console/audit`);
  const log = await page.textContent('main');
  for (const action of ['points.event_create', 'points.printed_code']) {
    assert.ok(log.includes(action), action);
  }
  await context.close();
});

test('a viewer sees the pages but cannot change anything', async () => {
  const { context, page } = await signIn('viewer', 'chiiki-demo-viewer');
  await page.goto(`${base}/console/payments`);
  await page.click('table a[href^="/console/payments/"]');
  assert.equal(await page.locator('form[action$="/refund"]').count(), 0);
  // Even a well-formed request with the viewer's own valid token is refused on the server.
  const csrf = await page.getAttribute('input[name=csrf]', 'value');
  const res = await context.request.post(`${page.url()}/refund`, {
    form: { csrf, amount: '100', reason: 'テスト', refunded_seen: '0' },
    maxRedirects: 0,
  });
  assert.equal(res.status(), 403);
  assert.match(await res.text(), /権限|許可|できません/);
  await context.close();
});

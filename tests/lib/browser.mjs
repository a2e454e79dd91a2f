// Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) for
// the hosted connect-flow tests, and checks shared by every connect page.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';

import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Deadline for any single browser step (navigation, click, wait). */
export const BROWSER_TIMEOUT_MS = 10_000;

/**
 * Launches Chromium with a private user-data dir. Returns {context, page(),
 * close()}: `page()` clears every cookie and returns the browser's one tab on
 * about:blank, so that each test starts without a provider session (event
 * listeners a test added to the tab stay: keep them harmless); `close()`
 * closes the browser and removes the dir (call it in after()).
 */
export async function launchBrowser() {
  assert.ok(fs.existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tr-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30_000,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  context.setDefaultTimeout(BROWSER_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(BROWSER_TIMEOUT_MS);
  let current;
  return {
    context,
    async page() {
      await context.clearCookies();
      if (!current || current.isClosed()) current = context.pages()[0] || await context.newPage();
      await current.goto('about:blank');
      return current;
    },
    async close() {
      await Promise.race([
        context.close().catch(() => {}),
        new Promise((r) => setTimeout(r, 10_000)),
      ]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------
// Connect pages

/** Reads the result page shown in `page`: {status, message, errorCode}. */
export async function readResult(page) {
  const result = page.locator('#result');
  await result.waitFor({ state: 'attached' });
  const status = await result.getAttribute('data-status');
  const message = ((await page.locator('#message').count()) ? await page.locator('#message').innerText() : undefined);
  const errorCode = ((await page.locator('#error-code').count()) ? (await page.locator('#error-code').innerText()).trim() : undefined);
  return { status, message, errorCode };
}

/**
 * Asserts the headers every connect page must send (CONTRACT section 4):
 * no-store, X-Frame-Options DENY, Referrer-Policy no-referrer and a CSP with
 * default-src 'none'. `headers` is a fetch Headers or a plain object.
 */
export function assertPageHeaders(headers, where = 'page') {
  const get = (n) => (typeof headers.get === 'function' ? headers.get(n) : headers[n]);
  const cc = get('cache-control') || '';
  assert.match(cc, /(^|,)\s*no-store\s*(,|$)/i, `${where}: Cache-Control should include no-store, got "${cc}"`);
  assert.equal((get('x-frame-options') || '').toUpperCase(), 'DENY', `${where}: X-Frame-Options`);
  assert.equal((get('referrer-policy') || '').toLowerCase(), 'no-referrer', `${where}: Referrer-Policy`);
  const csp = get('content-security-policy') || '';
  const directives = csp.split(';').map((d) => d.trim().split(/\s+/));
  const def = directives.find((d) => d[0].toLowerCase() === 'default-src');
  assert.ok(def && def.length === 2 && def[1] === "'none'",
    `${where}: Content-Security-Policy should have default-src 'none', got "${csp}"`);
}

/**
 * Asserts that an HTML page references no external URL: no src/href/action/
 * srcset/poster/data attribute and no CSS url() pointing at http(s):// or
 * protocol-relative //…; form actions must be relative.
 */
export function assertNoExternalUrls(html, where = 'page') {
  const attr = /\s(src|href|action|srcset|poster|data|formaction|background|cite)\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+))/gi;
  let m;
  while ((m = attr.exec(html))) {
    const value = (m[3] ?? m[4] ?? m[5] ?? '').trim();
    assert.ok(!/^(?:[a-z][a-z0-9+.-]*:)?\/\//i.test(value) && !/^(?:javascript|data):/i.test(value),
      `${where}: ${m[1]}="${value}" points outside the page`);
  }
  const css = /url\(\s*['"]?\s*((?:https?:)?\/\/[^'")\s]*)/gi;
  assert.ok(!css.test(html), `${where}: CSS url() points outside the page`);
  assert.doesNotMatch(html, /<(?:script|link|iframe|img|object|embed)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i,
    `${where}: external resource`);
}

/**
 * Finds the first element with id `id` in `html` (no DOM; enough for the
 * small pages toolregistry renders). Returns {tag, attrs, text} or undefined.
 */
export function findElement(html, id) {
  const re = new RegExp(`<([a-zA-Z][a-zA-Z0-9-]*)\\b([^>]*\\sid\\s*=\\s*["']${id}["'][^>]*)>`, 'i');
  const m = re.exec(html);
  if (!m) return undefined;
  const attrs = {};
  const a = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+)))?/g;
  let x;
  while ((x = a.exec(m[2]))) attrs[x[1].toLowerCase()] = decodeEntities(x[3] ?? x[4] ?? x[5] ?? '');
  const tag = m[1].toLowerCase();
  const rest = html.slice(m.index + m[0].length);
  const close = rest.search(new RegExp(`</${tag}\\s*>`, 'i'));
  const inner = close >= 0 ? rest.slice(0, close) : '';
  return { tag, attrs, text: decodeEntities(inner.replace(/<[^>]*>/g, '')).trim() };
}

function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|#39);/gi, (all, e) => {
    const l = e.toLowerCase();
    if (l === 'amp') return '&';
    if (l === 'lt') return '<';
    if (l === 'gt') return '>';
    if (l === 'quot') return '"';
    if (l === 'apos' || l === '#39') return "'";
    if (l.startsWith('#x')) return String.fromCodePoint(parseInt(l.slice(2), 16));
    return String.fromCodePoint(parseInt(l.slice(1), 10));
  });
}

/** The result page in an HTML string: {status, message, errorCode} (undefined when absent). */
export function parseResult(html) {
  const r = findElement(html, 'result');
  if (!r) return undefined;
  return {
    status: r.attrs['data-status'],
    message: findElement(html, 'message')?.text,
    errorCode: findElement(html, 'error-code')?.text,
  };
}

/** The hidden csrf value of the connect form in an HTML string. */
export function parseCsrf(html) {
  const m = /<input\b[^>]*\bname\s*=\s*["']csrf["'][^>]*>/i.exec(html);
  if (!m) return undefined;
  const v = /\bvalue\s*=\s*("([^"]*)"|'([^']*)')/i.exec(m[0]);
  return v ? decodeEntities(v[2] ?? v[3]) : undefined;
}

/** Parses the query of a URL string into a plain object (last value wins). */
export function queryOf(url) {
  return Object.fromEntries(new URL(url).searchParams);
}

/**
 * Clicks `selector` (a submit button) and waits until the browser shows the
 * next document (the form re-shown, a result page, or the app): the old
 * document is marked first, and the wait ends when a complete document without
 * the mark is there.
 */
export async function submitAndWait(page, selector = '#submit') {
  await page.evaluate(() => { window.__trOldDocument = true; });
  await page.locator(selector).click();
  await page.waitForFunction(() => window.__trOldDocument === undefined && document.readyState === 'complete',
    undefined, { timeout: BROWSER_TIMEOUT_MS, polling: 50 });
}

/** Asserts the form is shown again with a non-empty #error (role=alert); returns the error text. */
export async function assertFormError(page, where = 'form') {
  assert.equal(await page.locator('#connect-form').count(), 1, `${where}: the form should be shown again\n${(await page.content()).slice(0, 1500)}`);
  const err = page.locator('#error');
  assert.equal(await err.count(), 1, `${where}: #error missing\n${(await page.content()).slice(0, 1500)}`);
  assert.equal(await err.getAttribute('role'), 'alert', `${where}: #error should have role=alert`);
  const text = (await err.innerText()).trim();
  assert.ok(text.length > 0, `${where}: #error is empty`);
  assert.equal(await page.locator('#result').count(), 0, `${where}: a re-shown form is not a result page`);
  return text;
}

/**
 * GET a connect page with fetch (no redirect following): {status, headers,
 * html, csrf, location}.
 */
export async function fetchPage(url) {
  const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(BROWSER_TIMEOUT_MS) });
  const html = await res.text();
  return { status: res.status, headers: res.headers, html, csrf: parseCsrf(html), location: res.headers.get('location') };
}

/** POST a urlencoded form with fetch (no redirect following); same answer as fetchPage. */
export async function postForm(url, fields) {
  const res = await fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    signal: AbortSignal.timeout(BROWSER_TIMEOUT_MS),
  });
  const html = await res.text();
  return { status: res.status, headers: res.headers, html, csrf: parseCsrf(html), location: res.headers.get('location') };
}

/**
 * Asserts the connect form in an HTML string: form#connect-form, method post,
 * action "/connect/<token>", a hidden csrf, the given #field-<name> inputs
 * and #submit. Returns the csrf value.
 */
export function assertFormHtml(html, token, fieldIds, where = 'form') {
  const form = findElement(html, 'connect-form');
  assert.ok(form, `${where}: no #connect-form in\n${html.slice(0, 1500)}`);
  assert.equal(form.tag, 'form');
  assert.equal((form.attrs.method || '').toLowerCase(), 'post', `${where}: form method`);
  assert.equal(form.attrs.action, `/connect/${token}`, `${where}: form action must be the relative connect path`);
  const csrf = parseCsrf(html);
  assert.ok(csrf && csrf.length >= 16, `${where}: hidden csrf input missing or short: ${csrf}`);
  for (const id of fieldIds) assert.ok(findElement(html, id), `${where}: #${id} missing`);
  assert.ok(findElement(html, 'submit'), `${where}: #submit missing`);
  return csrf;
}

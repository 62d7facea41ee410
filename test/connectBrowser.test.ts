import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { REFRESH_COOKIE } from '../src/connect/refreshCookie.ts';
import { type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { PASSWORD, uniqueEmail } from './helpers/users.ts';
import { CHROMIUM_PATH } from './helpers/virtualAuthenticator.ts';

// A real browser (Debian's Chromium) calling the Connect port as a web app would: CORS
// preflights as Chromium sends them, and the refresh cookie mode — the page never holds a
// refresh token, yet refreshes and logs out.

type Answer = { status: number; body: Record<string, unknown> };
type Tokens = { accessToken?: string; refreshToken?: string };

describe('a browser page on the Connect port', () => {
  let gh: Gatehouse;
  let pages: Server;
  let browser: Browser;
  let appOrigin: string;
  let otherOrigin: string;
  let api: string;
  before(async () => {
    if (!existsSync(CHROMIUM_PATH)) {
      throw new Error(
        `this test needs Debian's chromium at ${CHROMIUM_PATH}: apt-get install -y chromium`,
      );
    }
    pages = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><meta charset="utf-8"><title>web app</title>');
    });
    await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
    const port = (pages.address() as AddressInfo).port;
    // Two origins of one server: the app's is allowed, the other is not.
    appOrigin = `http://localhost:${port}`;
    otherOrigin = `http://127.0.0.1:${port}`;
    gh = await startGatehouse({ CONNECT_CORS_ORIGINS: appOrigin, CONNECT_REFRESH_COOKIE: 'true' });
    api = `http://localhost:${gh.app.connectPort}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-sync'],
    });
  });
  after(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => pages?.close(() => resolve()));
    await gh?.stop();
  });

  it('keeps the refresh token out of page scripts: an HttpOnly cookie refreshes and logs out', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${appOrigin}/`);
    const run = await page.evaluate(
      async ({ api, email, password }) => {
        const post = async (method: string, body: unknown, token?: string) => {
          const r = await fetch(`${api}/gatehouse.auth.v1.AuthService/${method}`, {
            method: 'POST',
            credentials: 'include',
            headers: {
              'content-type': 'application/json',
              ...(token ? { authorization: `Bearer ${token}` } : {}),
            },
            body: JSON.stringify(body),
          });
          return { status: r.status, body: (await r.json()) as Record<string, unknown> };
        };
        const registered = await post('Register', { email, password });
        const refreshed = await post('Refresh', {});
        const access = (refreshed.body.tokens as { accessToken?: string } | undefined)?.accessToken;
        // Authorization is not a simple header: this call needs a preflight.
        const me = await post('GetCurrentUser', {}, access);
        const cookies = (globalThis as unknown as { document: { cookie: string } }).document.cookie;
        const loggedOut = await post('Logout', {});
        const afterLogout = await post('Refresh', {});
        return { registered, refreshed, me, cookies, loggedOut, afterLogout };
      },
      { api, email: uniqueEmail('browser'), password: PASSWORD },
    );
    const tokens = (a: Answer) => (a.body.tokens ?? {}) as Tokens;

    assert.equal(run.registered.status, 200, JSON.stringify(run.registered.body));
    assert.ok(tokens(run.registered).accessToken, 'the page gets its access token');
    assert.equal(tokens(run.registered).refreshToken, undefined, 'but no refresh token');
    assert.equal(run.refreshed.status, 200, JSON.stringify(run.refreshed.body));
    assert.ok(tokens(run.refreshed).accessToken);
    assert.notEqual(tokens(run.refreshed).accessToken, tokens(run.registered).accessToken);
    assert.equal(tokens(run.refreshed).refreshToken, undefined);
    assert.equal(run.me.status, 200, JSON.stringify(run.me.body));
    assert.doesNotMatch(run.cookies, /gatehouse/, 'document.cookie does not show it');
    assert.equal(run.loggedOut.status, 200, JSON.stringify(run.loggedOut.body));
    // After Logout the cookie is gone: Refresh has no token to use.
    assert.equal(run.afterLogout.status, 400, JSON.stringify(run.afterLogout.body));

    const stored = (await context.cookies(api)).find((c) => c.name === REFRESH_COOKIE);
    assert.equal(stored, undefined, 'Logout cleared the cookie');
    await context.close();
  });

  it('stores the cookie HttpOnly, Secure, SameSite=Strict, for the API origin only', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${appOrigin}/`);
    const status = await page.evaluate(
      async ({ api, email, password }) => {
        const r = await fetch(`${api}/gatehouse.auth.v1.AuthService/Register`, {
          method: 'POST',
          credentials: 'include',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email, password }),
        });
        return r.status;
      },
      { api, email: uniqueEmail('browser'), password: PASSWORD },
    );
    assert.equal(status, 200);
    const stored = (await context.cookies(api)).find((c) => c.name === REFRESH_COOKIE);
    assert.ok(stored, 'the browser kept the cookie');
    assert.equal(stored.httpOnly, true);
    assert.equal(stored.secure, true);
    assert.equal(stored.sameSite, 'Strict');
    assert.equal(stored.path, '/');
    assert.match(stored.value, /^ghr_/);
    assert.ok(stored.expires > Date.now() / 1000, 'expires with the refresh token');
    await context.close();
  });

  it('leaves calls without an Origin (servers, curl) as they are: the token is in the message', async () => {
    const email = uniqueEmail('server');
    const res = await fetch(`${api}/gatehouse.auth.v1.AuthService/Register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('set-cookie'), null);
    const body = (await res.json()) as { tokens?: Tokens };
    assert.match(body.tokens?.refreshToken ?? '', /^ghr_/);
  });

  it('a page of an origin not in CONNECT_CORS_ORIGINS cannot call', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${otherOrigin}/`);
    const outcome = await page.evaluate(async (api) => {
      try {
        const r = await fetch(`${api}/gatehouse.auth.v1.AuthService/GetJwks`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{}',
        });
        return `answered ${r.status}`;
      } catch (error) {
        return `blocked: ${(error as Error).name}`;
      }
    }, api);
    assert.equal(outcome, 'blocked: TypeError');
    await context.close();
  });
});

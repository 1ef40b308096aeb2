import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { INSPECTION_FORMAT_VERSION } from '../../../src/inspection/protocol.js';
import { toPlain } from '../../../src/inspection/serialize.js';
import { openPage, startTestInspector } from './support.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const secret = 'hunter2-SECRET-deep';

/** Everything a page receives after an app sent `record` (an inspection event of `type`). */
async function seen(type: string, record: Record<string, unknown>): Promise<string> {
  const server = await startTestInspector();
  cleanups.push(() => server.close());
  const ws = new WebSocket(server.wsUrl);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  cleanups.push(() => ws.close());
  ws.send(JSON.stringify({ type, sessionId: 'x:1', createdAt: '1', _version: INSPECTION_FORMAT_VERSION, id: null, ...record }));
  const page = await openPage(server);
  cleanups.push(() => page.close());
  await page.find((r) => r.type === type, type);
  return JSON.stringify(page.records);
}

const snapshotWith = (context: Record<string, unknown>) =>
  seen('@xstate.snapshot', { event: { type: 'login' }, snapshot: { status: 'active', value: 'in', context } });

describe('inspector server redaction', () => {
  it('removes a password nested 40 levels deep in an event', async () => {
    let payload: Record<string, unknown> = { password: secret };
    for (let i = 0; i < 40; i++) payload = { nested: payload };
    const text = await seen('@xstate.event', { event: { type: 'deep', payload } });
    expect(text).toContain('"type":"deep"');
    expect(text).not.toContain(secret);
  });

  it('removes a password in a member other than snapshot/event/data/sample/name', async () => {
    const text = await seen('@xstate.event', { event: { type: 'login' }, meta: { password: secret } });
    expect(text).toContain('"type":"login"');
    expect(text).not.toContain(secret);
  });

  it('removes an access token from a url fragment (OAuth implicit-flow callback)', async () => {
    const text = await snapshotWith({ location: 'https://app.example/callback#access_token=SECRET-fragment-1&token_type=bearer' });
    expect(text).toContain('app.example/callback');
    expect(text).not.toContain('SECRET-fragment-1');
  });

  it('removes refresh_token, password and client_secret query parameters', async () => {
    const text = await snapshotWith({
      refresh: 'https://auth.example/token?grant_type=refresh_token&refresh_token=SECRET-query-2',
      login: 'https://legacy.example/login?user=ann&password=SECRET-query-3',
      oauth: 'https://auth.example/token?client_id=app&client_secret=SECRET-query-4',
    });
    expect(text).toContain('auth.example/token');
    expect(text).not.toContain('SECRET-query-2');
    expect(text).not.toContain('SECRET-query-3');
    expect(text).not.toContain('SECRET-query-4');
  });

  it('removes a secret parameter that opens a form body or a bare query string', async () => {
    const text = await snapshotWith({ body: 'password=SECRET-form-1&user=ann', query: 'token=SECRET-form-2' });
    expect(text).toContain('user=ann');
    expect(text).not.toContain('SECRET-form-1');
    expect(text).not.toContain('SECRET-form-2');
  });

  it('removes credential headers and members named with a prefix or a hyphen (x-api-key, X-Auth-Token, newPassword)', async () => {
    const text = await snapshotWith({
      request: { headers: { 'x-api-key': 'SECRET-header-5', 'X-Auth-Token': 'SECRET-header-6' } },
      form: { user: 'ann', newPassword: 'SECRET-member-7' },
    });
    expect(text).toContain('"user":"ann"');
    expect(text).not.toContain('SECRET-header-5');
    expect(text).not.toContain('SECRET-header-6');
    expect(text).not.toContain('SECRET-member-7');
  });

  it('removes a number under a secret name (a numeric password)', async () => {
    const text = await snapshotWith({ form: { user: 'ann', password: 90210731 } });
    expect(text).toContain('"user":"ann"');
    expect(text).not.toContain('90210731');
  });

  it('removes the items of an array under a secret name (set-cookie headers)', async () => {
    const text = await snapshotWith({ headers: { 'set-cookie': ['sid=SECRET-cookie-8; HttpOnly'], 'content-type': 'text/html' } });
    expect(text).toContain('"content-type":"text/html"');
    expect(text).not.toContain('SECRET-cookie-8');
  });

  it("removes the whole password of a url's user-info, though it holds an unescaped @ (the last @ ends the user-info, as URL parsers read it)", async () => {
    const text = await snapshotWith({ url: 'wss://ann:SECRET-at-1@SECRET-at-2@feed.example/live', cache: 'redis://:SECRET-at-3@SECRET-at-4@cache:6379/0' });
    expect(text).toContain('wss://[redacted]@feed.example/live');
    expect(text).toContain('redis://[redacted]@cache:6379/0');
    expect(text).not.toContain('SECRET-at');
  });

  it('removes a secret member of a JSON text an app keeps as a string (a raw frame), and leaves a JSON text with no secret as it is', async () => {
    const text = await snapshotWith({ lastFrame: JSON.stringify({ type: 'auth', password: 'SECRET-json-1', headers: { 'x-api-key': 'SECRET-json-2' } }), shape: '{ "room": "lobby" }' });
    expect(text).toContain('\\"type\\":\\"auth\\"');
    expect(text).not.toContain('SECRET-json');
    expect(text).toContain('{ \\"room\\": \\"lobby\\" }');
  });

  it('removes a secret member of a JSON text cut short (a raw frame the message capture cut at 200 characters), or quoted inside other words', async () => {
    const frame = JSON.stringify({ type: 'auth', token: 'SECRET-cut-1', secret: 90210731, room: 'lobby', padding: 'x'.repeat(300) });
    const data = toPlain({ raw: frame }, { maxStringLength: 200 });
    const text = await seen('@socketchart.message', { name: 'feed', data, log: `refused {"type":"auth","password":"SECRET-cut-2"} at 12:00` });
    expect(text).toContain('\\"room\\":\\"lobby\\"');
    expect(text).toContain('refused');
    expect(text).not.toContain('SECRET-cut');
    expect(text).not.toContain('90210731');
  });
});

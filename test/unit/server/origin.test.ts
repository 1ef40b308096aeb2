import { expect, it } from 'vitest';
import { checkOrigin, normalizeOrigin, type OriginPolicy } from '../../../src/server/origin.js';

const listed = (...origins: string[]): OriginPolicy => ({ allowed: new Set(origins), allowMissing: false, allowNull: false });

it('normalizes an allowlist entry to its serialized origin: lower case, default port dropped', () => {
  expect(normalizeOrigin('HTTPS://App.Example.COM')).toBe('https://app.example.com');
  expect(normalizeOrigin('https://app.example.com:443')).toBe('https://app.example.com');
  expect(normalizeOrigin('http://localhost:5173/')).toBe('http://localhost:5173');
});

it('takes an app origin of a scheme of its own (Capacitor, Ionic, a browser extension), as the browser sends it', () => {
  expect(normalizeOrigin('capacitor://localhost')).toBe('capacitor://localhost');
  expect(normalizeOrigin('ionic://LocalHost')).toBe('ionic://localhost');
  expect(normalizeOrigin('chrome-extension://abcdefghijklmnop')).toBe('chrome-extension://abcdefghijklmnop');
  for (const entry of ['capacitor://localhost/app', 'capacitor://localhost?x', 'capacitor://*.local', 'capacitor:localhost', 'app:']) expect(normalizeOrigin(entry), entry).toBeUndefined();
  const policy = listed(normalizeOrigin('capacitor://localhost')!);
  expect([checkOrigin('capacitor://localhost', policy), checkOrigin('ionic://localhost', policy)]).toEqual([{ ok: true }, { ok: false, reason: 'Origin not allowed' }]);
});

it('refuses an allowlist entry that is more than an origin, or none', () => {
  for (const entry of ['https://a.test/app', 'https://a.test/?x=1', 'https://a.test/#top', 'https://user@a.test', 'https://:p@a.test', 'file:///', 'not a url', '']) {
    expect(normalizeOrigin(entry), entry).toBeUndefined();
  }
});

it('refuses an allowlist entry with a * wildcard host, which no browser sends as its Origin', () => {
  for (const entry of ['https://*.example.com', 'https://*', 'http://app.*.test:8080']) expect(normalizeOrigin(entry), entry).toBeUndefined();
});

it('accepts exactly the listed origins, in any case', () => {
  const policy = listed('https://app.example.com');
  expect(checkOrigin('https://app.example.com', policy)).toEqual({ ok: true });
  expect(checkOrigin('https://APP.example.com', policy)).toEqual({ ok: true });
  expect(checkOrigin('https://app.example.com:8443', policy)).toEqual({ ok: false, reason: 'Origin not allowed' });
  expect(checkOrigin('https://evil.example.com', policy)).toEqual({ ok: false, reason: 'Origin not allowed' });
});

it('accepts any origin with *, but not a missing or null one unless allowed', () => {
  const any: OriginPolicy = { allowed: '*', allowMissing: false, allowNull: false };
  expect(checkOrigin('https://anything.test', any)).toEqual({ ok: true });
  expect(checkOrigin(undefined, any)).toEqual({ ok: false, reason: 'missing Origin' });
  expect(checkOrigin('', any)).toEqual({ ok: false, reason: 'missing Origin' });
  expect(checkOrigin('null', any)).toEqual({ ok: false, reason: 'null Origin' });
});

it('accepts a missing Origin with allowMissing and Origin: null with allowNull, each on its own', () => {
  const missing: OriginPolicy = { ...listed('https://a.test'), allowMissing: true };
  expect(checkOrigin(undefined, missing)).toEqual({ ok: true });
  expect(checkOrigin('', missing)).toEqual({ ok: true });
  expect(checkOrigin('null', missing)).toEqual({ ok: false, reason: 'null Origin' });
  const nulls: OriginPolicy = { ...listed('https://a.test'), allowNull: true };
  expect(checkOrigin('null', nulls)).toEqual({ ok: true });
  expect(checkOrigin(undefined, nulls)).toEqual({ ok: false, reason: 'missing Origin' });
});

it('refuses several Origin headers, even when each is allowed', () => {
  expect(checkOrigin(['https://a.test', 'https://a.test'], { allowed: '*', allowMissing: true, allowNull: true })).toEqual({ ok: false, reason: 'several Origin headers' });
});

import { describe, expect, it } from 'vitest';
import { isSecretName, redactDeep, redactSecret, redactUrl, secretRedactor } from '../../../src/protocol/redact.js';
import { heapHoldsText } from '../../support/collect.js';

describe('redactUrl', () => {
  it('removes the token query parameter and keeps the rest of the url', () => {
    expect(redactUrl('wss://feed.example/live?room=7&token=abc123')).toBe('wss://feed.example/live?room=7&token=[redacted]');
  });

  it('removes the query parameter the connection was told carries its token', () => {
    expect(redactUrl('wss://feed.example/?room=7&ticket=abc123', 'ticket')).toBe('wss://feed.example/?room=7&ticket=[redacted]');
  });

  it('removes secret parameters of a fragment', () => {
    expect(redactUrl('https://app.example/cb#access_token=abc123&token_type=bearer')).toBe('https://app.example/cb#access_token=[redacted]&token_type=bearer');
  });

  it('removes refresh_token, id_token, password, client_secret, apikey, api_key, secret and sig parameters', () => {
    const names = ['refresh_token', 'id_token', 'password', 'client_secret', 'apikey', 'api_key', 'secret', 'sig'];
    const url = `https://x.example/?${names.map((name) => `${name}=s3cr3t`).join('&')}`;
    expect(redactUrl(url)).not.toContain('s3cr3t');
  });

  it('removes a secret parameter that opens a query string or a form body, or follows a space or ";"', () => {
    expect(redactUrl('refresh_token=s3cr3t&grant_type=refresh_token')).toBe('refresh_token=[redacted]&grant_type=refresh_token');
    expect(redactUrl('password=s3cr3t&user=ann')).toBe('password=[redacted]&user=ann');
    expect(redactUrl('sent token=s3cr3t twice')).toBe('sent token=[redacted] twice');
    expect(redactUrl('lang=en; sig=s3cr3t')).toBe('lang=en; sig=[redacted]');
    expect(redactUrl('v1;token=s3cr3t')).toBe('v1;token=[redacted]');
  });

  it("removes a url's user-info, a user and password or a token alone (a Node client may dial ws://user:password@host)", () => {
    expect(redactUrl('wss://alice:s3cr3t@feed.example/live?room=7')).toBe('wss://[redacted]@feed.example/live?room=7');
    expect(redactUrl('failed to dial ws://:s3cr3t@10.0.0.1:8080/ws twice')).toBe('failed to dial ws://[redacted]@10.0.0.1:8080/ws twice');
    expect(redactUrl('https://ghp_s3cr3t@git.example/x.git')).toBe('https://[redacted]@git.example/x.git');
    expect(redactUrl('wss://feed.example/users/ann@example.com?by=bob@example.com')).toBe('wss://feed.example/users/ann@example.com?by=bob@example.com');
  });

  it('leaves parameters with harmless names alone', () => {
    const url = 'https://x.example/?grant_type=refresh_token&user=ann&token_type=bearer';
    expect(redactUrl(url)).toBe(url);
  });
});

describe('isSecretName', () => {
  it('recognises secret names by their last word, in any case, with -, _ or camelCase, singular or plural', () => {
    for (const name of ['token', 'X-Auth-Token', 'x-api-key', 'apiKey', 'apiKeys', 'api_keys', 'privateKeys', 'newPassword', 'client_secret', 'Authorization', 'set-cookie', 'refreshToken', 'oauth2Token', 'api - key']) {
      expect(isSecretName(name), name).toBe(true);
    }
  });

  it('does not take names that merely contain a secret word for secret', () => {
    for (const name of ['user', 'tokenType', 'passwordHint', 'sessionId', 'type', 'keyboard', 'secretary']) {
      expect(isSecretName(name), name).toBe(false);
    }
  });
});

describe('redactSecret', () => {
  it('keeps no copy of a secret once the text is redacted: neither the secret nor a run of it stays on the heap', async () => {
    const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
    const bytes = Buffer.from(Array.from({ length: 40 }, () => letters[Math.floor(Math.random() * letters.length)]).join(''));
    const redacted = ((secret: string) => redactSecret(`refused: ${secret} (cut sho`, secret))(bytes.toString());
    expect(redacted).toBe('refused: [redacted] (cut sho');
    expect(await heapHoldsText(bytes.subarray(13, 21))).toBe(false);
  });

  it('replaces every occurrence of the secret', () => {
    expect(redactSecret('t0k sent, t0k refused', 't0k')).toBe('[redacted] sent, [redacted] refused');
  });

  it('replaces every run of 8 or more of the secret\'s characters (a copy cut short), adjoining runs as one', () => {
    const secret = 'opaque-session-4f9c2a7e1b';
    expect(redactSecret(`cut "${secret.slice(0, 10)}" and ${secret.slice(7, 15)} (${secret.slice(-8)})`, secret)).toBe('cut "[redacted]" and [redacted] ([redacted])');
    expect(redactSecret(`${secret}${secret.slice(0, 12)}, twice`, secret)).toBe('[redacted], twice');
    expect(redactSecret(`session ${secret.slice(0, 7)} is unknown`, secret)).toBe('session opaque- is unknown');
  });

  it('replaces a secret shorter than 8 characters where it appears whole only', () => {
    expect(redactSecret('k3y9z7q, k3y', 'k3y9z7q')).toBe('[redacted], k3y');
  });

  it('takes time in proportion to the text: a 1 MB text, or the 100,000 strings of an error\'s details through one redactor, and a 2 KB secret in well under a second', () => {
    const secret = Array.from({ length: 2_048 }, (_, i) => String.fromCharCode(33 + ((i * 7919) % 94))).join('');
    const text = `${'x'.repeat(1_000_000)}${secret.slice(100, 140)}`;
    const details = Array.from({ length: 100 }, () => Array.from({ length: 1_000 }, (_, i) => `item ${i}`));
    const started = performance.now();
    expect(redactSecret(text, secret)).toBe(`${'x'.repeat(1_000_000)}[redacted]`);
    expect(redactDeep(details, secretRedactor(secret))).toBe(details);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('redacts the secret it is given each time, another one after the first', () => {
    expect(redactSecret('Q7vR2mX9pL4wK8zN, a1b2c3d4e5f6g7h8', 'Q7vR2mX9pL4wK8zN')).toBe('[redacted], a1b2c3d4e5f6g7h8');
    expect(redactSecret('Q7vR2mX9pL4wK8zN, a1b2c3d4e5f6g7h8', 'a1b2c3d4e5f6g7h8')).toBe('Q7vR2mX9pL4wK8zN, [redacted]');
  });

  it('leaves the text as it is without a secret, or with an empty one', () => {
    expect(redactSecret('abc', undefined)).toBe('abc');
    expect(redactSecret('abc', '')).toBe('abc');
  });
});

describe('redactDeep', () => {
  const hide = (text: string) => text.replaceAll('s3cret', '[redacted]');

  it('redacts every string in objects and arrays, and copies only what holds a changed string', () => {
    const untouched = { note: 'plain', list: [1, 'two'] };
    const value = { untouched, echoed: { tokens: ['s3cret', 'other'], count: 2 }, flag: true };
    const redacted = redactDeep(value, hide) as typeof value;
    expect(redacted).toEqual({ untouched: { note: 'plain', list: [1, 'two'] }, echoed: { tokens: ['[redacted]', 'other'], count: 2 }, flag: true });
    expect(redacted).not.toBe(value);
    expect(redacted.untouched).toBe(untouched);
    expect(value.echoed.tokens[0]).toBe('s3cret');
    expect(Array.isArray(redacted.echoed.tokens)).toBe(true);
  });

  it('copies a key named __proto__ (parsed from JSON) as a key of the copy, never as its prototype', () => {
    const value = JSON.parse('{"__proto__":{"ch":"forged"},"note":"s3cret"}') as Record<string, unknown>;
    const redacted = redactDeep(value, hide) as Record<string, unknown>;
    expect(Object.getPrototypeOf(redacted)).toBe(Object.prototype);
    expect([Object.hasOwn(redacted, '__proto__'), redacted.ch, redacted.note]).toEqual([true, undefined, '[redacted]']);
  });

  it('returns a value without a string to redact as it is', () => {
    const value = { a: [{ b: 'plain' }], n: null, u: undefined };
    expect(redactDeep(value, hide)).toBe(value);
    expect(redactDeep(7, hide)).toBe(7);
    expect(redactDeep('s3cret', hide)).toBe('[redacted]');
  });

  it('summarises what is nested 32 levels down, so that no string below it is left unredacted', () => {
    const nest = (depth: number, leaf: unknown): unknown => (depth === 0 ? leaf : { inner: nest(depth - 1, leaf) });
    let shallow = redactDeep(nest(31, ['s3cret']), hide);
    for (let level = 0; level < 31; level++) shallow = (shallow as { inner: unknown }).inner;
    expect(shallow).toEqual(['[redacted]']);
    let deep = redactDeep(nest(32, ['s3cret']), hide);
    for (let level = 0; level < 32; level++) deep = (deep as { inner: unknown }).inner;
    expect(deep).toBe('[Array]');
    expect(JSON.stringify(redactDeep(nest(40, { s: 's3cret' }), hide))).not.toContain('s3cret');
  });
});

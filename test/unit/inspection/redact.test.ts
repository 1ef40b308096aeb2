import { describe, expect, it } from 'vitest';
import { redactInPlace, redactJsonText, redactText } from '../../../src/inspection/redact.js';

const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl';

/** `levels` objects (or arrays) nested, the innermost holding a leaf. */
function nested(levels: number, kind: 'object' | 'array'): unknown {
  let value: unknown = kind === 'object' ? { leaf: 'kept' } : ['kept'];
  for (let i = 1; i < levels; i++) value = kind === 'object' ? { inner: value } : [value];
  return value;
}

describe('redactText', () => {
  it('removes a JWT anywhere in a text, and keeps the words around it', () => {
    expect(redactText(`the client sent ${jwt} on login`)).toBe('the client sent [redacted] on login');
  });

  it('removes Bearer and Basic credentials, keeping the scheme', () => {
    expect(redactText('Authorization: Bearer abcdefghijkl-123')).toBe('Authorization: Bearer [redacted]');
    expect(redactText('authorization: basic dXNlcjpwYXNzd29yZA==')).toBe('authorization: basic [redacted]');
  });

  it('removes secret query parameters from a path without a scheme, and keeps the others', () => {
    const text = redactText('/ws?token=SECRET-path-1&room=lobby');
    expect(text).not.toContain('SECRET-path-1');
    expect(text).toContain('room=lobby');
  });

  it('removes the user and password of a url, keeping its scheme and address', () => {
    expect(redactText('proxy at https://ann:SECRET-pw-2@proxy.test/path')).toBe('proxy at https://[redacted]@proxy.test/path');
  });

  it('removes a secret parameter that opens a text (a form body or a bare query), as one after "&"', () => {
    expect(redactText('grant_type=refresh_token&refresh_token=SECRET-after')).toBe('grant_type=refresh_token&refresh_token=[redacted]');
    expect(redactText('refresh_token=SECRET-first&grant_type=refresh_token')).toBe('refresh_token=[redacted]&grant_type=refresh_token');
  });

  it('removes the password of a url whose user name is empty (redis://:password@host)', () => {
    expect(redactText('redis://:SECRET-pw-3@cache:6379/0')).toBe('redis://[redacted]@cache:6379/0');
  });

  it('looks at a text of 8 characters or more: ?token=x is redacted', () => {
    expect(redactText('?token=x')).toBe('?token=[redacted]');
  });

  it('leaves a text with nothing secret as it is', () => {
    for (const text of ['connected to the server', 'a=b and c=d', 'see https://example.test/docs']) expect(redactText(text)).toBe(text);
  });

  it('removes a quoted value after a credential\'s name and "=", keeping the quotes', () => {
    expect(redactText('token="abc123secret"')).toBe('token="[redacted]"');
    expect(redactText("login with password='hunter2!!' failed")).toBe("login with password='[redacted]' failed");
    expect(redactText('client_secret = "abc 123 secret"; retrying')).toBe('client_secret = "[redacted]"; retrying');
  });

  it('removes the value of a member named like a credential in an object as util.inspect writes it, keeping the other members', () => {
    expect(redactText("request failed { token: 'abc123secret', user: 'ann' }")).toBe("request failed { token: '[redacted]', user: 'ann' }");
    expect(redactText('{ password: "hunter2!!" }')).toBe('{ password: "[redacted]" }');
    expect(redactText("{ 'x-api-key': `it's \"abc123secret\"`, apiKey: 12345, status: 'open' }")).toBe("{ 'x-api-key': `[redacted]`, apiKey: [redacted], status: 'open' }");
    expect(redactText("Map(1) { 'refresh_token' => 'abc123secret' }")).toBe("Map(1) { 'refresh_token' => '[redacted]' }");
  });

  it('removes the rest of a quoted value cut short after a credential\'s name', () => {
    expect(redactText("{ token: 'abc123secr")).toBe("{ token: '[redacted]");
    expect(redactText('token="abc123secr')).toBe('token="[redacted]');
  });

  it('removes the value of a header line named like a credential, up to a space, a comma or a semicolon', () => {
    expect(redactText('X-Api-Key: abc123secret')).toBe('X-Api-Key: [redacted]');
    expect(redactText('sent x-auth-token: abc123secret, got 401')).toBe('sent x-auth-token: [redacted], got 401');
  });

  it('removes the credentials after the scheme of an Authorization header line, and a credential without a scheme', () => {
    expect(redactText('Authorization: Token abc123secret')).toBe('Authorization: Token [redacted]');
    expect(redactText('Proxy-Authorization: Digest abc123secret, realm=test')).toBe('Proxy-Authorization: Digest [redacted], realm=test');
    expect(redactText('authorization: abc123secret')).toBe('authorization: [redacted]');
  });

  it('removes every cookie of a Cookie header line, and keeps the attributes of a Set-Cookie line that are not name=value', () => {
    expect(redactText('Cookie: sid=abc123secret; csrf=def456secret')).toBe('Cookie: [redacted]');
    expect(redactText('Set-Cookie: sid=abc123secret; HttpOnly')).toBe('Set-Cookie: [redacted]; HttpOnly');
  });

  it('keeps prose with colons, ordinary members, and empty or null values under a credential\'s name', () => {
    for (const text of [
      'error: connection refused',
      "{ user: 'ann', status: 'open', retries: 3 }",
      'sent {"token": "", "room": 7',
      "{ token: '', password: null, secret: false }",
      'token="" and password=\'\'',
      'X-Request-Id: 42; room: lobby',
    ])
      expect(redactText(text)).toBe(text);
  });

  it('removes the password of a url quoted alone, in single or double quotes', () => {
    expect(redactText("'ws://ann:p4ssw0rd@host'")).toBe("'ws://[redacted]@host'");
    expect(redactText('"redis://:p4ss@host"')).toBe('"redis://[redacted]@host"');
    expect(redactText("{ url: 'wss://ann:p4ssw0rd@feed.test/live' }")).toBe("{ url: 'wss://[redacted]@feed.test/live' }");
  });

  it('leaves a text it redacted as it is when redacting it again, as a page does with a recording the server redacted', () => {
    for (const text of ['token="[redacted]"', "{ token: '[redacted]', apiKey: [redacted] }", 'Authorization: Token [redacted]', 'Authorization: Bearer [redacted]', 'authorization: [redacted]', 'Cookie: [redacted]']) expect(redactText(text)).toBe(text);
  });
});

describe('redactInPlace', () => {
  it('walks objects and arrays 32 levels deep and summarises what lies deeper', () => {
    for (const kind of ['object', 'array'] as const) {
      const summary = kind === 'object' ? '[Object]' : '[Array]';
      expect(JSON.stringify(redactInPlace(nested(33, kind)))).toContain('kept');
      const deeper = JSON.stringify(redactInPlace(nested(34, kind)));
      expect(deeper).not.toContain('kept');
      expect(deeper).toContain(summary);
    }
  });

  it('replaces the text or number under a member named like a credential, and each item of an array so named', () => {
    const value = { apiKey: 12345, tokens: ['first-secret', 'second-secret'], nested: { refreshToken: 'abc' }, name: 'ann' };
    expect(redactInPlace(value)).toEqual({ apiKey: '[redacted]', tokens: ['[redacted]', '[redacted]'], nested: { refreshToken: '[redacted]' }, name: 'ann' });
  });

  it('replaces every text and number inside an object under a credential\'s name, at any depth', () => {
    const value = { secrets: { stripe: 'sk_live_one', nested: { github: 'ghp_two', pin: 1234 } }, cookies: { sid: 'three' }, name: 'ann' };
    expect(redactInPlace(value)).toEqual({ secrets: { stripe: '[redacted]', nested: { github: '[redacted]', pin: '[redacted]' } }, cookies: { sid: '[redacted]' }, name: 'ann' });
  });

  it('removes credentials found in member names, as in texts: a cache keyed by token or by a url with a token', () => {
    const value = { sessions: { [jwt]: { user: 'ann' } }, retries: { 'wss://feed.test/live?token=SECRET-url-key': 3 } };
    const text = JSON.stringify(redactInPlace(value));
    expect(text).toContain('"user":"ann"');
    expect(text).toContain('feed.test/live');
    expect(text).not.toContain(jwt);
    expect(text).not.toContain('SECRET-url-key');
  });

  it('replaces the value after a credential\'s name in header pairs and flat header lists, as fetch and Node hold them', () => {
    const pairs = [['Accept', 'text/plain'], ['X-Api-Key', 'k3y-of-the-app'], ['Cookie', 'sid=42']];
    const raw = ['Host', 'feed.test', 'Authorization', 'Digest abc', 'X-Auth-Token', 7];
    expect(redactInPlace({ headers: pairs, rawHeaders: raw })).toEqual({
      headers: [['Accept', 'text/plain'], ['X-Api-Key', '[redacted]'], ['Cookie', '[redacted]']],
      rawHeaders: ['Host', 'feed.test', 'Authorization', '[redacted]', 'X-Auth-Token', '[redacted]'],
    });
  });

  it('reads names only at the even places of a list: a value named like a credential keeps the name after it', () => {
    expect(redactInPlace(['x-request', 'token', 'Host', 'feed.test'])).toEqual(['x-request', 'token', 'Host', 'feed.test']);
  });

  it('keeps what holds no credential under a credential\'s name: an empty text, null, a boolean', () => {
    expect(redactInPlace({ password: '', token: null, secret: true })).toEqual({ password: '', token: null, secret: true });
  });

  it('keeps null, numbers and booleans under ordinary names', () => {
    expect(redactInPlace({ a: null, b: 3, c: false, d: [null, 4] })).toEqual({ a: null, b: 3, c: false, d: [null, 4] });
  });

  it('removes credentials found in texts under ordinary names, at any depth it walks', () => {
    const value = { events: [{ note: `token ${jwt}` }], header: 'Bearer abcdefghijkl-123' };
    expect(JSON.stringify(redactInPlace(value))).not.toMatch(/eyJ|abcdefghijkl/);
  });
});

describe('redactJsonText', () => {
  it('redacts JSON by member names and text, and text that is not JSON as text', () => {
    expect(JSON.parse(redactJsonText(JSON.stringify({ password: 'hunter2', id: 7 })))).toEqual({ password: '[redacted]', id: 7 });
    expect(redactJsonText(`not json: ${jwt}`)).toBe('not json: [redacted]');
  });

  it("keeps a definition's states deeper than a page draws them (32), so that it can tell some were left out; a secret down there is still redacted", () => {
    const definition = (depth: number, leaf: object) => {
      let state: object = leaf;
      for (let i = 0; i < depth; i++) state = { initial: 'a', states: { a: state } };
      return { id: 'deep', ...state };
    };
    const statesDeep = (value: unknown): number => {
      let depth = 0;
      for (let node = value as { states?: { a?: unknown } }; typeof node?.states?.a === 'object'; node = node.states.a as typeof node) depth++;
      return depth;
    };
    const text = redactJsonText(JSON.stringify(definition(36, { meta: { password: 'hunter2' } })));
    expect(statesDeep(JSON.parse(text))).toBe(36);
    expect(text).not.toContain('hunter2');
    expect(statesDeep(JSON.parse(redactJsonText(JSON.stringify(definition(100, {})))))).toBeGreaterThan(32);
  });
});

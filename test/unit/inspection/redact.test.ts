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

  it('removes the password of a url, keeping its user-free address', () => {
    const text = redactText('proxy at https://ann:SECRET-pw-2@proxy.test/path');
    expect(text).not.toContain('SECRET-pw-2');
    expect(text).toContain('proxy.test/path');
  });

  it('leaves a text with nothing secret as it is', () => {
    for (const text of ['connected to the server', 'a=b and c=d', 'see https://example.test/docs']) expect(redactText(text)).toBe(text);
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
});

import { describe, expect, it } from 'vitest';
import { isSecretName, redactUrl } from '../../../src/protocol/redact.js';

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

  it('leaves parameters with harmless names alone', () => {
    const url = 'https://x.example/?grant_type=refresh_token&user=ann&token_type=bearer';
    expect(redactUrl(url)).toBe(url);
  });
});

describe('isSecretName', () => {
  it('recognises secret names by their last word, in any case, with -, _ or camelCase', () => {
    for (const name of ['token', 'X-Auth-Token', 'x-api-key', 'apiKey', 'newPassword', 'client_secret', 'Authorization', 'set-cookie', 'refreshToken']) {
      expect(isSecretName(name), name).toBe(true);
    }
  });

  it('does not take names that merely contain a secret word for secret', () => {
    for (const name of ['user', 'tokenType', 'passwordHint', 'sessionId', 'type', 'keyboard', 'secretary']) {
      expect(isSecretName(name), name).toBe(false);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { createServer } from '../../../src/server/index.js';
import { freePort } from '../../support/ports.js';
import { captureLogger, SECRET } from './helpers.js';

describe('secrets stay out of errors and logs', () => {
  it('a Redis that cannot be reached: the error and every log line are free of the URL’s password', async () => {
    const password = 'pw-that-must-never-show-9f3a';
    const logs = captureLogger();
    const port = await freePort();
    await expect(
      createServer({ port: 0, auth: { jwtSecret: SECRET }, logger: logs.logger, redis: { url: `redis://:${password}@127.0.0.1:${port}`, connectTimeoutMs: 300 } }),
    ).rejects.toSatisfy((error: Error) => !`${error.message} ${String(error.stack)}`.includes(password));
    expect(logs.text()).not.toContain(password);
    expect(logs.text()).not.toContain(SECRET);
  });
});

import type * as Pino from 'pino';
import type { Logger } from 'pino';
import { redactSecret } from '../protocol/redact.js';
import { dependencies } from './dependencies.js';

export type { Logger };

/** Paths pino censors even if a caller logs a whole request or frame. */
export const redactPaths = [
  'token',
  '*.token',
  'headers.authorization',
  'headers.cookie',
  'headers["sec-websocket-protocol"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["sec-websocket-protocol"]',
];

/** The logger used when none is given: pino at `info`, named `socketchart-server`, with token paths censored. */
export const createDefaultLogger = (): Logger =>
  dependencies.core<typeof Pino>('pino').pino({ name: 'socketchart-server', level: 'info', redact: { paths: redactPaths, censor: '[redacted]' } });

/**
 * Replaces every occurrence of a secret (of 4 characters or more) in a text, and every run of 8 or more of its
 * characters: the rule the client's errors follow.
 */
export const scrubSecret = (text: string, secret: string | undefined): string => (secret && secret.length >= 4 ? redactSecret(text, secret) : text);

/** The request path; a query string (which may carry a token in legacy `query` mode) is never logged. */
export function loggableUrl(url: string | undefined): string {
  if (url === undefined) return '';
  const question = url.indexOf('?');
  return question < 0 ? url.slice(0, 200) : `${url.slice(0, Math.min(question, 200))}?[redacted]`;
}

/** What is logged about a failure: its name and message, cut short; never a stack, nor the value that caused it. */
export function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 200);
  return typeof error === 'string' ? error.slice(0, 200) : 'unknown error';
}

/** A rejection handler for a promise nobody awaits: the failure is logged and goes no further. */
export const logFailure =
  (logger: Logger, what: string) =>
  (error: unknown): void => {
    logger.error({ err: errorText(error) }, what);
  };

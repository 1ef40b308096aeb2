import { isSocketchartError } from '../protocol/errors.js';

/** `host` as a URL writes it: an IPv6 address in brackets. */
export const bracketed = (host: string) => (host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);

/**
 * What a failure says, in one line: the message of a missing package or a bad option, what to change for a
 * port (the flag `portFlag`, default `--port`) or an address it could not `listen` on, else the error's name
 * and message (never the error itself, whose fields may hold a URL with a password, nor its stack).
 */
export function explained(error: unknown, listen?: { port: number; host: string; portFlag?: string }): string {
  const { name, code, message } = (error ?? {}) as { name?: string; code?: string; message?: string };
  if (name === 'MissingDependencyError' || isSocketchartError(error)) return message ?? String(name);
  if (listen && (code === 'EADDRINUSE' || code === 'EACCES')) return `cannot listen on ${bracketed(listen.host)}:${listen.port} (${code}): choose another ${listen.portFlag ?? '--port'}`;
  if (listen && (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')) return `cannot listen on ${bracketed(listen.host)} (${code}): choose another --host`;
  return `${name ?? 'Error'}: ${message ?? 'unknown error'}`.slice(0, 300);
}

import type { IncomingMessage, OutgoingHttpHeaders, RequestListener, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Registry } from 'prom-client';

/** What `/healthz` reports. */
export interface HealthReport {
  /** `ok`: serving; `degraded`: serving on this node only (Redis unreachable); `shutting_down`: draining (HTTP 503). */
  status: 'ok' | 'degraded' | 'shutting_down';
  nodeId: string;
  backend: 'memory' | 'redis';
  backendUp: boolean;
  connections: number;
  uptimeSeconds: number;
}

export interface HttpEndpoints {
  healthPath: string | false;
  metricsPath: string | false;
  registry: Registry;
  health(): HealthReport;
  /** Whether a request pipelined behind another on `socket` upgraded it: the earlier one's answer is not written then. */
  upgraded?(socket: Socket): boolean;
}

/** Serves `/healthz` and `/metrics`; returns false for any other request so the caller can pass it on. */
export function handleHttpRequest(endpoints: HttpEndpoints, request: IncomingMessage, response: ServerResponse): boolean {
  const path = (request.url ?? '/').split('?')[0];
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  if (endpoints.healthPath !== false && path === endpoints.healthPath) {
    const report = endpoints.health();
    const body = JSON.stringify(report);
    response.writeHead(report.status === 'shutting_down' ? 503 : 200, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(body),
    });
    response.end(request.method === 'HEAD' ? undefined : body);
    return true;
  }
  if (endpoints.metricsPath !== false && path === endpoints.metricsPath) {
    /** Another listener of an app's server may have answered meanwhile: its answer stands. */
    const answer = (status: number, headers: OutgoingHttpHeaders, body: string | undefined) => {
      if (response.headersSent || response.writableEnded || endpoints.upgraded?.(request.socket)) return;
      response.writeHead(status, headers);
      response.end(body);
    };
    endpoints.registry
      .metrics()
      .then(
        (body) => answer(200, { 'content-type': endpoints.registry.contentType, 'cache-control': 'no-store' }, request.method === 'HEAD' ? undefined : body),
        () => answer(500, { 'content-type': 'text/plain' }, 'metrics unavailable'),
      )
      .catch(() => undefined);
    return true;
  }
  return false;
}

/**
 * Serves the endpoints on `server`. On an attached server the app's existing `request` listeners are
 * wrapped (they get every other request) and restored by the returned function, unless another server
 * has wrapped them since: they then get every request through this wrapper. On the server's own HTTP
 * server anything else is a 404.
 */
export function attachHttpEndpoints(server: HttpServer | HttpsServer, own: boolean, endpoints: HttpEndpoints): () => void {
  const serve = endpoints.healthPath !== false || endpoints.metricsPath !== false;
  const previous = own ? [] : (server.listeners('request') as RequestListener[]);
  let attached = true;
  const onRequest: RequestListener = (request, response) => {
    if (attached && serve && handleHttpRequest(endpoints, request, response)) return;
    if (own) {
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end('Not Found');
      return;
    }
    for (const listener of previous) listener.call(server, request, response);
  };
  if (!own) server.removeAllListeners('request');
  server.on('request', onRequest);
  return () => {
    attached = false;
    if (!server.listeners('request').includes(onRequest)) return;
    server.off('request', onRequest);
    for (const listener of previous) server.on('request', listener);
  };
}

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Registry } from 'prom-client';
import { afterEach, expect, it } from 'vitest';
import { attachHttpEndpoints, handleHttpRequest, type HealthReport, type HttpEndpoints } from '../../../src/server/http-endpoints.js';

const report = (status: HealthReport['status']): HealthReport => ({ status, nodeId: 'n1', backend: 'memory', backendUp: true, connections: 2, uptimeSeconds: 5 });

function endpoints(overrides: Partial<HttpEndpoints> = {}): HttpEndpoints {
  const registry = new Registry();
  registry.setDefaultLabels({ node: 'n1' });
  return { healthPath: '/healthz', metricsPath: '/metrics', registry, health: () => report('ok'), ...overrides };
}

/** What a request to the endpoints is answered with: status, headers and body (undefined when none was written). */
function ask(given: HttpEndpoints, method: string, url: string | undefined) {
  const answer: { handled: boolean; status?: number; headers?: Record<string, unknown>; body?: unknown; ended: Promise<void> } = { handled: false, ended: Promise.resolve() };
  let end!: () => void;
  answer.ended = new Promise((resolve) => (end = resolve));
  const response = {
    writeHead(status: number, headers: Record<string, unknown>) {
      answer.status = status;
      answer.headers = headers;
      return this;
    },
    end(body?: unknown) {
      answer.body = body;
      end();
    },
  } as unknown as ServerResponse;
  answer.handled = handleHttpRequest(given, { method, url } as IncomingMessage, response);
  return answer;
}

it('GET /healthz answers the report as JSON, not cached, with its length', async () => {
  const answer = ask(endpoints(), 'GET', '/healthz?probe=1');
  expect(answer.handled).toBe(true);
  await answer.ended;
  const body = JSON.stringify(report('ok'));
  expect(answer).toMatchObject({ status: 200, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) }, body });
});

it('a server shutting down answers /healthz with 503', async () => {
  const answer = ask(endpoints({ health: () => report('shutting_down') }), 'GET', '/healthz');
  await answer.ended;
  expect(answer.status).toBe(503);
  expect(JSON.parse(answer.body as string)).toMatchObject({ status: 'shutting_down' });
});

it('HEAD gets the headers without a body, for health and metrics', async () => {
  const health = ask(endpoints(), 'HEAD', '/healthz');
  await health.ended;
  expect(health.status).toBe(200);
  expect(health.body).toBeUndefined();
  const metrics = ask(endpoints(), 'HEAD', '/metrics');
  await metrics.ended;
  expect(metrics.status).toBe(200);
  expect(metrics.body).toBeUndefined();
});

it('GET /metrics answers the registry in its content type, not cached', async () => {
  const given = endpoints();
  const answer = ask(given, 'GET', '/metrics');
  expect(answer.handled).toBe(true);
  await answer.ended;
  expect(answer).toMatchObject({ status: 200, headers: { 'content-type': given.registry.contentType, 'cache-control': 'no-store' }, body: await given.registry.metrics() });
});

it('a registry that cannot answer is a 500 saying so', async () => {
  const given = endpoints();
  given.registry.metrics = () => Promise.reject(new Error('collector threw'));
  const answer = ask(given, 'GET', '/metrics');
  await answer.ended;
  expect(answer).toMatchObject({ status: 500, headers: { 'content-type': 'text/plain' }, body: 'metrics unavailable' });
});

it('passes on other methods, other paths and a path set to false', () => {
  expect(ask(endpoints(), 'POST', '/healthz').handled).toBe(false);
  expect(ask(endpoints(), 'GET', '/other').handled).toBe(false);
  expect(ask(endpoints(), 'GET', undefined).handled).toBe(false);
  expect(ask(endpoints({ healthPath: false }), 'GET', '/healthz').handled).toBe(false);
  expect(ask(endpoints({ metricsPath: false }), 'GET', '/metrics').handled).toBe(false);
});

const servers: Array<ReturnType<typeof createServer>> = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

async function served(own: boolean, given: HttpEndpoints, app?: (request: IncomingMessage, response: ServerResponse) => void) {
  const server = createServer(app);
  servers.push(server);
  const detach = attachHttpEndpoints(server, own, given);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const get = async (path: string) => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    return [response.status, await response.text()] as const;
  };
  return { get, detach };
}

it('on its own server, anything else is a 404', async () => {
  const { get } = await served(true, endpoints());
  expect(await get('/elsewhere')).toEqual([404, 'Not Found']);
  expect((await get('/healthz'))[0]).toBe(200);
});

it('on an app\'s server, the app gets every other request, and gets them all back once detached', async () => {
  const { get, detach } = await served(false, endpoints(), (_request, response) => response.end('app'));
  expect(await get('/elsewhere')).toEqual([200, 'app']);
  expect((await get('/healthz'))[1]).toContain('"status":"ok"');
  detach();
  expect(await get('/healthz')).toEqual([200, 'app']);
});

it('two servers on one app\'s server, detached in the order they were attached: the app handles each other request once, and every request once both are gone', async () => {
  let handled = 0;
  const { get, detach: detachFirst } = await served(false, endpoints(), (_request, response) => {
    handled += 1;
    if (!response.headersSent) response.end('app');
  });
  const detachSecond = attachHttpEndpoints(servers.at(-1)!, false, endpoints({ health: () => report('degraded') }));
  detachFirst();
  expect(await get('/elsewhere')).toEqual([200, 'app']);
  expect(handled).toBe(1);
  expect((await get('/healthz'))[1]).toContain('"status":"degraded"');
  expect(handled).toBe(1);
  detachSecond();
  expect(await get('/healthz')).toEqual([200, 'app']);
  expect(handled).toBe(2);
});

it('with both paths off, an app\'s server answers everything itself', async () => {
  const { get } = await served(false, endpoints({ healthPath: false, metricsPath: false }), (_request, response) => response.end('app'));
  expect(await get('/healthz')).toEqual([200, 'app']);
  expect(await get('/metrics')).toEqual([200, 'app']);
});

it('on an app\'s server whose own late listener already answered /metrics, leaves the answer alone and raises no unhandled rejection', async () => {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  process.on('unhandledRejection', onRejection);
  try {
    const failing = endpoints();
    failing.registry.metrics = () => Promise.reject(new Error('collector threw'));
    for (const given of [endpoints(), failing]) {
      const { get } = await served(false, given);
      servers.at(-1)!.on('request', (_request, response) => {
        if (!response.headersSent) response.writeHead(404, { 'content-type': 'text/plain' }).end('app: not found');
      });
      expect(await get('/metrics')).toEqual([404, 'app: not found']);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(rejections.map((reason) => (reason as { code?: string }).code ?? String(reason))).toEqual([]);
  } finally {
    process.off('unhandledRejection', onRejection);
  }
});

it('a degraded node, serving on this node only, still answers /healthz with 200', async () => {
  const answer = ask(endpoints({ health: () => report('degraded') }), 'GET', '/healthz');
  await answer.ended;
  expect(answer.status).toBe(200);
  expect(JSON.parse(answer.body as string)).toMatchObject({ status: 'degraded' });
});

it('gives /healthz its length in bytes when the report holds characters beyond ASCII', async () => {
  const health = { ...report('ok'), nodeId: 'nœud-été' };
  const answer = ask(endpoints({ health: () => health }), 'GET', '/healthz');
  await answer.ended;
  expect(answer.headers!['content-length']).toBe(Buffer.byteLength(JSON.stringify(health)));
});

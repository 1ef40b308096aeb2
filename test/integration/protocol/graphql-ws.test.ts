import { afterEach, describe, expect, it } from 'vitest';
import {
  createConnection,
  ErrorCode,
  graphqlTransportWsProtocol,
  InvalidOptionError,
  SocketchartError,
  type Connection,
  type ConnectionOptions,
  type GraphqlResult,
} from '../../../src/index.node.js';
import { GraphqlServer } from '../../support/graphql-server.js';
import { until } from '../../support/until.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(options: Partial<ConnectionOptions> = {}) {
  const server = new GraphqlServer();
  const port = await server.listen();
  const connection: Connection = createConnection({
    url: `ws://127.0.0.1:${port}/graphql`,
    protocol: graphqlTransportWsProtocol(),
    reconnect: { baseMs: 20, capMs: 100, jitter: 0, minUptimeMs: 60_000 },
    ...options,
  });
  const statuses: string[] = [];
  const errors: SocketchartError[] = [];
  connection.on('state', ({ status }) => statuses.push(status));
  connection.on('error', (error) => errors.push(error));
  cleanups.push(async () => {
    connection.dispose();
    await server.stop();
  });
  return { server, port, connection, statuses, errors };
}

const connected = (connection: Connection) => until(() => connection.isConnected, 5_000, 'connected');

describe('graphql-transport-ws against a real graphql-ws 6 server', () => {
  it('execute() resolves a query and a mutation with their results; each runs once and never again after a reconnect', async () => {
    const { server, connection } = await setup();
    connection.start();
    const hello = await connection.execute<GraphqlResult>({ query: 'query ($name: String!) { hello(name: $name) }', variables: { name: 'ada' } });
    expect(hello).toEqual({ data: { hello: 'hello ada' } });
    const incremented = await connection.execute<GraphqlResult>({ query: 'mutation { increment }' });
    expect(incremented).toEqual({ data: { increment: 1 } });

    server.dropAll();
    await until(() => server.sockets === 2 && connection.isConnected, 5_000, 'the second socket');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.received.map(({ socket, query }) => [socket, query.split(' ')[0]])).toEqual([
      [1, 'query'],
      [1, 'mutation'],
    ]);
    expect(server.increments).toBe(1);
  });

  it('a refused operation rejects with the server errors (and only its caller hears of it), leaves the connection up and is not run again', async () => {
    const { server, connection, errors } = await setup();
    connection.start();
    const failure = await connection.execute({ query: '{ nope }' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SocketchartError);
    expect(failure).toMatchObject({ code: ErrorCode.SERVER_ERROR, recovery: 'fail' });
    expect((failure as SocketchartError).details).toEqual([expect.objectContaining({ message: 'Cannot query field "nope" on type "Query".' })]);
    expect(errors, "the connection's on(error) is for the connection").toEqual([]);
    expect(connection.status).toBe('connected');
    server.dropAll();
    await until(() => server.sockets === 2 && connection.isConnected);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.received).toHaveLength(1);
  });

  it('a subscription that completes: iterate() yields every value and ends; the completed operation is not restarted', async () => {
    const { server, connection } = await setup();
    connection.start();
    const values: unknown[] = [];
    for await (const result of connection.iterate<GraphqlResult<{ countdown: number }>>({ query: 'subscription { countdown(from: 3) }' })) {
      values.push(result.data?.countdown);
    }
    expect(values).toEqual([3, 2, 1, 0]);
    server.dropAll();
    await until(() => server.sockets === 2 && connection.isConnected);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.received).toHaveLength(1);
  });

  it('a subscription that errors: its sink gets the results, then the error; nothing more', async () => {
    const { connection } = await setup();
    connection.start();
    const seen: string[] = [];
    await new Promise<void>((resolve) => {
      connection.operation<GraphqlResult>(
        { query: 'subscription { failing }' },
        {
          next: (result) => seen.push(`next ${JSON.stringify(result.data)}`),
          error: (error) => {
            seen.push(`error ${error.code} ${error.message}`);
            resolve();
          },
          complete: () => seen.push('complete'),
        },
        { id: 'feed' },
      );
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen).toEqual(['next {"failing":1}', 'error SERVER_ERROR GraphQL operation feed failed: the feed broke']);
  });

  it('a live subscription is started again, once, after the socket drops, and goes on delivering; the connection never fails', async () => {
    const { server, connection, statuses } = await setup();
    connection.start();
    const ticks: number[] = [];
    const stop = connection.operation<GraphqlResult<{ ticks: number }>>({ query: 'subscription { ticks }' }, { next: (result) => ticks.push(result.data!.ticks) }, { id: 'ticks' });
    await until(() => ticks.length >= 2, 5_000, 'ticks before the drop');
    server.dropAll();
    await until(() => server.sockets === 2 && connection.isConnected);
    const before = ticks.length;
    await until(() => ticks.length >= before + 2, 5_000, 'ticks after the drop');
    expect(server.subscribesPerSocket('ticks')).toEqual({ 1: 1, 2: 1 });
    expect(statuses).not.toContain('failed');
    stop();
    await new Promise((resolve) => setTimeout(resolve, 60));
    const stopped = ticks.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(ticks.length).toBe(stopped);
  });

  it('the server restarts on the same port under a live subscription: it comes back and is started once on the new server', async () => {
    const { server, port, connection } = await setup();
    connection.start();
    const ticks: number[] = [];
    connection.operation<GraphqlResult<{ ticks: number }>>({ query: 'subscription { ticks }' }, { next: (result) => ticks.push(result.data!.ticks) }, { id: 'ticks' });
    await until(() => ticks.length >= 1);
    await server.stop();
    await until(() => !connection.isConnected);
    await server.listen(port);
    await until(() => connection.isConnected, 5_000);
    const before = ticks.length;
    await until(() => ticks.length >= before + 2, 5_000, 'ticks from the new server');
    expect(server.subscribesPerSocket('ticks')).toEqual({ 1: 1, 2: 1 });
  });

  it('a query in flight when the socket drops is sent again once on the new socket and resolves there', async () => {
    const { server, connection } = await setup();
    connection.start();
    await connected(connection);
    const result = connection.execute<GraphqlResult>({ query: '{ slow }' }, { id: 'slow' });
    await until(() => server.slowWaiting === 1, 5_000, 'the query to reach its resolver');
    server.dropAll();
    await until(() => server.slowWaiting === 2, 5_000, 'the query to be sent again');
    server.finishSlow();
    await expect(result).resolves.toEqual({ data: { slow: 'finally' } });
    expect(server.subscribesPerSocket('slow')).toEqual({ 1: 1, 2: 1 });
  });

  it('restart: false — a mutation in flight when the socket drops rejects with NETWORK_ERROR and is not sent again', async () => {
    const { server, connection } = await setup();
    connection.start();
    await connected(connection);
    const result = connection.execute({ query: '{ slow }' }, { id: 'once', restart: false }).catch((error: unknown) => error);
    await until(() => server.slowWaiting === 1);
    server.dropAll();
    expect(await result).toMatchObject({ code: ErrorCode.NETWORK_ERROR, messageId: 'once' });
    await until(() => server.sockets === 2 && connection.isConnected);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.subscribesPerSocket('once')).toEqual({ 1: 1 });
  });

  it('operations started before the link is up are written once; a reconnect writes each once again, with no 4409', async () => {
    const { server, connection, statuses } = await setup();
    const ticks: number[] = [];
    connection.subscribe('legacy', (result) => ticks.push((result as GraphqlResult<{ ticks: number }>).data!.ticks));
    const sent = connection.send({ query: 'subscription { ticks }' }, { channel: 'legacy' });
    connection.operation({ query: 'subscription { ticks }' }, { next: () => {} }, { id: 'modern' });
    connection.start();
    await sent;
    await until(() => ticks.length >= 1);
    server.dropAll();
    await until(() => server.sockets === 2 && connection.isConnected);
    const before = ticks.length;
    await until(() => ticks.length >= before + 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.subscribesPerSocket('legacy')).toEqual({ 1: 1, 2: 1 });
    expect(server.subscribesPerSocket('modern')).toEqual({ 1: 1, 2: 1 });
    expect(server.closes).not.toContain(4409);
    expect(statuses).not.toContain('failed');
  });

  it('send() before subscribe() starts an operation that is restarted while live; the last listener leaving stops it', async () => {
    const { server, connection } = await setup();
    connection.start();
    await connected(connection);
    await connection.send({ query: 'subscription { ticks }' }, { channel: 'early' });
    await until(() => server.received.length === 1, 5_000, 'the subscribe to arrive');
    const ticks: unknown[] = [];
    const off = connection.subscribe('early', (result) => ticks.push(result));
    server.dropAll();
    await until(() => server.sockets === 2 && connection.isConnected);
    await until(() => ticks.length >= 1);
    expect(server.subscribesPerSocket('early')).toEqual({ 1: 1, 2: 1 });
    off();
    server.dropAll();
    await until(() => server.sockets === 3 && connection.isConnected);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.subscribesPerSocket('early')).toEqual({ 1: 1, 2: 1 });
  });

  it('request() and ack sends reject at once, typed, and write nothing', async () => {
    const { server, connection } = await setup();
    connection.start();
    await connected(connection);
    await expect(connection.request({ query: '{ hello(name: "x") }' }, { channel: 'r1' })).rejects.toMatchObject({
      code: ErrorCode.INVALID_MESSAGE_FORMAT,
      message: expect.stringContaining('execute()'),
    });
    await expect(connection.send({ query: '{ hello(name: "x") }' }, { channel: 'r2', ack: true })).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.received).toEqual([]);
    expect(connection.status).toBe('connected');
  });

  it('a payload the server would close the socket for is refused here, typed; the connection and its other operations live on', async () => {
    const { server, connection } = await setup();
    connection.start();
    await connected(connection);
    const ticks: unknown[] = [];
    connection.operation({ query: 'subscription { ticks }' }, { next: (result) => ticks.push(result) });
    await expect(connection.execute({ query: 42 })).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT, message: 'A GraphQL operation needs a `query` string' });
    expect(() => connection.operation({ query: '{ hello(name: "x") }', variables: 'x' }, { next: () => {} })).toThrow(SocketchartError);
    const before = ticks.length;
    await until(() => ticks.length > before);
    expect(server.closes).toEqual([]);
    expect(server.received).toHaveLength(1);
  });

  it('send() to an empty channel is refused here, typed: no subscribe with an empty id (4400), the connection lives on', async () => {
    const { server, connection } = await setup();
    connection.start();
    await connected(connection);
    await expect(connection.send({ query: '{ hello(name: "x") }' }, { channel: '' })).rejects.toMatchObject({ code: ErrorCode.INVALID_OPTION, details: { option: 'channel' } });
    expect(await connection.execute({ query: '{ hello(name: "y") }' })).toEqual({ data: { hello: 'hello y' } });
    expect(server.closes).toEqual([]);
    expect(connection.status).toBe('connected');
  });

  it('a second operation with a live id is refused locally, not sent (no 4409)', async () => {
    const { server, connection } = await setup();
    connection.start();
    await connected(connection);
    connection.operation({ query: 'subscription { ticks }' }, { next: () => {} }, { id: 'same' });
    await expect(connection.execute({ query: '{ hello(name: "x") }' }, { id: 'same' })).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT, messageId: 'same' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.received).toHaveLength(1);
    expect(server.closes).toEqual([]);
  });

  it('a refused connection_init (4403) fails the connection, reporting 4403; operations waiting reject with CLOSED', async () => {
    const { server, connection } = await setup();
    server.accept = false;
    const pending = connection.execute({ query: '{ hello(name: "x") }' }).catch((error: unknown) => error);
    connection.start();
    await until(() => connection.status === 'failed');
    expect(connection.lastError).toMatchObject({ code: ErrorCode.AUTHORIZATION_FAILED, closeCode: 4403 });
    expect(await pending).toMatchObject({ code: ErrorCode.CLOSED });
    expect(server.received).toEqual([]);
  });

  it('an abort signal stops execute(): it rejects with the reason and the server is told complete', async () => {
    const { server, connection } = await setup();
    connection.start();
    await connected(connection);
    const controller = new AbortController();
    const result = connection.execute({ query: '{ slow }' }, { signal: controller.signal }).catch((error: unknown) => error);
    await until(() => server.slowWaiting === 1);
    controller.abort(new Error('user left'));
    expect(await result).toMatchObject({ message: 'user left' });
    const id = server.received[0]!.id;
    await until(() => server.frames.some((frame) => frame.type === 'complete' && frame.id === id), 5_000, 'complete');
    expect(server.frames.filter((frame) => frame.id === id).map((frame) => frame.type)).toEqual(['subscribe', 'complete']);
    expect(connection.status).toBe('connected');
  });

  it('operations need a protocol that runs them: the default protocol throws InvalidOptionError naming it', async () => {
    const connection = createConnection({ url: 'ws://127.0.0.1:1/', environment: false });
    cleanups.push(() => connection.dispose());
    expect(() => connection.operation({ query: '{ a }' }, { next: () => {} })).toThrow(InvalidOptionError);
    await expect(connection.execute({ query: '{ a }' })).rejects.toMatchObject({ option: 'protocol' });
    expect(() => connection.iterate({ query: '{ a }' })).toThrow(/protocol with operations/);
  });
});

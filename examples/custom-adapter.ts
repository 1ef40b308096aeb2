/** The README's custom adapter: a server with a protocol of its own and the connection that speaks it. `npx tsx examples/custom-adapter.ts` */
// #region readme
import { WebSocketServer } from 'ws';
import { createConnection, ErrorCode, SocketchartError, type ProtocolAdapter } from 'socketchart';

// A server with a protocol of its own: { op: 'sub' | 'unsub' | 'ping', topic? } in, { op: 'event' | 'pong', … } out.
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
wss.on('connection', (socket) => {
  socket.on('message', (raw) => {
    const frame = JSON.parse(String(raw));
    if (frame.op === 'ping') socket.send(JSON.stringify({ op: 'pong' }));
    if (frame.op === 'sub') socket.send(JSON.stringify({ op: 'event', topic: frame.topic, data: `hello from ${frame.topic}` }));
  });
});
await new Promise((listening) => wss.once('listening', listening));

const notTopics = (message: string) => new SocketchartError(ErrorCode.INVALID_MESSAGE_FORMAT, { message, recovery: 'none' });

const topics: ProtocolAdapter = {
  name: 'topics',
  subprotocols: () => undefined, // nothing to offer at the handshake
  authFrame: () => undefined, // no auth frame: a token would go in auth mode 'query' or 'subprotocol'
  awaitsAuthAnswer: () => false, // connected as soon as the socket opens
  refreshFrame: () => undefined, // no in-band token refresh
  acknowledges: false, // no ack frames: request() and ack sends reject at once
  pingFrame: () => JSON.stringify({ op: 'ping' }), // returning undefined turns the heartbeat off
  pongFrame: () => undefined, // the server never pings
  encode: (data, { channel }) => JSON.stringify({ op: 'publish', topic: channel, data }),
  subscribeFrame: (topic) => JSON.stringify({ op: 'sub', topic }), // on subscribe() and on every connect
  unsubscribeFrame: (topic) => JSON.stringify({ op: 'unsub', topic }),
  decode(raw, sink) {
    // exactly one sink call per frame
    if (typeof raw !== 'string') return sink.invalid(notTopics('a binary frame'));
    let frame;
    try {
      frame = JSON.parse(raw);
    } catch {
      return sink.invalid(notTopics('not JSON'));
    }
    if (frame.op === 'event') sink.data({ ch: frame.topic, data: frame.data });
    else if (frame.op === 'pong') sink.pong(undefined);
    else sink.invalid(notTopics(`unknown op ${String(frame.op).slice(0, 20)}`));
  },
};

const { port } = wss.address() as { port: number };
const connection = createConnection({ url: `ws://127.0.0.1:${port}`, protocol: topics });
connection.subscribe('news', (data) => {
  console.log('news:', data); // news: hello from news
  connection.dispose();
  wss.close();
});
connection.start();
// #endregion

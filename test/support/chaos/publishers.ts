import type { Connection } from '../../../src/index.node.js';
import type { SocketchartServer } from '../../../src/server/index.js';
import type { Ledger } from './ledger.js';
import { sleep } from './random.js';

export interface AckFigures {
  /** Publishes that asked for an ack (or, server side, a publish result). */
  requested: number;
  resolved: number;
  rejected: string[];
  /** Acks that said the server had already stored the id (a resend after a lost ack, stored once). */
  duplicates: number;
}

export interface Publisher {
  readonly name: string;
  readonly acks: AckFigures;
  /** Stops publishing new numbers (publishes already made go on until they settle). */
  stop(): void;
  /** Stops, and abandons publishes still being tried again (after the run). */
  close(): void;
}

/** Publishes not yet resolved or rejected. */
export const outstanding = ({ acks }: Publisher) => acks.requested - acks.resolved - acks.rejected.length;

/**
 * A client publishing `{ src, n }` on every channel every `everyMs`, with `ack: true`, without waiting
 * for earlier acks (a real app keeps sending while the link misbehaves).
 */
export function clientPublisher(connection: Connection, name: string, ledger: Ledger, everyMs: number): Publisher {
  const acks: AckFigures = { requested: 0, resolved: 0, rejected: [], duplicates: 0 };
  let n = 0;
  const tick = () => {
    n++;
    for (const ch of ledger.channels) {
      ledger.publish(ch, name, n);
      acks.requested++;
      const number = n;
      connection.send({ src: name, n: number }, { channel: ch, ack: true }).then(
        () => void acks.resolved++,
        (error: unknown) => void acks.rejected.push(`${ch}#${number}: ${String((error as { code?: unknown }).code ?? error)}`),
      );
    }
  };
  const timer = setInterval(tick, everyMs);
  return {
    name,
    acks,
    stop() {
      clearInterval(timer);
    },
    close() {
      clearInterval(timer);
    },
  };
}

/**
 * The server application publishing `{ src, n }` on every channel every `everyMs` through the server's
 * own API, with an id per message: a publish that fails (the server is restarting) is tried again with
 * the same id until it lands, and the server stores it once.
 */
export function serverPublisher(server: () => SocketchartServer | undefined, name: string, ledger: Ledger, everyMs: number, giveUpMs = 10_000): Publisher {
  const acks: AckFigures = { requested: 0, resolved: 0, rejected: [], duplicates: 0 };
  let running = true;
  let closed = false;
  const publishOnce = async (ch: string, n: number) => {
    const deadline = Date.now() + giveUpMs;
    let lastError: unknown;
    while (Date.now() < deadline && !closed) {
      const current = server();
      if (current) {
        try {
          const result = await current.broadcast(ch, { src: name, n }, undefined, { id: `${name}-${n}` });
          acks.resolved++;
          if (result.duplicate) acks.duplicates++;
          return;
        } catch (error) {
          lastError = error;
        }
      }
      await sleep(10);
    }
    acks.rejected.push(`${ch}#${n}: ${closed ? 'abandoned' : String(lastError)}`);
  };
  void (async () => {
    for (let n = 1; running; n++) {
      await Promise.all(
        ledger.channels.map((ch) => {
          ledger.publish(ch, name, n);
          acks.requested++;
          return publishOnce(ch, n);
        }),
      );
      await sleep(everyMs);
    }
  })();
  return {
    name,
    acks,
    stop() {
      running = false;
    },
    close() {
      running = false;
      closed = true;
    },
  };
}

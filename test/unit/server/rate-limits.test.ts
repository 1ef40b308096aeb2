import { describe, expect, it } from 'vitest';
import { ServerRateLimits } from '../../../src/server/rate-limit.js';

function limitsAt(start = 0) {
  const clock = { time: start, now: () => clock.time };
  const table = { chat: { perMinute: 60, burst: 3 }, default: { perMinute: 60, burst: 2 }, control: { perMinute: 6, burst: 5 } };
  const limits = new ServerRateLimits({ perConnection: table, perUser: table, unauthenticated: { perMinute: 60, burst: 2 }, floodThreshold: 4, maxTracked: 3 }, clock);
  return { clock, limits };
}

const alice = { kind: 'user', id: 'alice' } as const;
const oks = (results: { ok: boolean }[]) => results.map((result) => (result.ok ? 'ok' : 'no')).join(' ');

describe('ServerRateLimits on a simulated clock', () => {
  it('refuses a scope until the retry_after it announced, then grants again', () => {
    const { clock, limits } = limitsAt();
    const connection = limits.newConnection();
    expect(oks(Array.from({ length: 4 }, () => limits.take(connection, alice, 'chat')))).toBe('ok ok ok no');
    const refusal = limits.take(connection, alice, 'chat');
    expect(refusal).toMatchObject({ ok: false, retryAfterMs: 1000 });
    clock.time = 999;
    expect(limits.take(connection, alice, 'chat').ok).toBe(false);
    clock.time = 1000;
    expect(limits.take(connection, alice, 'chat').ok).toBe(true);
  });

  it('charges a user across connections, and the bucket outlives them', () => {
    const { clock, limits } = limitsAt();
    const first = limits.newConnection();
    expect(oks([limits.take(first, alice, 'chat'), limits.take(first, alice, 'chat')])).toBe('ok ok');
    const second = limits.newConnection();
    expect(oks([limits.take(second, alice, 'chat'), limits.take(second, alice, 'chat')])).toBe('ok no');
    clock.time = 500;
    const third = limits.newConnection();
    expect(limits.take(third, alice, 'chat').ok).toBe(false);
    expect(limits.take(third, { kind: 'user', id: 'bob' }, 'chat').ok).toBe(true);
  });

  it('gives a channel type named in userRateLimits alone a scope of its own', () => {
    const clock = { now: () => 0 };
    const table = { default: { perMinute: 60, burst: 2 }, control: { perMinute: 60, burst: 5 } };
    const limits = new ServerRateLimits({ perConnection: table, perUser: { ...table, orders: { perMinute: 600, burst: 50 } }, unauthenticated: { perMinute: 60, burst: 2 }, floodThreshold: 4, maxTracked: 3 }, clock);
    expect(['orders:1', 'news:1'].map((ch) => limits.scopeOf(ch))).toEqual(['orders', 'default']);
  });

  it('keeps a connection’s spent bucket of one scope while it uses every other scope of the tables', () => {
    const { limits } = limitsAt();
    const connection = limits.newConnection();
    expect(oks(['a', 'b', 'c', 'd'].map((id) => limits.takePublish(connection, alice, 'chat', id)))).toBe('ok ok ok no');
    expect(oks([limits.take(connection, alice, 'default'), limits.take(connection, alice, 'control')])).toBe('ok ok');
    expect(limits.takePublish(connection, alice, 'chat', 'd').ok).toBe(false);
  });

  it('keeps a connection’s spent bucket of one scope while it uses every scope, those named in userRateLimits alone included', () => {
    const clock = { now: () => 0 };
    const table = { default: { perMinute: 60, burst: 1 }, control: { perMinute: 60, burst: 5 } };
    const userTable = { ...table, a: { perMinute: 600, burst: 50 }, b: { perMinute: 600, burst: 50 }, c: { perMinute: 600, burst: 50 } };
    const limits = new ServerRateLimits({ perConnection: table, perUser: userTable, unauthenticated: { perMinute: 60, burst: 2 }, floodThreshold: 100, maxTracked: 10 }, clock);
    const connection = limits.newConnection();
    expect(oks([limits.takePublish(connection, alice, 'a', undefined), limits.takePublish(connection, alice, 'a', undefined)])).toBe('ok no');
    for (const scope of ['b', 'c', 'default', 'control']) limits.take(connection, alice, scope);
    expect(limits.takePublish(connection, alice, 'a', undefined).ok).toBe(false);
  });

  it('keeps the user buckets of each scope apart', () => {
    const { limits } = limitsAt();
    const connection = limits.newConnection();
    for (let i = 0; i < 5; i++) limits.take(connection, alice, 'control');
    expect(limits.take(connection, alice, 'control').ok).toBe(false);
    expect(limits.take(limits.newConnection(), alice, 'chat').ok).toBe(true);
  });

  it('tells reset_at in wall-clock time (epoch ms), though its buckets run on a clock of their own', () => {
    const clock = { time: 0, now: () => clock.time };
    const wall = { now: () => 1_700_000_000_000 };
    const table = { chat: { perMinute: 60, burst: 3 }, default: { perMinute: 60, burst: 2 }, control: { perMinute: 6, burst: 5 } };
    const limits = new ServerRateLimits({ perConnection: table, perUser: table, unauthenticated: { perMinute: 60, burst: 2 }, floodThreshold: 4, maxTracked: 3 }, clock, wall);
    expect(limits.take(limits.newConnection(), alice, 'chat')).toMatchObject({ ok: true, announce: { reset_at: 1_700_000_000_000 + 1000 } });
  });

  it('announces the reset_at of the connection’s bucket when it is full later than the user’s', () => {
    const clock = { now: () => 0 };
    const limits = new ServerRateLimits(
      { perConnection: { chat: { perMinute: 60, burst: 3 } }, perUser: { chat: { perMinute: 600, burst: 100 } }, unauthenticated: { perMinute: 60, burst: 2 }, floodThreshold: 4, maxTracked: 3 },
      clock,
    );
    expect(limits.take(limits.newConnection(), alice, 'chat')).toMatchObject({ ok: true, announce: { remaining: 2, reset_at: 1000 } });
  });

  it('tells remaining 0 in a refusal by the user’s bucket, though the connection’s bucket has tokens', () => {
    const { limits } = limitsAt();
    expect(limits.refusedElsewhere(limits.newConnection(), alice, 'chat', 500)).toMatchObject({ ok: false, status: { scope: 'chat', remaining: 0 } });
  });

  it('forgets the refusals of the subject refused longest ago first, a refusal making a subject recent again', () => {
    const { limits } = limitsAt();
    const refuse = (id: string) => limits.refusedElsewhere(limits.newConnection(), { kind: 'user', id }, 'chat', 1000).flooding;
    for (let i = 0; i < 3; i++) refuse('alice');
    for (let n = 1; n <= 5; n++) refuse(`u${n}`);
    refuse('alice');
    refuse('u6');
    expect(refuse('alice')).toBe(true);
  });

  it('puts every channel type outside the tables under `default`, and never makes a scope for `control` channels', () => {
    const { limits } = limitsAt();
    expect(['chat:1', 'news:1', 'x:y:z', 'control:1', 'default:1'].map((ch) => limits.scopeOf(ch))).toEqual(['chat', 'default', 'default', 'default', 'default']);
  });

  it('announces a scope on first use and when running low, at most once a second', () => {
    const { clock, limits } = limitsAt();
    const connection = limits.newConnection();
    const announced = () => {
      const verdict = limits.take(connection, alice, 'control');
      return verdict.ok && verdict.announce ? verdict.announce.remaining : '-';
    };
    expect([announced(), announced(), announced(), announced()]).toEqual([4, '-', '-', '-']);
    clock.time = 1000;
    expect(announced()).toBe(0);
  });

  it('counts refusals toward flooding per user, across connections: past the threshold of 4, the user is flooding', () => {
    const { limits } = limitsAt();
    const floods: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      const connection = limits.newConnection();
      for (let j = 0; j < 3; j++) {
        const verdict = limits.take(connection, alice, 'default');
        if (!verdict.ok) floods.push(verdict.flooding);
      }
    }
    expect(floods).toEqual([false, false, false, false, true, true, true]);
  });

  it('counts refusals toward flooding per subject: a user flooding leaves another user and an address uncounted', () => {
    const { limits } = limitsAt();
    const refusals = (subject: { kind: 'user' | 'address'; id: string }, times: number) => {
      const connection = limits.newConnection();
      const floods: boolean[] = [];
      for (let i = 0; i < times; i++) {
        const verdict = limits.take(connection, subject, 'control');
        if (!verdict.ok) floods.push(verdict.flooding);
      }
      return floods;
    };
    expect(refusals(alice, 10)).toEqual([false, false, false, false, true]);
    expect(refusals({ kind: 'user', id: 'bob' }, 6)).toEqual([false]);
    expect(refusals({ kind: 'address', id: 'alice' }, 6)).toEqual([false, false, false, false]);
  });

  it('keeps counting refusals through a sweep while they still weigh', () => {
    const { clock, limits } = limitsAt();
    const connection = limits.newConnection();
    const floods: boolean[] = [];
    for (let i = 0; i < 9; i++) {
      const verdict = limits.take(connection, alice, 'control');
      if (!verdict.ok) floods.push(verdict.flooding);
    }
    clock.time = 100;
    limits.sweep();
    const after = limits.take(connection, alice, 'control');
    expect([...floods, !after.ok && after.flooding]).toEqual([false, false, false, false, true]);
  });

  it('keeps the flood counts of at most twice maxTracked subjects, forgetting the one refused longest ago', () => {
    const { limits } = limitsAt();
    const refuse = (id: string) => {
      const connection = limits.newConnection();
      let verdict = limits.take(connection, { kind: 'address', id }, 'default');
      while (verdict.ok) verdict = limits.take(connection, { kind: 'address', id }, 'default');
      return verdict.flooding;
    };
    for (let i = 0; i < 4; i++) refuse('10.0.0.1');
    for (let n = 2; n <= 6; n++) refuse(`10.0.0.${n}`);
    expect(limits.sizes().floodMeters).toBe(6);
    refuse('10.0.0.7');
    expect(limits.sizes().floodMeters).toBe(6);
    expect(refuse('10.0.0.1')).toBe(false);
    for (let i = 0; i < 3; i++) refuse('10.0.0.7');
    expect(refuse('10.0.0.7')).toBe(true);
  });

  it('announces a scope again once it runs low (a quarter of its burst or less), a second or more after the last announcement', () => {
    const { clock, limits } = limitsAt(5000);
    const connection = limits.newConnection();
    const announced = () => {
      const verdict = limits.take(connection, alice, 'control');
      return verdict.ok && verdict.announce ? verdict.announce.remaining : '-';
    };
    const first = announced();
    clock.time = 6000;
    expect([first, announced(), announced(), announced(), announced()]).toEqual([4, '-', '-', 1, '-']);
  });

  it('announces the remaining and reset_at of the emptier of the connection’s and the user’s buckets', () => {
    const { limits } = limitsAt();
    const first = limits.newConnection();
    limits.take(first, alice, 'chat');
    limits.take(first, alice, 'chat');
    const verdict = limits.take(limits.newConnection(), alice, 'chat');
    expect(verdict).toMatchObject({ ok: true, announce: { scope: 'chat', remaining: 0, reset_at: 3000 } });
  });

  it('tracks at most maxTracked users, and forgets full buckets and quiet flood counts on sweep', () => {
    const { clock, limits } = limitsAt();
    for (const id of ['u1', 'u2', 'u3', 'u4', 'u5']) limits.take(limits.newConnection(), { kind: 'user', id }, 'chat');
    expect(limits.sizes().userBuckets).toBe(3);
    const connection = limits.newConnection();
    for (let i = 0; i < 3; i++) limits.take(connection, { kind: 'address', id: '10.0.0.1' }, 'control');
    expect(limits.sizes()).toMatchObject({ addressBuckets: 1, floodMeters: 1 });
    clock.time = 60_000;
    limits.sweep();
    expect(limits.sizes()).toEqual({ userBuckets: 0, addressBuckets: 0, floodMeters: 0 });
  });

  describe('an acknowledged publish refused: its scope waits for it to be sent again', () => {
    const refusedFirst = () => {
      const { clock, limits } = limitsAt();
      const connection = limits.newConnection();
      const publish = (id?: string, scope = 'chat') => limits.takePublish(connection, alice, scope, id);
      expect(oks(['a', 'b', 'c', 'd'].map((id) => publish(id)))).toBe('ok ok ok no');
      return { clock, limits, connection, publish };
    };

    it('refuses the later publishes of the scope, though a token is back, until the refused one comes again', () => {
      const { clock, publish } = refusedFirst();
      clock.time = 1000;
      expect(publish('e')).toMatchObject({ ok: false, retryAfterMs: 1 });
      expect(oks([publish('d'), publish('e')])).toBe('ok no');
    });

    it('tells a publish refused while the scope waits to come back when the first refusal’s retry_after ends', () => {
      const { clock, publish } = refusedFirst();
      clock.time = 400;
      expect(publish('e')).toMatchObject({ ok: false, retryAfterMs: 600 });
    });

    it('ends the wait when a publish refused during it comes again: the one refused first was given up', () => {
      const { clock, publish } = refusedFirst();
      expect(publish('e').ok).toBe(false);
      clock.time = 1000;
      expect(oks([publish('e')])).toBe('ok');
    });

    it('ends the wait 2 s past the retry_after when nothing it refused comes again', () => {
      const { clock, publish } = refusedFirst();
      clock.time = 2999;
      expect(publish('e').ok).toBe(false);
      clock.time = 3000;
      expect(oks([publish('f'), publish('g')])).toBe('ok ok');
    });

    it('neither starts nor holds publishes without an id, which are never sent again', () => {
      const { clock, limits } = limitsAt();
      const connection = limits.newConnection();
      const publish = (id?: string) => limits.takePublish(connection, alice, 'chat', id);
      expect(oks([publish(), publish(), publish(), publish()])).toBe('ok ok ok no');
      clock.time = 1000;
      expect(oks([publish('late'), publish('x')])).toBe('ok no');
      clock.time = 2000;
      expect(oks([publish()])).toBe('ok');
    });

    it('holds one scope only, and one connection only', () => {
      const { limits, publish } = refusedFirst();
      expect(oks([publish('n', 'default')])).toBe('ok');
      expect(oks([limits.takePublish(limits.newConnection(), alice, 'chat', 'other')])).toBe('ok');
    });

    it('starts as well when the backend refuses a publish for its user’s bucket', () => {
      const { clock, limits } = limitsAt();
      const connection = limits.newConnection();
      expect(limits.refusedElsewhere(connection, alice, 'chat', 500, 'u1')).toMatchObject({ ok: false, retryAfterMs: 500 });
      clock.time = 500;
      expect(limits.takePublish(connection, alice, 'chat', 'u2').ok).toBe(false);
      expect(oks([limits.takePublish(connection, alice, 'chat', 'u1')])).toBe('ok');
    });

    it('waits for the latest end of the retry_after of the refusals it made', () => {
      const { clock, limits } = limitsAt();
      const connection = limits.newConnection();
      limits.refusedElsewhere(connection, alice, 'chat', 500, 'u1');
      limits.refusedElsewhere(connection, alice, 'chat', 5000, 'u2');
      limits.refusedElsewhere(connection, alice, 'chat', 500, 'u3');
      clock.time = 6999;
      expect(limits.takePublish(connection, alice, 'chat', 'later').ok).toBe(false);
      clock.time = 7000;
      expect(limits.takePublish(connection, alice, 'chat', 'later').ok).toBe(true);
    });

    it('keeps nothing for a connection once its wait has ended', () => {
      const { clock, connection, publish } = refusedFirst();
      expect(connection.awaited).toBeDefined();
      clock.time = 3000;
      expect(publish('e').ok).toBe(true);
      expect(connection.awaited).toBeUndefined();
    });

    it('remembers at most 256 of the publishes it refused: one refused past them ends the wait only at its end', () => {
      const { clock, publish } = refusedFirst();
      for (let n = 0; n < 300; n++) publish(`r${n}`);
      clock.time = 1000;
      expect(publish('r299').ok).toBe(false);
      expect(publish('r254').ok).toBe(true);
    });

    it('counts its refusals toward flooding', () => {
      const { publish } = refusedFirst();
      const floods = ['e', 'f', 'g', 'h'].map((id) => publish(id)).map((verdict) => !verdict.ok && verdict.flooding);
      expect(floods).toEqual([false, false, false, true]);
    });
  });

  it('grants a token once refills add up to one, though the sum rounds below it: a scope has one, an address need not wait', () => {
    // six a minute refill 0.1 a second; ten refills of 0.1 add up to 0.9999999999999999
    const clock = { time: 0, now: () => clock.time };
    const table = { chat: { perMinute: 6, burst: 1 }, default: { perMinute: 6, burst: 1 }, control: { perMinute: 6, burst: 1 } };
    const limits = new ServerRateLimits({ perConnection: table, perUser: table, unauthenticated: { perMinute: 6, burst: 1 }, floodThreshold: 100, maxTracked: 3 }, clock);
    const connection = limits.newConnection();
    expect(limits.takePublish(connection, alice, 'chat', undefined).ok).toBe(true);
    limits.chargeAddress('10.0.0.2');
    const seen: [boolean, number][] = [];
    for (let second = 1; second <= 10; second++) {
      clock.time = second * 1000;
      seen.push([limits.hasToken(connection, 'chat'), limits.addressWait('10.0.0.2')]);
    }
    expect(seen.at(-1)).toEqual([true, 0]);
    expect(limits.takePublish(connection, alice, 'chat', undefined).ok).toBe(true);
  });

  it('tells the unauthenticated limit of the address in the status of a frame before login, which that limit refuses', () => {
    const { limits } = limitsAt();
    const connection = limits.newConnection();
    const address = { kind: 'address', id: '10.0.0.2' } as const;
    const unauthenticated = { scope: 'control', limit: 60, burst: 2, window_seconds: 60 };
    expect(limits.take(connection, address, 'control')).toMatchObject({ ok: true, announce: { ...unauthenticated, remaining: 1 } });
    limits.take(connection, address, 'control');
    expect(limits.take(connection, address, 'control')).toMatchObject({ ok: false, retryAfterMs: 1000, status: { ...unauthenticated, remaining: 0 } });
  });

  it('makes an address wait once its unauthenticated budget is spent', () => {
    const { clock, limits } = limitsAt();
    expect(limits.addressWait('10.0.0.2')).toBe(0);
    limits.chargeAddress('10.0.0.2');
    limits.chargeAddress('10.0.0.2');
    expect(limits.addressWait('10.0.0.2')).toBe(1000);
    clock.time = 1000;
    expect(limits.addressWait('10.0.0.2')).toBe(0);
  });
});

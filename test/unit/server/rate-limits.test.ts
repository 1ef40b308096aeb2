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

    it('counts its refusals toward flooding', () => {
      const { publish } = refusedFirst();
      const floods = ['e', 'f', 'g', 'h'].map((id) => publish(id)).map((verdict) => !verdict.ok && verdict.flooding);
      expect(floods).toEqual([false, false, false, true]);
    });
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

// The queue of logouts the store could not carry out: retried with backoff, bounded in size, dropped once moot, stopped by close().
import { StoreUnavailableError } from '../lib';
import type { LogoutAbandonReason } from '../lib/events';
import { PendingLogouts } from '../lib/sessions/pending-logouts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const outage = () => new StoreUnavailableError('injected outage');

/** A logout whose attempts are counted and answered by `answer` (an outage by default), and whose abandonment is recorded. */
function logout(answer: (attempt: number) => Promise<void> = () => Promise.reject(outage()), until = Date.now() + 60_000) {
  const record = { attempts: 0, abandoned: [] as LogoutAbandonReason[] };
  return {
    record,
    logout: {
      until,
      attempt: () => answer(++record.attempts),
      abandon: (reason: LogoutAbandonReason) => void record.abandoned.push(reason),
    },
  };
}

const queues: PendingLogouts[] = [];
function queue(capacity?: number): PendingLogouts {
  const made = new PendingLogouts(capacity);
  queues.push(made);
  return made;
}
afterEach(async () => {
  await Promise.all(queues.splice(0).map((made) => made.close()));
});

describe('PendingLogouts', () => {
  test('retries with a doubling wait while the store is out (250 ms, then 500, then 1 s), and stops once an attempt gets through', async () => {
    const q = queue();
    const { record, logout: entry } = logout((n) => (n < 3 ? Promise.reject(outage()) : Promise.resolve()));
    q.add('s1', entry);
    await sleep(500);
    expect(record.attempts).toBe(1); // at 250 ms
    await sleep(700);
    expect(record.attempts).toBe(2); // at 750 ms
    await sleep(1200);
    expect(record.attempts).toBe(3); // at 1750 ms: done
    expect(q.size).toBe(0);
    await sleep(300);
    expect(record.attempts).toBe(3);
    expect(record.abandoned).toEqual([]);
  });

  test('an outage ends the round: the logouts behind it wait for the next one', async () => {
    const q = queue();
    const first = logout();
    const second = logout(() => Promise.resolve());
    q.add('s1', first.logout);
    q.add('s2', second.logout);
    await sleep(400);
    expect([first.record.attempts, second.record.attempts]).toEqual([1, 0]);
  });

  test('past its capacity the oldest logout gives way, reported as overflow; a second logout of a waiting session replaces it', async () => {
    const q = queue(2);
    const [a, b, b2, c] = [logout(), logout(), logout(), logout()];
    q.add('a', a.logout);
    q.add('b', b.logout);
    q.add('b', b2.logout);
    expect(q.size).toBe(2);
    q.add('c', c.logout);
    expect(q.size).toBe(2);
    expect(a.record.abandoned).toEqual(['overflow']);
    expect([b.record.abandoned, b2.record.abandoned, c.record.abandoned]).toEqual([[], [], []]);
  });

  test('a logout whose session can no longer be alive is dropped unattempted, reported as expired', async () => {
    const q = queue();
    const moot = logout(() => Promise.resolve(), Date.now() + 100);
    q.add('s1', moot.logout);
    await sleep(400);
    expect(moot.record).toEqual({ attempts: 0, abandoned: ['expired'] });
    expect(q.size).toBe(0);
  });

  test('an error that is not an outage is not retried: reported as failed', async () => {
    const q = queue();
    const broken = logout(() => Promise.reject(new Error('a bug in a custom store')));
    q.add('s1', broken.logout);
    await sleep(400);
    expect(broken.record).toEqual({ attempts: 1, abandoned: ['failed'] });
    await sleep(600);
    expect(broken.record.attempts).toBe(1);
  });

  test('close() waits for an attempt under way, reports what still waits as closed, and nothing is tried after it', async () => {
    const q = queue();
    let release: () => void = () => undefined;
    const slow = logout(() => new Promise<void>((_resolve, reject) => (release = () => reject(outage()))));
    const behind = logout();
    q.add('s1', slow.logout);
    q.add('s2', behind.logout);
    await sleep(400);
    expect(slow.record.attempts).toBe(1);
    const closing = q.close();
    release();
    await closing;
    expect([slow.record.abandoned, behind.record.abandoned]).toEqual([['closed'], ['closed']]);
    const late = logout();
    q.add('s3', late.logout);
    expect(late.record.abandoned).toEqual(['closed']);
    await sleep(700);
    expect([slow.record.attempts, behind.record.attempts, late.record.attempts]).toEqual([1, 0, 0]);
  });
});

// Redis' clock against this process's: the measured offset, the estimate of Redis' time it gives, and the warning when the clocks differ.
//
// Why revocation judges by Redis' clock: a session ends when its login began before a "revoked
// before" mark, or before the store's data began (its epoch). Were those times each instance's own,
// an instance whose clock ran fast would date its logins after a mark set by a correct one (the
// session survives revokeUser), and one that made the epoch would refuse every login made on the
// others for the skew. So RedisStore reads them all from one clock, Redis' `TIME` on the node of the
// revocation log: a login's start and a revokeUser mark with one round trip each (exact: Redis
// orders them), the epoch inside the script that creates it. A session carries its login start into
// its access tokens (`auth_time`), so the feed compares two Redis times. What needs no round trip
// (access tokens' `iat` and `exp`, cookie lifetimes, how long a revocation is kept) is dated with
// this process's clock plus the offset measured here, so a token never outlives the revocation
// entries that must cover it, whichever instance issued it. Only the comparison of `exp` and of a
// revocation's end with "now" stays on each instance's clock, where both move together.

/** One measurement of Redis' clock against this process's. */
interface ClockOffset {
  /**
   * Redis' clock minus this process's, in milliseconds, taken at the middle of the round trip:
   * positive when this process's clock is behind Redis'.
   */
  offsetMs: number;
  /** How long the measurement took: the true offset lies within half of it either side of `offsetMs`. */
  roundTripMs: number;
}

/**
 * The offset from one reading of Redis' clock: Redis read `redisTimeMs` at some moment between
 * `sentAt` and `receivedAt` (this process's clock, epoch ms), taken to be the middle, so the result
 * is off by at most half the round trip. Every measurement goes through here (RedisClock.sample):
 * the store's clock readings and the revocation feed's loads and heartbeats.
 */
function clockOffset(redisTimeMs: number, sentAt: number, receivedAt: number): ClockOffset {
  const roundTripMs = receivedAt - sentAt;
  return { offsetMs: redisTimeMs - (sentAt + roundTripMs / 2), roundTripMs };
}

/** Clocks further apart than this (beyond the measurement's own uncertainty) are warned about. */
export const MAX_CLOCK_OFFSET_MS = 1000;

let warned = false;

/**
 * Warns once per process, with code `ERT_CLOCK_SKEW`, when a measurement proves the clocks differ
 * by more than {@link MAX_CLOCK_OFFSET_MS}: the offset minus half its round trip exceeds it.
 */
function warnIfClockSkewed(measured: ClockOffset): void {
  const certain = Math.abs(measured.offsetMs) - measured.roundTripMs / 2;
  if (warned || !(certain > MAX_CLOCK_OFFSET_MS)) return;
  warned = true;
  const seconds = (Math.abs(measured.offsetMs) / 1000).toFixed(1);
  const ahead = measured.offsetMs < 0;
  process.emitWarning(
    `This process's clock is ${seconds} s ${ahead ? 'ahead of' : 'behind'} Redis' (measured with Redis' TIME, to within ${(measured.roundTripMs / 2).toFixed(1)} ms). ` +
      "Revocation does not depend on it (login times, revokeUser marks and the store's epoch are Redis' time, and tokens are dated with the measured offset), " +
      `but this instance judges access-token expiry by its own clock, as any JWT verifier does: tokens expire here ${seconds} s ${ahead ? 'early' : 'late'}. ` +
      `Synchronise the clocks (NTP). (Said once per process, for clocks more than ${MAX_CLOCK_OFFSET_MS / 1000} s apart.)`,
    { code: 'ERT_CLOCK_SKEW' },
  );
}

/**
 * The offset between Redis' clock and this process's, kept from the latest quick measurement, so
 * that a deadline handed to a script means the same moment on both sides and tokens are dated on
 * Redis' clock without a round trip. Measurements that took long are not kept (their error would be
 * as large as their round trip); every one is checked by {@link warnIfClockSkewed}.
 */
export class RedisClock {
  private offsetMs = 0;

  constructor(private readonly maxSampleRoundTripMs: number) {}

  /** Records Redis' time as read by a command sent at `sentAt` whose reply arrived at `receivedAt` (this process's clock). */
  sample(redisTimeMs: number, sentAt: number, receivedAt: number): void {
    if (!Number.isFinite(redisTimeMs)) return;
    warnIfClockSkewed(clockOffset(redisTimeMs, sentAt, receivedAt));
    if (receivedAt - sentAt > this.maxSampleRoundTripMs) return;
    // Redis read its clock before the reply left, so this errs towards earlier times, never later:
    // earlier deadlines, and tokens dated a little early.
    this.offsetMs = redisTimeMs - receivedAt;
  }

  /** Redis' clock minus this process's (ms), from the latest quick measurement; 0 before the first. */
  get offset(): number {
    return this.offsetMs;
  }

  /** A time of this process's clock, on Redis' clock. */
  toRedis(appTimeMs: number): number {
    return Math.round(appTimeMs + this.offsetMs);
  }

  /** Now, on Redis' clock, as far as the last measurement tells (this process's clock before the first). */
  now(): number {
    return this.toRedis(Date.now());
  }
}

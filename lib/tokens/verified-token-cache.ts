// A bounded cache of access tokens already verified, so a token its client sends again is not verified again.

import { appClaims } from '../shared/claims';
import type { AccessTokenPayload } from './access-token';
import { nextKeyRetirement } from './signing-keys';

/** What requireAuth keeps of a token whose signature, algorithm, type and claims passed. */
export interface VerifiedToken {
  /** The verified payload, deep-frozen: requests carrying the same token share it. */
  readonly payload: AccessTokenPayload;
  /** The app's own claims from the payload, deep-frozen. */
  readonly claims: Record<string, unknown>;
  /** The payload's `auth_time` in epoch milliseconds, as the revocation feed compares it. */
  readonly authTime: number;
  /** When the token's claims date from, in epoch milliseconds: its `claims_time` when it has one, else its `auth_time`. */
  readonly claimsTime: number;
}

/**
 * How many verified tokens one auth instance remembers. An entry is about 1 KB (the token string
 * and its parsed payload), so a full cache holds about 10 MB; a token beyond it is verified again.
 */
export const VERIFIED_TOKEN_CACHE_SIZE = 10_000;

/** Freezes a parsed JSON value and everything in it (JSON is acyclic). */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}

/**
 * Verified tokens keyed by the exact token string, so a hit means these very bytes were verified
 * before: nothing about the token is trusted that was not checked. An entry never outlives the
 * token's `exp` (it is dropped on the first look at or after it, with jsonwebtoken's rule: expired
 * once the current whole second reaches `exp`), nor a verifying key's retirement (its `notAfter`:
 * the whole cache is emptied then, a rare event), and the oldest entry makes room when the cache is
 * full. Only verification is cached: revocation is still asked of the feed on every request.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, VerifiedToken>();
  /** When the next key retires (epoch ms), or `Infinity`. */
  private emptyAt: number;

  /**
   * @param capacity - How many tokens to remember.
   * @param keyNotAfter - When verifying keys retire (epoch ms, by kid): the cache empties itself at each.
   */
  constructor(
    private readonly capacity: number = VERIFIED_TOKEN_CACHE_SIZE,
    private readonly keyNotAfter: ReadonlyMap<string, number> = new Map(),
  ) {
    this.emptyAt = nextKeyRetirement(keyNotAfter, Date.now());
  }

  /** The entry for `token` if it was verified, has not expired at `nowMs` (epoch ms), and no key has retired since. */
  get(token: string, nowMs: number): VerifiedToken | undefined {
    if (nowMs >= this.emptyAt) {
      this.entries.clear();
      this.emptyAt = nextKeyRetirement(this.keyNotAfter, nowMs);
    }
    const entry = this.entries.get(token);
    if (entry === undefined) return undefined;
    if (entry.payload.exp > Math.floor(nowMs / 1000)) return entry;
    this.entries.delete(token);
    return undefined;
  }

  /** Forgets every token: the keys that verified them changed (a verifier's JWKS dropped one). */
  clear(): void {
    this.entries.clear();
  }

  /** Remembers a token that has just been verified and returns its entry. */
  add(token: string, payload: AccessTokenPayload): VerifiedToken {
    const authTime = Math.round(payload.auth_time * 1000);
    const entry: VerifiedToken = {
      payload: deepFreeze(payload),
      claims: Object.freeze(appClaims(payload)),
      authTime,
      claimsTime: payload.claims_time === undefined ? authTime : Math.round(payload.claims_time * 1000),
    };
    if (this.capacity <= 0) return entry;
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(token, entry);
    return entry;
  }

  /** How many tokens are remembered. */
  get size(): number {
    return this.entries.size;
  }
}

// The SessionStore contract: what RedisStore and MemoryStore both implement, and what the core relies on.

/** What a store keeps about one session (one refresh-token family). Times are epoch milliseconds. */
export interface SessionRecord {
  /** The session (family) id; also the access token's `sid` claim. */
  sessionId: string;
  /** The user the session belongs to; the access token's `sub` claim. */
  userId: string;
  /** The app's extra claims from `authenticate`, re-issued in every access token. */
  claims: Record<string, unknown>;
  /** When the family was created (login). */
  createdAt: number;
  /** When its refresh token was last rotated (or the login time). */
  lastUsedAt: number;
  /** When the family dies: `min(lastUsedAt + idleTtl, createdAt + absoluteTtl)`. */
  expiresAt: number;
  /** The absolute deadline `createdAt + absoluteTtl`; rotation never moves it. */
  absoluteExpiresAt: number;
  /** The `User-Agent` of the login request, truncated. */
  userAgent: string;
}

/** What is needed to create a family. */
export interface NewSession {
  sessionId: string;
  userId: string;
  claims: Record<string, unknown>;
  userAgent: string;
  /** Hash of the first refresh secret; the secret itself is never stored. */
  secretHash: string;
  now: number;
  idleTtlMs: number;
  absoluteTtlMs: number;
}

/**
 * The record a new family starts with: created and last used now, dying at
 * `min(now + idleTtl, now + absoluteTtl)`. Both stores and the caller build it this one way.
 */
export function newSessionRecord(session: NewSession): SessionRecord {
  const absoluteExpiresAt = session.now + session.absoluteTtlMs;
  return {
    sessionId: session.sessionId,
    userId: session.userId,
    claims: session.claims,
    createdAt: session.now,
    lastUsedAt: session.now,
    expiresAt: Math.min(session.now + session.idleTtlMs, absoluteExpiresAt),
    absoluteExpiresAt,
    userAgent: session.userAgent,
  };
}

/**
 * One presentation of a refresh token. Both hashes are computed by the caller, so a store never sees
 * a secret: `presentedHash` is the hash of the presented secret, `successorHash` the hash of the
 * secret derived from it (`HMAC(refreshToken.secret, sessionId ‖ secret)`).
 */
export interface TokenPresentation {
  presentedHash: string;
  successorHash: string;
  now: number;
  /** `'rotate'` for `/refresh`; `'revoke'` for logout and re-login (end the family if the token is its own). */
  action: 'rotate' | 'revoke';
  idleTtlMs: number;
  reuseGraceMs: number;
  /** How long the revocation marker must outlive a revocation: the access-token lifetime plus leeway. */
  revokedMarkerTtlMs: number;
}

/**
 * The outcome of a {@link TokenPresentation}, decided atomically by the store:
 * - `rotated`: the presented token was current; the successor is now current.
 * - `retried`: the presented token was the previous one, inside the grace window; the successor
 *   (already current) is answered again. Nothing changes.
 * - `revoked`: action `revoke` and the token was the family's current one, or the previous one
 *   inside the grace window; family ended.
 * - `reuse`: the token was provably older (previous outside the window, or the one before it),
 *   whatever the action; the family was revoked.
 * - `unknown`: the session exists but the token matches neither of its last two secrets. The caller
 *   walks the derivation chain (`chain`) to tell an older token (reuse) from a forgery.
 * - `missing`: no such session (never existed, expired or revoked).
 */
export type PresentationOutcome =
  | { status: 'rotated' | 'retried' | 'revoked' | 'reuse'; session: SessionRecord }
  | { status: 'unknown'; chain: { currentHash: string; previousHash: string; rotations: number } }
  | { status: 'missing' };

/**
 * The storage contract. Every method is atomic with respect to one session, rejects with a
 * `StoreUnavailableError` when its backend cannot answer in time, and never stores a secret.
 * Implementations: `RedisStore` (production) and `MemoryStore` (one process, development, tests).
 */
export interface SessionStore {
  /** Creates a family, indexes it under its user, and resolves with its record. */
  createSession(session: NewSession): Promise<SessionRecord>;
  /** Applies one refresh-token presentation atomically (see {@link PresentationOutcome}). */
  presentToken(sessionId: string, presentation: TokenPresentation): Promise<PresentationOutcome>;
  /**
   * Ends a session unconditionally and marks its id revoked for `revokedMarkerTtlMs`, so access
   * tokens carrying it are refused. Resolves with the record that was ended, or `null`.
   */
  revokeSession(sessionId: string, revokedMarkerTtlMs: number): Promise<SessionRecord | null>;
  /** The live session with this id, or `null`. */
  getSession(sessionId: string): Promise<SessionRecord | null>;
  /** Every live session of a user, oldest first. */
  listSessions(userId: string): Promise<SessionRecord[]>;
  /** Whether access tokens with this `sid` must be refused because the session was revoked. */
  isRevoked(sessionId: string): Promise<boolean>;
  /** Releases timers the store owns. Never closes a client it was given. */
  close?(): Promise<void>;
}

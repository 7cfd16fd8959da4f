// Session families: logging in, refreshing, logging out and revoking; the only caller of the store and the only emitter of session events.
import { deviceLabel } from '../device-label';
import { ErrorCodes, revocationFeedStale, StoreUnavailableError } from '../errors';
import type { AuthEvents, LogoutAbandonReason, RevocationReason, SessionEvent, UserRevocationReason } from '../events';
import { networkLabel } from '../network-label';
import type { Configuration } from '../options';
import { revocationChannelKey } from '../revocation/revocation-channel-mac';
import type { ProofOfIdentity } from '../shared/verification';
import {
  optionalStoreMethod,
  PROCESS_CLOCK,
  type PresentationOutcome,
  type RevocationFeed,
  type SessionRecord,
  type StoreClock,
  type TokenPresentation,
} from '../store/session-store';
import {
  clientFingerprint,
  deriveSuccessor,
  deviceFingerprint,
  formatRefreshToken,
  hashSecret,
  keyFingerprint,
  newRefreshSecret,
  newSessionId,
  parseRefreshToken,
  proofNonce,
  type RefreshTokenKeys,
  type RefreshTokenParts,
  refreshTokenKeys,
} from '../tokens/refresh-token';
import { type ClaimsUpdate, type ClaimsUpdateDeps, markJustPast, updateUserClaims } from './claims-update';
import { KeyBinding, type ProofRefused, type ProofRequest, type ValidProof } from './key-binding';
import { OperationsUnderWay } from './operations-under-way';
import { PendingLogouts } from './pending-logouts';
import {
  type AuthenticatedUser,
  type ClientInfo,
  type IssuedSession,
  type PresentationResult,
  REFRESH_REFUSED,
  type RefreshOutcome,
  type StartedSession,
} from './session-outcomes';

export type { AuthenticatedUser, ClientInfo, IssuedSession, PresentationResult, RefreshOutcome } from './session-outcomes';

/** The 503 cause of a login, refresh or logout that arrives once close() has begun. */
function shuttingDown(): StoreUnavailableError {
  return new StoreUnavailableError('this instance is shutting down (auth.close() was called): it starts no new login, refresh or logout', {
    code: ErrorCodes.ERR_SHUTTING_DOWN,
  });
}

function sessionEvent(client: ClientInfo, session: SessionRecord): SessionEvent {
  return { userId: session.userId, sessionId: session.sessionId, ip: client.ip, userAgent: client.userAgent };
}

/**
 * The family lifecycle on top of a SessionStore: the store decides atomically, this side holds
 * the derivation key and never hands a secret (only hashes) to the store. It owns the instance's
 * revocation feed, and reports every session event, once.
 */
export class SessionService {
  /** This instance's copy of the store's revocations, asked by requireAuth on every request. */
  readonly feed: RevocationFeed;
  private readonly keys: RefreshTokenKeys;
  /** The proofs of possession of a device key that bound families need. */
  readonly binding: KeyBinding;
  /** The store's clock: login starts and revokeUser marks are its times (see StoreClock). */
  private readonly clock: StoreClock;
  /** Logouts that answered 503, retried in the background until their session has ended. */
  private readonly pendingLogouts = new PendingLogouts();
  /** Whether this instance has said, as a process warning, that a logout was abandoned with no listener to hear it. */
  private warnedLogoutAbandoned = false;
  /** Logins, refreshes, logouts and step-ups under way: close() refuses new ones and waits for them. */
  private readonly operations = new OperationsUnderWay(shuttingDown);
  /** What close() does, once begun. */
  private closing: Promise<void> | undefined;

  constructor(
    private readonly config: Configuration,
    private readonly events: AuthEvents,
  ) {
    this.feed = config.store.openRevocationFeed({ ...config.revocation, channelKey: revocationChannelKey(config.refreshToken.successorKey) });
    this.keys = refreshTokenKeys(config.refreshToken.successorKey);
    this.binding = new KeyBinding(config.refreshToken.binding, this.keys, events);
    this.clock = config.store.clock ?? PROCESS_CLOCK;
  }

  /**
   * The moment a login begins, on the store's clock (a whole millisecond): read before
   * `authenticate` runs, so a revokeUser during a slow credential check ends this login too. Pass it
   * to {@link login}.
   */
  async loginStart(): Promise<number> {
    if (this.operations.closing) throw shuttingDown();
    return Math.floor(await this.clock.read());
  }

  /** Now on the store's clock, without a round trip: what access tokens and cookies are dated with. */
  now(): number {
    return this.clock.now();
  }

  /**
   * Starts a family for a user whose login began at `loginStartedAt` ({@link loginStart}, before `authenticate` ran),
   * and ends the family of the refresh cookie the client still held, if any. Resolves with `null`
   * when `revokeUser` was called for the user after the login began: nothing is issued.
   */
  async login(
    user: AuthenticatedUser,
    loginStartedAt: number,
    client: ClientInfo,
    heldCookie: string | undefined,
    jkt?: string,
  ): Promise<IssuedSession | null> {
    this.operations.enter();
    try {
      const started = await this.start(user, loginStartedAt, client, jkt);
      if (!started) return null;
      // The old family ends only once the new one exists, so a 503 leaves the client a working cookie.
      // One bound to a key ends only when this login proved the same key: a cookie alone ends nothing.
      const held = heldCookie === undefined ? null : parseRefreshToken(this.keys, heldCookie);
      if (held && (held.jkt === undefined || held.jkt === jkt)) {
        const ended = await this.presentParts(held, 'revoke', client).catch((error: unknown) => {
          this.config.store.discardSession(started.session.sessionId).catch(() => undefined);
          throw error;
        });
        this.reportEnded(ended, client, 'new_login');
      }
      this.events.emit('login', sessionEvent(client, started.session));
      const { device, network } = started.session;
      if (started.newDevice) this.events.emit('new_device', { ...sessionEvent(client, started.session), device, network });
      return { session: started.session, refreshToken: started.refreshToken, nonce: started.nonce };
    } finally {
      this.operations.leave();
    }
  }

  /**
   * Rotates a refresh token (`boundOnly` when it came out of its cookie, in a body: then only a token
   * bound to a key counts). Resolves with the session and its next refresh token, or why it was refused.
   */
  async refresh(cookieValue: string | undefined, client: ClientInfo, proof: () => ProofRequest, boundOnly = false): Promise<RefreshOutcome> {
    if (cookieValue === undefined) return REFRESH_REFUSED.invalid;
    const parts = parseRefreshToken(this.keys, cookieValue);
    // Out of its cookie (`boundOnly`: sent in a body), only a token bound to a key counts.
    if (!parts || (boundOnly && parts.jkt === undefined)) return REFRESH_REFUSED.invalid;
    // After the MAC, before anything else: a bound family is never refreshed without its key's proof.
    const proven = this.binding.forToken('refresh', parts, proof, client);
    if (proven !== undefined && 'status' in proven) return proven;
    this.operations.enter();
    try {
      // Checked before rotating: a refresh answered 503 must not have rotated the family.
      if (this.feed.freshness() === 'loading') await this.feed.ready();
      if (this.feed.freshness() !== 'fresh') throw revocationFeedStale(this.feed.lastFailure?.());
      const result = await this.presentParts(parts, 'rotate', client, proven);
      if (result.status === 'rotated' || result.status === 'retried') {
        if (this.revokedByFeed(result.session)) {
          await this.revoke(result.session.sessionId);
          return REFRESH_REFUSED.revoked;
        }
        if (this.events.listenerCount('refresh') > 0) {
          this.events.emit('refresh', { ...sessionEvent(client, result.session), retried: result.status === 'retried' });
        }
        return result;
      }
      if (result.status === 'reuse') {
        this.events.emit('reuse_detected', sessionEvent(client, result.session));
        return REFRESH_REFUSED.reuse;
      }
      return result.status === 'missing' ? REFRESH_REFUSED.expired : REFRESH_REFUSED[result.status];
    } finally {
      this.operations.leave();
    }
  }

  /**
   * The session (family id) a refresh cookie belongs to when it is a token this server issued (its
   * MAC holds), else `undefined`: one HMAC, no store call. Throttling counts such refreshes per session.
   */
  familyOf(cookieValue: string): string | undefined {
    return parseRefreshToken(this.keys, cookieValue)?.sessionId;
  }

  /**
   * Ends the family of a refresh cookie, if it is the family's own token. A cookie that is not a token
   * this server issued (its MAC fails) ends nothing and costs one HMAC: the store is never asked. When
   * the store does not answer, the outage is rethrown (the request answers 503) and the logout is
   * retried in the background ({@link PendingLogouts}) until the family has ended, its latest possible
   * end (now plus `absoluteTtl`: the store alone knows the real one) has passed, or the instance closes;
   * `logout` is emitted then with `deferred: true`, or `logout_abandoned` if it never happened. One
   * that arrives once close() has begun is refused the same way (`ERR_SHUTTING_DOWN`), and abandoned
   * (`closed`) when the instance closes. A family bound to a key ends only with a valid proof: else
   * resolves with the refusal, and nothing is ended.
   */
  async logout(cookieValue: string | undefined, client: ClientInfo, proof: () => ProofRequest, boundOnly = false): Promise<ProofRefused | undefined> {
    const parts = cookieValue === undefined ? null : parseRefreshToken(this.keys, cookieValue);
    if (!parts || (boundOnly && parts.jkt === undefined)) return;
    // A bound family ends only for the holder of its key: a copied cookie cannot sign its owner out.
    const proven = this.binding.forToken('logout', parts, proof, client);
    if (proven !== undefined && 'status' in proven) return proven;
    // The same presentation every time (hashes only: no secret waits in memory), judged by the store when it arrives.
    const presentation = this.presentation(parts, deriveSuccessor(this.keys, parts.sessionId, parts.secret), 'revoke', client, proven);
    const endFamily = async (deferred: boolean): Promise<void> => {
      this.reportEnded(await this.config.store.presentToken(parts.sessionId, presentation), client, 'logout', deferred);
    };
    try {
      this.operations.enter();
      try {
        await endFamily(false);
      } finally {
        this.operations.leave();
      }
    } catch (error) {
      if (error instanceof StoreUnavailableError) {
        this.pendingLogouts.add(parts.sessionId, {
          until: Date.now() + this.config.refreshToken.absoluteTtlMs,
          attempt: () => endFamily(true),
          abandon: (reason) => this.reportLogoutAbandoned(parts.sessionId, client, reason),
        });
      }
      throw error;
    }
    return undefined;
  }

  /** Ends one session now, silently (reuse, clean-up); access tokens carrying its id are refused from now on. */
  revoke(sessionId: string): Promise<SessionRecord | null> {
    return this.config.store.revokeSession(sessionId, this.config.refreshToken.revocationTtlMs);
  }

  /** Ends one session on request and emits `session_revoked` when it existed. */
  async revokeSession(sessionId: string, reason: RevocationReason): Promise<SessionRecord | null> {
    const record = await this.revoke(sessionId);
    if (record) this.events.emit('session_revoked', { userId: record.userId, sessionId, reason });
    return record;
  }

  /**
   * Ends every session of a user whose login began up to now, logins in flight included, emits
   * `user_revoked`, and resolves with the ids that were ended. "Up to now" includes the current
   * millisecond: a login that began in the very millisecond of the call (and may have answered
   * already) is ended too, where a strict "before now" would let it live. It resolves only once that
   * millisecond has passed, so a login that begins after it resolved (signing in again after a
   * password change) is never refused. "Now" and "passed" are the store's clock, which every
   * instance reads for its logins' starts, whatever its own clock says.
   */
  async revokeUser(userId: string, reason: UserRevocationReason = 'api'): Promise<string[]> {
    const { mark: revokedBefore, passed } = await markJustPast(this.clock);
    const ended = await this.config.store.revokeUser(userId, { revokedBefore, retainMs: this.config.revocation.retainMs });
    await passed();
    const sessionIds = ended.map((record) => record.sessionId);
    this.events.emit('user_revoked', { userId, sessionIds, reason });
    return sessionIds;
  }

  /**
   * Gives every live session of a user new claims (see {@link updateUserClaims}; `check` validates
   * each session's), emits `claims_updated`, and resolves with the ids of the sessions updated.
   */
  async updateClaims(userId: string, update: ClaimsUpdate, immediate: boolean, check: ClaimsUpdateDeps['check']): Promise<string[]> {
    const deps = { store: this.config.store, clock: this.clock, retainMs: this.config.refreshToken.revocationTtlMs, check };
    const sessionIds = await updateUserClaims(deps, userId, update, immediate);
    this.events.emit('claims_updated', { userId, sessionIds, immediate });
    return sessionIds;
  }

  /** The user's live sessions, oldest first. */
  listSessions(userId: string): Promise<SessionRecord[]> {
    return this.config.store.listSessions(userId);
  }

  /** A live session of this user, or `null` (also when it is another user's). */
  async sessionOf(userId: string, sessionId: string): Promise<SessionRecord | null> {
    const record = await this.config.store.getSession(sessionId);
    return record && record.userId === userId ? record : null;
  }

  /**
   * Records a step-up: the user of a live session proved again who they are (`proof`), now on the
   * store's clock. Resolves with the session as amended, whose access tokens now carry it, or `null`
   * when the session is no longer live (nothing is recorded). Emits `reauthenticated`.
   */
  async reauthenticate(sessionId: string, proof: ProofOfIdentity, client: ClientInfo): Promise<SessionRecord | null> {
    const { store } = this.config;
    const amendSession = optionalStoreMethod(store, 'amendSession', 'POST /reauth (a step-up)');
    this.operations.enter();
    try {
      const record = await amendSession(sessionId, { verification: { at: Math.floor(this.clock.now()), ...proof } });
      if (record === null || this.revokedByFeed(record)) return null;
      this.events.emit('reauthenticated', { ...sessionEvent(client, record), ...proof });
      return record;
    } finally {
      this.operations.leave();
    }
  }

  /** Reports a step-up whose proof failed: the session goes on. */
  reauthenticationFailed(userId: string, sessionId: string, client: ClientInfo): void {
    this.events.emit('reauth_failed', { userId, sessionId, ip: client.ip, userAgent: client.userAgent });
  }

  /**
   * Refuses new logins, refreshes and logouts (`ERR_SHUTTING_DOWN`), waits for those under way to
   * finish (each within the store's time budget), then stops the feed and the retries of pending
   * logouts (those still waiting are reported abandoned). Called again, it returns the same promise.
   */
  close(): Promise<void> {
    this.closing ??= this.operations.close().then(async () => {
      await Promise.all([this.feed.close(), this.pendingLogouts.close()]);
    });
    return this.closing;
  }

  /** Creates the family; `newDevice` is the store's answer (see CreatedSession), the session record comes without it. */
  private async start(user: AuthenticatedUser, loginStartedAt: number, client: ClientInfo, jkt: string | undefined): Promise<StartedSession | null> {
    const { store, refreshToken } = this.config;
    const sessionId = newSessionId();
    const secret = newRefreshSecret();
    const device = deviceLabel(client.userAgent);
    const network = networkLabel(client.ip, this.config.sessionNetwork);
    // With 'address' the device is still known by its network, not its address (which a phone changes daily).
    const deviceNetwork = this.config.sessionNetwork === 'address' ? networkLabel(client.ip, 'prefix') : network;
    const created = await store.createSession({
      sessionId,
      userId: user.userId,
      claims: user.claims,
      device,
      network,
      deviceHash: deviceFingerprint(this.keys, device, deviceNetwork),
      secretHash: hashSecret(secret),
      clientHash: this.clientHashOf(client, jkt),
      bound: jkt !== undefined,
      verification: user.proof === undefined ? undefined : { at: loginStartedAt, ...user.proof },
      now: loginStartedAt,
      idleTtlMs: refreshToken.idleTtlMs,
      absoluteTtlMs: refreshToken.absoluteTtlMs,
      maxSessionsPerUser: this.config.maxSessionsPerUser,
      revocationTtlMs: refreshToken.revocationTtlMs,
    });
    if (!created) return null;
    const { newDevice, ...session } = created;
    const token = formatRefreshToken(this.keys, { sessionId, generation: 0, secret, jkt });
    return { session, refreshToken: token, nonce: jkt === undefined ? undefined : proofNonce(this.keys, sessionId, 0), newDevice: newDevice === true };
  }

  /**
   * Presents a refresh cookie value: `rotate` for `/refresh`, `revoke` to end the family it belongs
   * to (logout, re-login). A token that is not authentic (its MAC fails) is `invalid` at once, at the
   * same cost for every session; an authentic earlier token of its family revokes the family
   * (`reuse`), decided by the store in the same atomic step.
   */
  private async presentParts(parts: RefreshTokenParts, action: 'rotate' | 'revoke', client: ClientInfo, proof?: ValidProof): Promise<PresentationResult> {
    const successor = deriveSuccessor(this.keys, parts.sessionId, parts.secret);
    const outcome = await this.config.store.presentToken(parts.sessionId, this.presentation(parts, successor, action, client, proof));
    switch (outcome.status) {
      case 'rotated':
      case 'retried': {
        const generation = parts.generation + 1;
        const next = { sessionId: parts.sessionId, generation, secret: successor, jkt: parts.jkt };
        const nonce = parts.jkt === undefined ? undefined : proofNonce(this.keys, parts.sessionId, generation);
        // Written out, not `{ ...outcome, refreshToken }`: a spread followed by a property takes V8's slow path (about 1 µs).
        return { status: outcome.status, session: outcome.session, refreshToken: formatRefreshToken(this.keys, next), nonce };
      }
      case 'revoked':
      case 'reuse':
        return { status: outcome.status, session: outcome.session };
      case 'unknown':
        return { status: 'invalid' };
      case 'missing':
        return { status: 'missing' };
    }
  }

  /**
   * What the store is told of an authentic token presented by `client`: hashes only, never a secret.
   * The client of a bound family is its key (the grace window answers its holder wherever it is),
   * and the proof's hash lets the store refuse that very proof replayed.
   */
  private presentation(parts: RefreshTokenParts, successor: string, action: 'rotate' | 'revoke', client: ClientInfo, proof?: ValidProof): TokenPresentation {
    const { refreshToken } = this.config;
    const presentation: TokenPresentation = {
      presentedHash: hashSecret(parts.secret),
      successorHash: hashSecret(successor),
      generation: parts.generation,
      clientHash: this.clientHashOf(client, parts.jkt),
      action,
      idleTtlMs: refreshToken.idleTtlMs,
      reuseGraceMs: refreshToken.reuseGraceMs,
      revocationTtlMs: refreshToken.revocationTtlMs,
    };
    if (proof !== undefined) presentation.proofHash = proof.proofHash;
    return presentation;
  }

  /**
   * Who the store takes for the family's client (the grace window answers a retry only to it): the
   * holder of its key for a bound family, wherever it is; else its network and User-Agent.
   */
  private clientHashOf(client: ClientInfo, jkt: string | undefined): string {
    return jkt === undefined ? clientFingerprint(this.keys, client.ip, client.userAgent) : keyFingerprint(this.keys, jkt);
  }

  /**
   * Whether a session the store just rotated must end after all, by the feed (checked fresh just
   * before): a user revocation or a data loss it predates, or a revocation whose family deletion
   * failed. Only `revoked` counts, so a rotation is never answered with a 503. Synchronous: the
   * usual answer costs no promise. A claims change ends no session that received it (its claims
   * date from the change, which the feed compares); only one that missed it (a login stored after
   * `updateClaims` last listed the user's sessions), whose tokens would all be refused.
   */
  private revokedByFeed(session: SessionRecord): boolean {
    return this.feed.verdict(session.sessionId, session.userId, session.createdAt, session.claimsUpdatedAt ?? session.createdAt) === 'revoked';
  }

  /** Reports what a presentation did to a family that was not simply rotated; `deferred` for a logout's background retry. */
  private reportEnded(result: PresentationResult | PresentationOutcome, client: ClientInfo, reason: 'logout' | 'new_login', deferred = false): void {
    if (result.status === 'reuse') this.events.emit('reuse_detected', sessionEvent(client, result.session));
    if (result.status !== 'revoked') return;
    if (reason === 'logout') this.events.emit('logout', { ...sessionEvent(client, result.session), deferred });
    else this.events.emit('session_revoked', { userId: result.session.userId, sessionId: result.session.sessionId, reason });
  }

  /**
   * Reports a logout whose background retry stopped before the family ended: `logout_abandoned`, or,
   * with nobody listening, once per instance a process warning (`ERT_LOGOUT_ABANDONED`) that names no
   * session. An `expired` one is only an event: its session has ended by itself.
   */
  private reportLogoutAbandoned(sessionId: string, client: ClientInfo, reason: LogoutAbandonReason): void {
    const heard = this.events.emit('logout_abandoned', { sessionId, ip: client.ip, userAgent: client.userAgent, reason });
    if (heard || reason === 'expired' || this.warnedLogoutAbandoned) return;
    this.warnedLogoutAbandoned = true;
    process.emitWarning(
      `A logout answered 503 (the session store did not answer) and its session could not be ended on the server before retrying stopped (${reason}): ` +
        'the browser was signed out, but the session lives until it expires for whoever holds a copy of its refresh cookie. ' +
        "Listen to auth.events 'logout_abandoned' to learn which sessions, and end them with auth.revokeSession. (Said once per instance.)",
      { code: 'ERT_LOGOUT_ABANDONED' },
    );
  }
}

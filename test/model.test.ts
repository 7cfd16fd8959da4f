// Model-based property test: fast-check drives random sequences of logins, refreshes (current, previous,
// older and forged tokens, concurrent pairs; with no proof, a fresh one, or the very proof of the last
// rotation replayed), logouts, revocations, claims updates (and claims-change marks) and time passing against MemoryStore
// and RedisStore, checking every outcome against a small reference model and the family invariants.
import { createSecretKey, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { Verification } from '../lib/shared/verification';
import { MemoryStore } from '../lib/store/memory-store';
import type { PresentationOutcome, RevocationFeed, SessionRecord, SessionStore, TokenPresentation } from '../lib/store/session-store';
import { newRefreshSecret } from '../lib/tokens/refresh-token';
import { closeClients, keysUnder, redisStore } from './support/harness';
import { CLIENT_A, CLIENT_B, Family, FEED_OPTIONS, sleep } from './support/store-contract';

afterAll(closeClients);

// Short durations: real time is the stores' clock, and the runs must stay quick.
const REUSE_GRACE_MS = 150;
const IDLE_TTL_MS = 1_500;
/** Short enough that a family can reach it within one run (a login that began ~1.4 s ago, rotated, dies ~0.6 s later). */
const ABSOLUTE_TTL_MS = 1_800;
/** The longest any one action sleeps. */
const MAX_SLEEP_MS = 200;
const REVOCATION_TTL_MS = 60_000;
const RETAIN_MS = 60_000;
/** Widens each measured call interval [before, after] by this much (ms rounding of both clocks). */
const SLACK_MS = 2;
const USERS = 2;
const NUM_RUNS = 40;
const MAX_ACTIONS = 15;

const key = createSecretKey(randomBytes(32));

/** Deep equality by value (records may come from another realm, e.g. structuredClone, so prototypes are not compared). */
function sameValue(a: unknown, b: unknown): boolean {
  const canonical = (value: unknown): string =>
    JSON.stringify(value, (_, v: unknown) =>
      v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : 1))) : v,
    );
  return canonical(a) === canonical(b);
}

// ---------------------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------------------

type TokenKind = 'current' | 'previous' | 'older' | 'forged';
interface PresentAction {
  kind: 'present';
  fam: number;
  token: TokenKind;
  client: 'same' | 'other';
  action: 'rotate' | 'revoke';
  pick: number;
  graceEdgeOffset: number | null;
  /**
   * The device-key proof the presentation carries (`TokenPresentation.proofHash`): none (an unbound
   * family), a fresh one, or the one the family's last rotation recorded, replayed.
   */
  proof: ProofKind;
}
type ProofKind = 'none' | 'fresh' | 'replay';
type Action =
  /** A login of `user` that began `agoMs` ago (an in-flight login when a revokeUser lands meanwhile). */
  | { kind: 'login'; user: number; agoMs: number; client: 'A' | 'B' }
  /**
   * A presentation of one of the family's tokens (or a forgery) from its rotating client or the other
   * one; a previous token with `graceEdgeOffset` is presented that long after its grace window ends.
   */
  | PresentAction
  /** Two simultaneous presentations of the current token, from one client or from both. */
  | { kind: 'concurrent'; fam: number; clients: 'same' | 'different' }
  | { kind: 'revokeSession'; fam: number }
  | { kind: 'revokeUser'; user: number }
  /** New claims for one session, dated now or `agoMs` earlier (an update that lands after a later one). */
  | { kind: 'updateClaims'; fam: number; agoMs: number }
  /** A user's claims changed now: the feed refuses the user's tokens whose claims are older. */
  | { kind: 'markClaims'; user: number }
  /** A step-up on one session: its user proved who they are again now, by `amr`. */
  | { kind: 'reauth'; fam: number; amr: 'pwd' | 'hwk' }
  | { kind: 'wait'; ms: number }
  /** Time passing up to just around one of a family's edges (end of grace window, expiry), at most MAX_SLEEP_MS. */
  | { kind: 'waitEdge'; fam: number; edge: 'grace' | 'expiry'; offset: number };

/** A family: below 80, one the model has live (logging one in first if none is); otherwise any family, ended ones included. */
const famRef = fc.nat({ max: 99 });
/** Where a sleep lands relative to an edge: right at it (both outcomes possible), or just past it (only the later one). */
const edgeOffset = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.integer({ min: 4, max: 15 }), fc.integer({ min: 16, max: 60 }));
const loginArb: fc.Arbitrary<Action> = fc.record({
  kind: fc.constant('login' as const),
  user: fc.integer({ min: 0, max: USERS - 1 }),
  // Mostly fresh logins; some that began long enough ago to reach the idle deadline, or (once rotated)
  // the absolute one, within a run. Never past the idle deadline: such a family would be born dead.
  agoMs: fc.oneof(
    { weight: 3, arbitrary: fc.constant(0) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: IDLE_TTL_MS - 1 }) },
    { weight: 2, arbitrary: fc.integer({ min: IDLE_TTL_MS - 200, max: IDLE_TTL_MS - 1 }) },
  ),
  client: fc.constantFrom('A' as const, 'B' as const),
});
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 3, arbitrary: loginArb },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('present' as const),
      fam: famRef,
      token: fc.constantFrom<TokenKind>('current', 'current', 'current', 'previous', 'previous', 'previous', 'older', 'older', 'forged'),
      client: fc.constantFrom('same' as const, 'same' as const, 'same' as const, 'other' as const),
      action: fc.constantFrom('rotate' as const, 'rotate' as const, 'rotate' as const, 'rotate' as const, 'rotate' as const, 'revoke' as const),
      pick: fc.nat({ max: 7 }),
      graceEdgeOffset: fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: edgeOffset }),
      proof: fc.constantFrom<ProofKind>('none', 'none', 'fresh', 'fresh', 'replay'),
    }),
  },
  // Logout: 'revoke' with the current token.
  {
    weight: 1,
    arbitrary: famRef.map(
      (fam): Action => ({ kind: 'present', fam, token: 'current', client: 'same', action: 'revoke', pick: 0, graceEdgeOffset: null, proof: 'none' }),
    ),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('concurrent' as const),
      fam: famRef,
      clients: fc.constantFrom('same' as const, 'same' as const, 'different' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('revokeSession' as const), fam: famRef }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('revokeUser' as const), user: fc.integer({ min: 0, max: USERS - 1 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('updateClaims' as const),
      fam: famRef,
      agoMs: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 300 }) }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('markClaims' as const), user: fc.integer({ min: 0, max: USERS - 1 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reauth' as const), fam: famRef, amr: fc.constantFrom('pwd' as const, 'hwk' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: MAX_SLEEP_MS }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('waitEdge' as const),
      fam: famRef,
      edge: fc.constantFrom('grace' as const, 'grace' as const, 'expiry' as const),
      offset: edgeOffset,
    }),
  },
);
/** Every sequence starts with a login, so the other actions have a family to act on. */
const scenarioArb = fc.tuple(loginArb, fc.array(actionArb, { maxLength: MAX_ACTIONS - 1, size: 'max' })).map(([first, rest]) => [first, ...rest]);

// ---------------------------------------------------------------------------------------------------
// The reference model: one entry per family; time is a parameter of every decision.
// ---------------------------------------------------------------------------------------------------

interface ModelFamily {
  /** Builds the family's presentations; its chain of secrets is deterministic (secrets[k + 1] derives from secrets[k]). */
  readonly oracle: Family;
  readonly user: number;
  readonly createdAt: number;
  readonly absoluteAt: number;
  /** The last rotation (or login) time, as the store reported it. */
  lastUsedAt: number;
  /** Rotations so far: the current token is secrets[rotations], the previous one secrets[rotations - 1]. */
  rotations: number;
  /** The client that made the last rotation (or logged in). */
  client: string;
  /** The proof hash the last rotation carried ('' for none, and at login). */
  rotationProof: string;
  /** Ended by logout, reuse, revokeSession or revokeUser (or never created); expiry is derived from time. */
  ended: boolean;
  /** Its own session revocation reached the feed (logout, reuse, revokeSession). */
  sessionRevoked: boolean;
  /** Its claims: the login's until updateClaims replaced them, and when that was (absent until then). */
  claims?: Record<string, unknown>;
  claimsUpdatedAt?: number;
  /** The latest step-up recorded on it (absent until one): rotations, claims updates and reads keep it. */
  verification?: Verification;
}

type Status = PresentationOutcome['status'];
interface Presented {
  secret: string;
  generation: number;
  client: string;
  action: 'rotate' | 'revoke';
  presentation: TokenPresentation;
}
interface Decision {
  status: Status;
  next: ModelFamily;
  record?: SessionRecord;
}

/** Whether `p` carries the proof the family's last rotation recorded. */
const isReplayedProof = (f: ModelFamily, p: Presented): boolean => p.presentation.proofHash !== undefined && p.presentation.proofHash === f.rotationProof;
const expiresAt = (f: ModelFamily) => Math.min(f.lastUsedAt + IDLE_TTL_MS, f.absoluteAt);
const aliveAt = (f: ModelFamily, t: number) => !f.ended && t < expiresAt(f);
const otherClient = (client: string) => (client === CLIENT_A ? CLIENT_B : CLIENT_A);

function secretAt(f: ModelFamily, k: number): string {
  while (f.oracle.secrets.length <= k) f.oracle.advance();
  return f.oracle.secrets[k] as string;
}

function recordOf(f: ModelFamily): SessionRecord {
  const login = f.oracle.newSession(f.createdAt);
  const record: SessionRecord = {
    sessionId: f.oracle.sessionId,
    userId: f.oracle.userId,
    claims: f.claims ?? login.claims,
    createdAt: f.createdAt,
    lastUsedAt: f.lastUsedAt,
    expiresAt: expiresAt(f),
    absoluteExpiresAt: f.absoluteAt,
    userAgent: login.device,
    device: login.device,
    network: login.network,
  };
  if (f.claimsUpdatedAt !== undefined) record.claimsUpdatedAt = f.claimsUpdatedAt;
  if (f.verification !== undefined) record.verification = f.verification;
  return record;
}

/** What the store must answer to `p` if it decides at time `t` (steps 1-5 of the contract). */
function decide(f: ModelFamily, p: Presented, t: number): Decision {
  if (!aliveAt(f, t)) return { status: 'missing', next: f };
  const end = (status: 'revoked' | 'reuse'): Decision => ({ status, next: { ...f, ended: true, sessionRevoked: true }, record: recordOf(f) });
  if (p.secret === secretAt(f, f.rotations)) {
    if (p.action === 'revoke') return end('revoked');
    const next = { ...f, lastUsedAt: t, rotations: f.rotations + 1, client: p.client, rotationProof: p.presentation.proofHash ?? '' };
    return { status: 'rotated', next, record: recordOf(next) };
  }
  if (f.rotations > 0 && p.secret === secretAt(f, f.rotations - 1)) {
    // The very proof that rotated, replayed with the token it rotated: refused, nothing changes, whatever the window.
    if (isReplayedProof(f, p)) return { status: 'unknown', next: f };
    const inGrace = t - f.lastUsedAt <= REUSE_GRACE_MS && p.client === f.client;
    if (!inGrace) return end('reuse');
    return p.action === 'revoke' ? end('revoked') : { status: 'retried', next: f, record: recordOf(f) };
  }
  if (p.generation < f.rotations) return end('reuse');
  return { status: 'unknown', next: f };
}

/**
 * The decisions the store may have made during a call measured as [lo, hi]. The decision is
 * piecewise constant in time, changing only at the expiry and grace edges, so these few instants
 * cover every case; two outcomes are possible only when an edge falls inside [lo, hi].
 */
function candidateTimes(f: ModelFamily, lo: number, hi: number): number[] {
  const expiry = expiresAt(f);
  const graceEnd = f.lastUsedAt + REUSE_GRACE_MS;
  return [lo, hi, expiry - 1, expiry, graceEnd, graceEnd + 1].filter((t) => t >= lo && t <= hi);
}

/** The model's decision that explains an observed outcome (status and record), or `null`. */
function explain(f: ModelFamily, p: Presented, observed: PresentationOutcome, lo: number, hi: number): (Decision & { t: number }) | null {
  const times = observed.status === 'rotated' ? [observed.session.lastUsedAt].filter((t) => t >= lo && t <= hi) : candidateTimes(f, lo, hi);
  for (const t of times) {
    const decision = decide(f, p, t);
    if (decision.status !== observed.status) continue;
    if ('session' in observed && !sameValue(observed.session, decision.record)) continue;
    return { ...decision, t };
  }
  return null;
}

function allowedStatuses(f: ModelFamily, p: Presented, lo: number, hi: number): Status[] {
  return [...new Set(candidateTimes(f, lo, hi).map((t) => decide(f, p, t).status))];
}

// ---------------------------------------------------------------------------------------------------
// Running one scenario against a store
// ---------------------------------------------------------------------------------------------------

interface StoreFactory {
  name: string;
  make(): Promise<{ store: SessionStore; cleanup(): Promise<void> }>;
}

const memoryFactory: StoreFactory = {
  name: 'MemoryStore',
  make: async () => {
    const store = new MemoryStore();
    return { store, cleanup: () => store.close() };
  },
};

const redisFactory: StoreFactory = {
  name: 'RedisStore',
  make: async () => {
    const { store, client, prefix } = await redisStore();
    return {
      store,
      cleanup: async () => {
        await store.close();
        const keys = await keysUnder(client, prefix);
        if (keys.length > 0) await client.unlink(...keys);
      },
    };
  },
};

async function runScenario(factory: StoreFactory, actions: Action[]): Promise<void> {
  const setupStart = Date.now();
  const { store, cleanup } = await factory.make();
  let feed: RevocationFeed | undefined;
  try {
    feed = store.openRevocationFeed({ ...FEED_OPTIONS, retainMs: RETAIN_MS });
    await feed.ready();
    // The feed refuses logins from before the store (MemoryStore) or its epoch (RedisStore) began: somewhere in here.
    const validSince = { lo: setupStart - SLACK_MS, hi: Date.now() + SLACK_MS };
    await new Scenario(store, feed, validSince).run(actions);
  } finally {
    await feed?.close();
    await cleanup();
  }
}

class Scenario {
  private readonly families: ModelFamily[] = [];
  private readonly userIds = Array.from({ length: USERS }, (_, index) => `user-${index}-${randomBytes(4).toString('hex')}`);
  /** Per user, the latest revokeUser cut-off (logins that began before it are refused). */
  private readonly userRevokedBefore: number[] = Array.from({ length: USERS }, () => Number.NEGATIVE_INFINITY);
  /** Per user, the latest claims-change mark (tokens whose claims are older are refused). */
  private readonly userClaimsChangedAt: number[] = Array.from({ length: USERS }, () => Number.NEGATIVE_INFINITY);
  private claimsVersion = 0;
  /** Per family, every presented hash the store answered `rotated` to: a token must never rotate twice. */
  private readonly rotatedFrom = new Map<string, Set<string>>();
  private readonly trace: string[] = [];

  constructor(
    private readonly store: SessionStore,
    private readonly feed: RevocationFeed,
    private readonly validSince: { lo: number; hi: number },
  ) {}

  async run(actions: Action[]): Promise<void> {
    for (const action of actions) {
      this.trace.push(JSON.stringify(action));
      await this.apply(action);
      await this.checkInvariants();
    }
  }

  private fail(message: string): never {
    throw new Error(`${message}\n  trace:\n    ${this.trace.join('\n    ')}`);
  }

  private note(text: string): void {
    this.trace[this.trace.length - 1] += ` ${text}`;
  }

  private async family(ref: number): Promise<{ index: number; f: ModelFamily }> {
    const now = Date.now();
    let among = this.families.map((_, index) => index);
    if (ref < 80) {
      among = among.filter((index) => aliveAt(this.families[index] as ModelFamily, now + SLACK_MS));
      if (among.length === 0) {
        this.note('(no live family: login');
        await this.login({ kind: 'login', user: ref % USERS, agoMs: 0, client: 'A' });
        this.note(')');
        among = [this.families.length - 1];
      }
    }
    const index = among[ref % among.length] as number;
    this.note(`#${index}`);
    return { index, f: this.families[index] as ModelFamily };
  }

  private presented(f: ModelFamily, secret: string, generation: number, client: string, action: 'rotate' | 'revoke', proof: ProofKind = 'none'): Presented {
    const presentation = f.oracle.presentation(secret, {
      generation,
      clientHash: client,
      action,
      idleTtlMs: IDLE_TTL_MS,
      reuseGraceMs: REUSE_GRACE_MS,
      revocationTtlMs: REVOCATION_TTL_MS,
    });
    // A replay needs a recorded proof; without one it is a fresh proof.
    if (proof === 'replay' && f.rotationProof !== '') presentation.proofHash = f.rotationProof;
    else if (proof !== 'none') presentation.proofHash = randomBytes(12).toString('base64url');
    return { secret, generation, client, action, presentation };
  }

  private recordRotation(f: ModelFamily, p: Presented): void {
    let seen = this.rotatedFrom.get(f.oracle.sessionId);
    if (!seen) this.rotatedFrom.set(f.oracle.sessionId, (seen = new Set()));
    if (seen.has(p.presentation.presentedHash)) this.fail(`invariant: token of generation ${p.generation} rotated twice (two live successors)`);
    seen.add(p.presentation.presentedHash);
  }

  private async apply(action: Action): Promise<void> {
    switch (action.kind) {
      case 'login':
        return this.login(action);
      case 'present':
        return this.present(action);
      case 'concurrent':
        return this.concurrent(action);
      case 'revokeSession':
        return this.revokeSession(action.fam);
      case 'revokeUser':
        return this.revokeUser(action.user);
      case 'updateClaims':
        return this.updateClaims(action);
      case 'reauth':
        return this.reauth(action);
      case 'markClaims':
        return this.markClaims(action.user);
      case 'wait':
        return sleep(action.ms);
      case 'waitEdge': {
        const found = await this.family(action.fam);
        const edge = action.edge === 'grace' ? found.f.lastUsedAt + REUSE_GRACE_MS : expiresAt(found.f);
        return sleep(Math.min(MAX_SLEEP_MS, Math.max(0, edge + action.offset - Date.now())));
      }
    }
  }

  private async login({ user, agoMs, client }: Extract<Action, { kind: 'login' }>): Promise<void> {
    const createdAt = Date.now() - agoMs;
    const oracle = new Family(key, this.userIds[user]);
    const clientHash = client === 'A' ? CLIENT_A : CLIENT_B;
    const record = await this.store.createSession(
      // The per-user cap is never reached here (a run has far fewer families): the model leaves it out.
      oracle.newSession(createdAt, {
        idleTtlMs: IDLE_TTL_MS,
        absoluteTtlMs: ABSOLUTE_TTL_MS,
        clientHash,
        maxSessionsPerUser: 1_000,
        revocationTtlMs: REVOCATION_TTL_MS,
      }),
    );
    const refused = createdAt < (this.userRevokedBefore[user] as number);
    const f: ModelFamily = {
      oracle,
      user,
      createdAt,
      absoluteAt: createdAt + ABSOLUTE_TTL_MS,
      lastUsedAt: createdAt,
      rotations: 0,
      client: clientHash,
      rotationProof: '',
      ended: refused,
      sessionRevoked: false,
    };
    this.note(`-> #${this.families.length} ${record === null ? 'refused' : 'created'}`);
    if (refused && record !== null) this.fail('createSession kept a login that began before revokeUser');
    if (!refused && !sameValue(record, recordOf(f))) this.fail(`createSession returned ${JSON.stringify(record)}, expected ${JSON.stringify(recordOf(f))}`);
    this.families.push(f);
  }

  private async present(action: PresentAction): Promise<void> {
    const { index } = await this.family(action.fam);
    // A previous token needs a rotation behind it, an older one two: make them first (checked like any presentation).
    const needed = action.token === 'older' ? 2 : action.token === 'previous' ? 1 : 0;
    while ((this.families[index] as ModelFamily).rotations < needed && aliveAt(this.families[index] as ModelFamily, Date.now() + SLACK_MS)) {
      await this.presentOn(index, {
        token: 'current',
        client: 'same',
        action: 'rotate',
        pick: 0,
        graceEdgeOffset: null,
        proof: action.proof === 'none' ? 'none' : 'fresh',
      });
    }
    await this.presentOn(index, action);
  }

  private async presentOn(index: number, action: Omit<PresentAction, 'kind' | 'fam'>): Promise<void> {
    const f = this.families[index] as ModelFamily;
    const n = f.rotations;
    // A kind the family has no token of yet falls back to the nearest one it has.
    let token = action.token;
    if (token === 'older' && n < 2) token = 'previous';
    if (token === 'previous' && n < 1) token = 'current';
    let secret: string;
    let generation: number;
    if (token === 'current') [secret, generation] = [secretAt(f, n), n];
    else if (token === 'previous') [secret, generation] = [secretAt(f, n - 1), n - 1];
    else if (token === 'older') {
      generation = action.pick % (n - 1);
      secret = secretAt(f, generation);
    } else [secret, generation] = [newRefreshSecret(), n + (action.pick % 3)]; // a forgery claims a generation not behind the family's
    if (token === 'previous' && action.graceEdgeOffset !== null) {
      await sleep(Math.min(MAX_SLEEP_MS, Math.max(0, f.lastUsedAt + REUSE_GRACE_MS + action.graceEdgeOffset - Date.now())));
    }
    const p = this.presented(f, secret, generation, action.client === 'same' ? f.client : otherClient(f.client), action.action, action.proof);

    const lo = Date.now() - SLACK_MS;
    const outcome = await this.store.presentToken(f.oracle.sessionId, p.presentation);
    const hi = Date.now() + SLACK_MS;
    this.note(`${token} gen ${generation} -> ${outcome.status}`);

    // The invariants, stated on their own (the model below implies them too).
    const status = outcome.status;
    const surelyAlive = aliveAt(f, hi);
    if (token === 'forged' && status !== 'unknown' && status !== 'missing') this.fail(`invariant: a forgery was answered ${status}`);
    const replayOutsideWindow = token === 'previous' && !isReplayedProof(f, p) && (p.client !== f.client || lo - f.lastUsedAt > REUSE_GRACE_MS);
    if (token === 'previous' && isReplayedProof(f, p) && status !== 'unknown' && (surelyAlive || status !== 'missing'))
      this.fail(`invariant: a replayed proof was answered ${status}, not unknown`);
    if (token === 'older' || replayOutsideWindow) {
      if (status !== 'reuse' && (surelyAlive || status !== 'missing'))
        this.fail(`invariant: a replay (${token}, ${p.client === f.client ? 'same' : 'other'} client) was answered ${status}, not reuse`);
    }
    if (status === 'rotated') this.recordRotation(f, p);

    const decision = explain(f, p, outcome, lo, hi);
    if (!decision) {
      this.fail(
        `presentToken(${token}) answered ${JSON.stringify(outcome)}; the model allows ${allowedStatuses(f, p, lo, hi).join('|')} ` +
          `with record ${JSON.stringify(decide(f, p, lo).record)} (call ${lo + SLACK_MS}..${hi - SLACK_MS}, lastUsedAt ${f.lastUsedAt}, expiresAt ${expiresAt(f)})`,
      );
    }
    this.families[index] = decision.next;
  }

  private async concurrent({ fam, clients }: Extract<Action, { kind: 'concurrent' }>): Promise<void> {
    const { index, f } = await this.family(fam);
    const secret = secretAt(f, f.rotations);
    const pair = [
      this.presented(f, secret, f.rotations, f.client, 'rotate'),
      this.presented(f, secret, f.rotations, clients === 'same' ? f.client : otherClient(f.client), 'rotate'),
    ];
    const lo = Date.now() - SLACK_MS;
    const calls = await Promise.all(
      pair.map(async (p) => {
        const outcome = await this.store.presentToken(f.oracle.sessionId, p.presentation);
        return { p, outcome, hi: Date.now() + SLACK_MS };
      }),
    );
    const statuses = calls.map((call) => call.outcome.status);
    this.note(`-> ${statuses.join(' + ')}`);
    const hi = Math.max(...calls.map((call) => call.hi));
    for (const call of calls) if (call.outcome.status === 'rotated') this.recordRotation(f, call.p);

    // The invariant on its own: one rotation; the twin is a retry (same client) or reuse (other client).
    if (aliveAt(f, hi) && hi - lo <= REUSE_GRACE_MS) {
      const expected = clients === 'same' ? ['retried', 'rotated'] : ['reuse', 'rotated'];
      if (!sameValue([...statuses].sort(), expected))
        this.fail(`invariant: concurrent presentations answered ${statuses.join(' + ')}, expected ${expected.join(' + ')}`);
    }

    // Either order of the two calls may explain the outcomes.
    for (const [first, second] of [calls, [...calls].reverse()] as const) {
      if (!first || !second) continue;
      const one = explain(f, first.p, first.outcome, lo, first.hi);
      const two = one && explain(one.next, second.p, second.outcome, Math.max(lo, one.t), second.hi);
      if (two) {
        this.families[index] = two.next;
        return;
      }
    }
    this.fail(
      `concurrent presentations answered ${statuses.join(' + ')}, which no order of the two explains (lastUsedAt ${f.lastUsedAt}, expiresAt ${expiresAt(f)})`,
    );
  }

  private async revokeSession(ref: number): Promise<void> {
    const { index, f } = await this.family(ref);
    const lo = Date.now() - SLACK_MS;
    const record = await this.store.revokeSession(f.oracle.sessionId, REVOCATION_TTL_MS);
    const hi = Date.now() + SLACK_MS;
    this.note(record ? '-> ended' : '-> null');
    if (record ? !aliveAt(f, lo) || !sameValue(record, recordOf(f)) : aliveAt(f, hi)) {
      this.fail(`revokeSession answered ${JSON.stringify(record)}; model: ${aliveAt(f, lo) ? JSON.stringify(recordOf(f)) : 'null'}`);
    }
    this.families[index] = { ...f, ended: true, sessionRevoked: true };
  }

  private async revokeUser(user: number): Promise<void> {
    const revokedBefore = Date.now();
    const lo = revokedBefore - SLACK_MS;
    const ended = await this.store.revokeUser(this.userIds[user] as string, { revokedBefore, retainMs: RETAIN_MS });
    const hi = Date.now() + SLACK_MS;
    this.note(`-> ended ${ended.length}`);
    this.userRevokedBefore[user] = Math.max(this.userRevokedBefore[user] as number, revokedBefore);
    const returned = new Map(ended.map((record) => [record.sessionId, record]));
    this.families.forEach((f, index) => {
      if (f.user !== user) return;
      const record = returned.get(f.oracle.sessionId);
      returned.delete(f.oracle.sessionId);
      if (f.createdAt >= revokedBefore) {
        if (record) this.fail(`revokeUser ended a session whose login began at/after the cut-off: ${JSON.stringify(record)}`);
        return;
      }
      if (record ? !aliveAt(f, lo) || !sameValue(record, recordOf(f)) : aliveAt(f, hi)) {
        this.fail(
          `revokeUser: family #${index} ${record ? `returned as ${JSON.stringify(record)}` : 'not returned'}; model: ${aliveAt(f, lo) ? JSON.stringify(recordOf(f)) : 'not live'}`,
        );
      }
      this.families[index] = { ...f, ended: true };
    });
    if (returned.size > 0) this.fail(`revokeUser returned sessions it should not have: ${JSON.stringify([...returned.values()])}`);
  }

  private async updateClaims({ fam, agoMs }: Extract<Action, { kind: 'updateClaims' }>): Promise<void> {
    const { index, f } = await this.family(fam);
    const claims = { role: `role-${++this.claimsVersion}`, tenant: { id: this.claimsVersion } };
    const lo = Date.now() - SLACK_MS;
    const at = lo + SLACK_MS - agoMs;
    const record = await (this.store.amendSession as NonNullable<SessionStore['amendSession']>)(f.oracle.sessionId, {
      claims: { value: claims, updatedAt: at },
    });
    const hi = Date.now() + SLACK_MS;
    const older = f.claimsUpdatedAt !== undefined && f.claimsUpdatedAt > at;
    this.note(record ? '-> updated' : '-> null');
    const next: ModelFamily = { ...f, claims, claimsUpdatedAt: at };
    if (record) {
      if (older || !aliveAt(f, lo) || !sameValue(record, recordOf(next))) {
        this.fail(`updateClaims answered ${JSON.stringify(record)}; model: ${older || !aliveAt(f, lo) ? 'null' : JSON.stringify(recordOf(next))}`);
      }
      this.families[index] = next;
    } else if (!older && aliveAt(f, hi)) {
      this.fail(`updateClaims answered null; the model has family #${index} live until ${expiresAt(f)} with claims of ${f.claimsUpdatedAt ?? 'its login'}`);
    }
  }

  private async reauth({ fam, amr }: Extract<Action, { kind: 'reauth' }>): Promise<void> {
    const { index, f } = await this.family(fam);
    const lo = Date.now() - SLACK_MS;
    const verification: Verification = { at: Date.now(), amr: [amr], ...(amr === 'hwk' ? { acr: 'aal2' } : {}) };
    const record = await (this.store.amendSession as NonNullable<SessionStore['amendSession']>)(f.oracle.sessionId, { verification });
    const hi = Date.now() + SLACK_MS;
    this.note(record ? '-> amended' : '-> null');
    const next: ModelFamily = { ...f, verification };
    if (record) {
      if (!aliveAt(f, lo) || !sameValue(record, recordOf(next))) {
        this.fail(`amendSession (step-up) answered ${JSON.stringify(record)}; model: ${aliveAt(f, lo) ? JSON.stringify(recordOf(next)) : 'null'}`);
      }
      this.families[index] = next;
    } else if (aliveAt(f, hi)) {
      this.fail(`amendSession (step-up) answered null; the model has family #${index} live until ${expiresAt(f)}`);
    }
  }

  private async markClaims(user: number): Promise<void> {
    const changedAt = Date.now();
    await (this.store.markClaimsChanged as NonNullable<SessionStore['markClaimsChanged']>)(this.userIds[user] as string, {
      changedAt,
      retainMs: REVOCATION_TTL_MS,
    });
    this.userClaimsChangedAt[user] = Math.max(this.userClaimsChangedAt[user] as number, changedAt);
  }

  /** After every action: feed verdicts, live sessions, deadlines. */
  private async checkInvariants(): Promise<void> {
    // A revoked session's access tokens are refused (and no others are, a forgery's family included).
    this.families.forEach((f, index) => {
      const claimsTime = f.claimsUpdatedAt ?? f.createdAt;
      const verdict = this.feed.verdict(f.oracle.sessionId, f.oracle.userId, f.createdAt, claimsTime);
      const byUser = f.createdAt < (this.userRevokedBefore[f.user] as number) || claimsTime < (this.userClaimsChangedAt[f.user] as number);
      const revoked = f.sessionRevoked || byUser || f.createdAt < this.validSince.lo;
      const ambiguous = !revoked && f.createdAt < this.validSince.hi;
      if (!ambiguous && verdict !== (revoked ? 'revoked' : 'valid'))
        this.fail(`invariant: feed verdict for family #${index} is ${verdict}, expected ${revoked ? 'revoked' : 'valid'}`);
      if (ambiguous && verdict !== 'revoked' && verdict !== 'valid') this.fail(`invariant: feed verdict for family #${index} is ${verdict}`);
    });

    const lo = Date.now() - SLACK_MS;
    const [records, lists] = await Promise.all([
      Promise.all(this.families.map((f) => this.store.getSession(f.oracle.sessionId))),
      Promise.all(this.userIds.map((userId) => this.store.listSessions(userId))),
    ]);
    const hi = Date.now() + SLACK_MS;

    this.families.forEach((f, index) => {
      const record = records[index] ?? null;
      if (record) {
        // No session outlives its absolute deadline (nor its idle one), and rotation never moves it.
        if (lo > f.absoluteAt) this.fail(`invariant: family #${index} is still live ${lo - f.absoluteAt} ms after its absolute deadline`);
        if (record.absoluteExpiresAt !== f.createdAt + ABSOLUTE_TTL_MS || record.expiresAt > record.absoluteExpiresAt) {
          this.fail(`invariant: family #${index} has deadlines ${record.expiresAt}/${record.absoluteExpiresAt}, created ${f.createdAt}`);
        }
        if (!aliveAt(f, lo)) this.fail(`getSession of family #${index} (ended or expired per the model) answered ${JSON.stringify(record)}`);
        if (!sameValue(record, recordOf(f)))
          this.fail(`getSession of family #${index} answered ${JSON.stringify(record)}, model ${JSON.stringify(recordOf(f))}`);
      } else if (aliveAt(f, hi)) {
        this.fail(`getSession of family #${index} answered null; the model has it live until ${expiresAt(f)} (now ${hi - SLACK_MS})`);
      }
    });

    lists.forEach((list, user) => {
      const listed = new Set(list.map((record) => record.sessionId));
      for (let i = 1; i < list.length; i++)
        if ((list[i] as SessionRecord).createdAt < (list[i - 1] as SessionRecord).createdAt) this.fail(`listSessions of user ${user} is not oldest first`);
      this.families.forEach((f, index) => {
        if (f.user !== user) return;
        const record = list.find((entry) => entry.sessionId === f.oracle.sessionId);
        listed.delete(f.oracle.sessionId);
        if (record ? !aliveAt(f, lo) || !sameValue(record, recordOf(f)) : aliveAt(f, hi)) {
          this.fail(
            `listSessions of user ${user}: family #${index} ${record ? `listed as ${JSON.stringify(record)}` : 'not listed'}; model: ${aliveAt(f, lo) ? JSON.stringify(recordOf(f)) : 'not live'}`,
          );
        }
      });
      if (listed.size > 0) this.fail(`listSessions of user ${user} lists unknown sessions ${[...listed].join(', ')}`);
    });
  }
}

// ---------------------------------------------------------------------------------------------------

describe.each([memoryFactory, redisFactory])('$name against the reference model', (factory) => {
  test('random logins, refreshes, replays, forgeries, concurrent refreshes, logouts, revocations, claims updates, step-ups and time passing match the model', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, (actions) => runScenario(factory, actions)),
      // Bounded whatever the seed: the runs, the actions per run, the sleeping (≤ 200 ms per wait), and shrinking time.
      // A run cut short by the time limit fails, rather than pass on fewer scenarios than NUM_RUNS.
      { numRuns: NUM_RUNS, plugins: [fc.interruptAfterTimeLimit(60_000, { failOnInterrupt: true })] },
    );
  }, 120_000);
});

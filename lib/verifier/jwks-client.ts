// The auth service's JWKS as another service holds it: fetched, kept as long as its Cache-Control says (within bounds), refreshed in the background, looked up by kid and algorithm.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { describeValue } from '../describe-value';
import { type ConfigurationErrorCode, ErrorCodes } from '../errors';
import { checkKnownKeys, configurationError, type KnownOptions } from '../option-checks';
import { type AccessTokenAlgorithm, KID_PATTERN } from '../tokens/signing-keys';

/** Options of {@link JwksClient}. Times are in milliseconds, each at most 2^31 - 1 (what a timer takes). */
export interface JwksClientOptions {
  /** The JWKS URL: `https:`, or `http:` for a loopback host only (127.0.0.0/8, `[::1]`, `localhost`). No user or password in it. Required. */
  uri: string;
  /** The algorithms accepted (not `HS*`: a shared secret is never published). A key serves an algorithm of this list that fits its kty/crv/size, and its `alg` when it has one. Required. */
  algorithms: readonly AccessTokenAlgorithm[];
  /** The fewest ms between a fetch (of any kind) and one caused by an unknown kid. Defaults to 30_000. */
  unknownKidCooldownMs?: number;
  /** The shortest a fetched set is trusted: a smaller `max-age`, `no-store`, `no-cache` or no `max-age` at all count as this. Defaults to 30_000. */
  minCacheMs?: number;
  /** The longest a fetched set is trusted before it is fetched again, whatever its `max-age`. Defaults to 3_600_000. */
  maxCacheMs?: number;
  /** How long one fetch (answer and body) may take before it is abandoned. Defaults to 5_000. */
  timeoutMs?: number;
  /** The fetch implementation, for tests. Defaults to `globalThis.fetch`. */
  fetch?: typeof fetch;
}

/** What {@link JwksClient.status} reports: for health checks and logs. */
export interface JwksStatus {
  /** Whether a set is held (a fetch has succeeded once). */
  loaded: boolean;
  /** How many keys of the held set are usable (for at least one accepted algorithm). */
  keys: number;
  /** When the held set was last fetched or confirmed by a 304 (epoch ms). */
  fetchedAt: number | undefined;
  /** When the held set's freshness ends (epoch ms); in the past when refreshes have been failing since. The set is still used. */
  expiresAt: number | undefined;
  /** Why the last fetch failed; undefined once a fetch succeeds. */
  lastError: unknown;
  /** How many fetches were started, failed ones included. */
  fetches: number;
  /** What was skipped in the held set and why (a private member, an unsupported key, a duplicate kid, no usable key at all); empty when nothing was. */
  problems: readonly string[];
}

/** A key of the held set, with the accepted algorithms it serves. */
interface HeldKey {
  key: KeyObject;
  algorithms: ReadonlySet<AccessTokenAlgorithm>;
}

/** The set held now, replaced whole by each fetch that brings one (a 304 renews `fetchedAt`, `ttlMs` and `etag`). */
interface HeldSet {
  keys: ReadonlyMap<string, HeldKey>;
  /** The usable keys with their members and algorithms, sorted: two sets are the same when this is. */
  identity: string;
  problems: readonly string[];
  etag: string | undefined;
  ttlMs: number;
  fetchedAt: number;
}

/** The options checked, with their defaults. */
type Config = Required<Omit<JwksClientOptions, 'unknownKidCooldownMs'>> & { cooldownMs: number };

/** The largest JWKS body read; a larger one fails the fetch. */
const MAX_BODY_BYTES = 256 * 1024;
/** The most problems {@link JwksStatus.problems} keeps. */
const MAX_PROBLEMS = 20;
/** The longest delay a timer takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** The smallest RSA key used, as the auth service itself requires. */
const MIN_RSA_BITS = 2048;
/** The first retry after a failed fetch; each next one doubles, up to `minCacheMs`. */
const FIRST_RETRY_MS = 1_000;
/** A background refresh starts this long before the set expires (or a tenth of its lifetime, when shorter). */
const REFRESH_LEAD_MS = 5_000;

/** The algorithms a JWK fits, by `kty` (and `crv`); RSA size is checked apart. */
const FITTING: Readonly<Record<string, readonly AccessTokenAlgorithm[]>> = {
  RSA: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
  'EC P-256': ['ES256'],
  'EC P-384': ['ES384'],
  'EC P-521': ['ES512'],
  'OKP Ed25519': ['EdDSA'],
  'OKP Ed448': ['EdDSA'],
};
/** The public members copied to `createPublicKey`, by `kty` (an allow-list: nothing else reaches Node). */
const PUBLIC_MEMBERS: Readonly<Record<string, readonly string[]>> = { RSA: ['n', 'e'], EC: ['crv', 'x', 'y'], OKP: ['crv', 'x'] };
/** Members only a private or symmetric JWK has: a JWK with any of them is refused. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const ACCEPTABLE = new Set(Object.values(FITTING).flat());
const ignore = (): void => {};

const KNOWN_OPTIONS = {
  uri: true,
  algorithms: true,
  unknownKidCooldownMs: true,
  minCacheMs: true,
  maxCacheMs: true,
  timeoutMs: true,
  fetch: true,
} as const satisfies KnownOptions<JwksClientOptions>;

function invalid(option: string, problem: string, fix: string, code: ConfigurationErrorCode = ErrorCodes.ERR_INVALID_OPTION): never {
  throw configurationError('type', code, `JwksClient: \`${option}\` ${problem}. ${fix}`);
}

function loopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

function checkUri(uri: unknown): string {
  const example = "Pass the auth service's JWKS URL, e.g. 'https://auth.example/auth/.well-known/jwks.json'.";
  if (typeof uri !== 'string') invalid('uri', `must be a string; received ${describeValue(uri)}`, example, ErrorCodes.ERR_MISSING_OPTION);
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return invalid('uri', `must be an absolute URL; received ${describeValue(uri)}`, example);
  }
  if (url.username !== '' || url.password !== '') invalid('uri', 'must not carry a user or password', 'The JWKS is public: fetch it without credentials.');
  if (url.protocol === 'https:' || (url.protocol === 'http:' && loopback(url.hostname))) return url.href;
  return invalid('uri', `must be an https URL; received ${url.protocol}//${url.host}`, 'Use https (http only for 127.0.0.0/8, [::1], localhost).');
}

function checkAlgorithms(value: unknown): readonly AccessTokenAlgorithm[] {
  const fix = "Pass the algorithms the auth service signs with, e.g. ['ES256'].";
  if (!Array.isArray(value) || value.length === 0) invalid('algorithms', `must be a non-empty array; received ${describeValue(value)}`, fix);
  for (const algorithm of value as unknown[]) {
    if (typeof algorithm === 'string' && algorithm.startsWith('HS'))
      invalid('algorithms', `holds ${algorithm}`, 'HS* keys are shared secrets, never published in a JWKS: verify such tokens with the secret.');
    if (!ACCEPTABLE.has(algorithm as AccessTokenAlgorithm))
      invalid('algorithms', `holds ${describeValue(algorithm)}`, `Use RS256-512, PS256-512, ES256-512 or EdDSA. ${fix}`);
  }
  return Object.freeze([...(value as AccessTokenAlgorithm[])]);
}

function checkMs(option: string, value: unknown, fallback: number, least: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < least || value > MAX_TIMER_MS)
    invalid(option, `must be whole milliseconds from ${least} to ${MAX_TIMER_MS}; received ${describeValue(value)}`, `Leave it out for ${fallback}.`);
  return value;
}

/** One JWK as a usable key with the accepted algorithms it serves and an identity for change detection, or why it is skipped. */
function parseKey(jwk: Record<string, unknown>, accepted: readonly AccessTokenAlgorithm[]): (HeldKey & { identity: string }) | string {
  const privateMember = PRIVATE_MEMBERS.find((name) => Object.hasOwn(jwk, name));
  if (privateMember !== undefined) return `a private or symmetric member (\`${privateMember}\`): refused`;
  if (jwk.use !== undefined && jwk.use !== 'sig') return `use ${describeValue(jwk.use)}, not 'sig'`;
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) return 'key_ops without verify';
  const fitting = FITTING[jwk.kty === 'RSA' ? 'RSA' : `${String(jwk.kty)} ${String(jwk.crv)}`];
  const members = PUBLIC_MEMBERS[String(jwk.kty)];
  if (fitting === undefined || members === undefined) return `unsupported kty/crv ${describeValue(jwk.kty)}/${describeValue(jwk.crv)}`;
  const publicJwk: Record<string, string> = { kty: jwk.kty as string };
  for (const name of members) {
    if (typeof jwk[name] !== 'string') return `no \`${name}\``;
    publicJwk[name] = jwk[name] as string;
  }
  if (jwk.alg !== undefined && !ACCEPTABLE.has(jwk.alg as AccessTokenAlgorithm)) return `alg ${describeValue(jwk.alg)} is not supported`;
  const algorithms = new Set(accepted.filter((algorithm) => fitting.includes(algorithm) && (jwk.alg === undefined || jwk.alg === algorithm)));
  if (algorithms.size === 0) return `fits none of the accepted algorithms (${accepted.join(', ')})`;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: publicJwk, format: 'jwk' });
  } catch {
    return 'not a valid public key';
  }
  if (jwk.kty === 'RSA' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) return `RSA key under ${MIN_RSA_BITS} bits`;
  return { key, algorithms, identity: JSON.stringify([jwk.kid, publicJwk, [...algorithms]]) };
}

/** The usable keys of a JWKS body by kid, what was skipped, and the set's identity. Throws only when the body is not a key set at all. */
function parseKeySet(body: unknown, accepted: readonly AccessTokenAlgorithm[]): { keys: Map<string, HeldKey>; problems: string[]; identity: string } {
  const list = (body as { keys?: unknown } | null)?.keys;
  if (typeof body !== 'object' || body === null || !Array.isArray(list)) throw new Error('the answer is not a JSON object with a `keys` array');
  const problems: string[] = [];
  const parsed = new Map<string, (HeldKey & { identity: string }) | string>();
  for (const [index, entry] of list.entries()) {
    const jwk = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    if (typeof jwk.kid !== 'string' || !KID_PATTERN.test(jwk.kid)) problems.push(`key #${index}: no kid of 1 to 64 printable characters`);
    else if (parsed.has(jwk.kid)) parsed.set(jwk.kid, 'its kid is not unique (every key of that kid skipped)');
    else parsed.set(jwk.kid, parseKey(jwk, accepted));
  }
  const keys = new Map<string, HeldKey>();
  const identities: string[] = [];
  for (const [kid, result] of parsed) {
    if (typeof result === 'string') problems.push(`kid ${kid}: ${result}`);
    else {
      keys.set(kid, result);
      identities.push(result.identity);
    }
  }
  if (keys.size === 0) problems.push('no usable key: every token is refused');
  return { keys, problems: problems.slice(0, MAX_PROBLEMS), identity: identities.sort().join('\n') };
}

/** A failure in words: its message, and its cause's (fetch says only "fetch failed"; the cause says a refused connection, a redirect…). */
function describeFailure(reason: unknown): string {
  const { message, cause } = (reason ?? {}) as { message?: unknown; cause?: { message?: unknown } };
  const words = typeof message === 'string' ? message : String(reason);
  return typeof cause?.message === 'string' ? `${words} (${cause.message})` : words;
}

/** Reads a body of at most {@link MAX_BODY_BYTES} as text; a larger one (by Content-Length or as it arrives) is abandoned. */
async function readBody(response: Response): Promise<string> {
  const tooLarge = `the answer is over ${MAX_BODY_BYTES} bytes`;
  if (Number(response.headers.get('content-length')) > MAX_BODY_BYTES) {
    void response.body?.cancel().catch(ignore);
    throw new Error(tooLarge);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  for (let read = await reader?.read(); read !== undefined && !read.done; read = await reader?.read()) {
    size += read.value.byteLength;
    if (size > MAX_BODY_BYTES) {
      void reader?.cancel().catch(ignore);
      throw new Error(tooLarge);
    }
    chunks.push(read.value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Checks every option (a bad one throws, naming it and the fix) and fills in the defaults. */
function resolveOptions(options: JwksClientOptions): Config {
  if (typeof options !== 'object' || options === null)
    invalid('options', `must be an object; received ${describeValue(options)}`, 'Pass { uri, algorithms }.', ErrorCodes.ERR_MISSING_OPTION);
  checkKnownKeys('', options, KNOWN_OPTIONS, 'JwksClient');
  const minCacheMs = checkMs('minCacheMs', options.minCacheMs, 30_000, 1);
  const maxCacheMs = checkMs('maxCacheMs', options.maxCacheMs, 3_600_000, 1);
  if (minCacheMs > maxCacheMs)
    invalid('minCacheMs', `(${minCacheMs}) is above maxCacheMs (${maxCacheMs})`, 'Raise maxCacheMs or lower minCacheMs.', ErrorCodes.ERR_INCOMPATIBLE_OPTIONS);
  if (options.fetch !== undefined && typeof options.fetch !== 'function')
    invalid('fetch', `must be a function; received ${describeValue(options.fetch)}`, 'Leave it out for globalThis.fetch.');
  return {
    uri: checkUri(options.uri),
    algorithms: checkAlgorithms(options.algorithms),
    cooldownMs: checkMs('unknownKidCooldownMs', options.unknownKidCooldownMs, 30_000, 0),
    minCacheMs,
    maxCacheMs,
    timeoutMs: checkMs('timeoutMs', options.timeoutMs, 5_000, 1),
    fetch: options.fetch ?? globalThis.fetch,
  };
}

/** How long an answer's set is trusted: `no-store`/`no-cache` give `minCacheMs`, `max-age` less `Age` is clamped, and `fallback` (clamped) applies when neither is there. */
function cacheTtl(headers: Headers, fallback: number, { minCacheMs, maxCacheMs }: Config): number {
  const directives = (headers.get('cache-control') ?? '').toLowerCase().split(/\s*,\s*/);
  if (directives.some((part) => part === 'no-store' || part.startsWith('no-cache'))) return minCacheMs;
  const maxAge = directives.map((part) => /^max-age\s*=\s*"?(\d{1,10})"?$/.exec(part)?.[1]).find((seconds) => seconds !== undefined);
  const age = /^\d{1,10}$/.test(headers.get('age') ?? '') ? Number(headers.get('age')) : 0;
  return Math.min(Math.max(maxAge === undefined ? fallback : (Number(maxAge) - age) * 1000, minCacheMs), maxCacheMs);
}

/**
 * The key-fetching half of a verifier of our access tokens in another service. It fetches the JWKS
 * (`Accept: application/json`, no redirects, no credentials), keeps it for its `Cache-Control: max-age`
 * (minus `Age`) clamped to [`minCacheMs`, `maxCacheMs`] (`no-store`, `no-cache` or no `max-age`: `minCacheMs`),
 * and refreshes it in the background shortly before it expires, with `If-None-Match` (a 304 renews the set),
 * so a known key never waits on the network. A failed refresh keeps the held set and retries after 1 s,
 * 2 s, 4 s… up to `minCacheMs` apart.
 *
 * **Known limit:** the held set stays in use for as long as refreshes fail, however far past its expiry:
 * a key the auth service retired stops verifying only once a fetch without it succeeds (`key()` then
 * answers undefined and {@link JwksClient.onChange} listeners run). `status().expiresAt` in the past says so.
 *
 * @example
 * ```ts
 * const jwks = new JwksClient({ uri: 'https://auth.example/auth/.well-known/jwks.json', algorithms: ['ES256'] });
 * await jwks.ready(); // at start-up: rejects if the first fetch fails
 * const key = jwks.key(header.kid, 'ES256') ?? (await jwks.keyAfterRefetch(header.kid, 'ES256'));
 * ```
 */
export class JwksClient {
  private readonly config: Config;
  private held: HeldSet | undefined;
  private lastFetchStartedAt = Number.NEGATIVE_INFINITY;
  private lastError: unknown;
  private fetches = 0;
  private failures = 0;
  private inflight: Promise<void> | undefined;
  private abortInflight: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly listeners = new Set<() => void>();

  /** Checks the options at once: a bad one throws a TypeError (`ERR_INVALID_OPTION`, `ERR_MISSING_OPTION`, `ERR_UNKNOWN_OPTION`, `ERR_INCOMPATIBLE_OPTIONS`) naming it and the fix. Fetches nothing yet. */
  constructor(options: JwksClientOptions) {
    this.config = resolveOptions(options);
  }

  /** Resolves once a set is held, fetching it if none is (callers share one fetch); rejects with the failure when that fetch fails. */
  ready(): Promise<void> {
    if (this.held !== undefined) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error('JwksClient: closed before a key set was fetched'));
    return this.refetch();
  }

  /** The key of `kid` for `alg` from the held set, or undefined (unknown kid, an algorithm it does not serve, no set yet). Synchronous: no I/O. */
  key(kid: string, alg: AccessTokenAlgorithm): KeyObject | undefined {
    const held = this.held?.keys.get(kid);
    return held?.algorithms.has(alg) ? held.key : undefined;
  }

  /**
   * {@link JwksClient.key}, after fetching the set again when `kid` is not in it (a rotation), unless a fetch
   * started within `unknownKidCooldownMs` (then it waits for the one under way, if any). Callers share one
   * fetch; a kid the set holds, or one no token could carry, never causes one. Never rejects: after a failed
   * refetch it answers from the held set (`status().lastError` says why).
   */
  async keyAfterRefetch(kid: string, alg: AccessTokenAlgorithm): Promise<KeyObject | undefined> {
    if (typeof kid !== 'string' || !KID_PATTERN.test(kid) || this.held?.keys.has(kid)) return this.key(kid, alg);
    if (this.inflight !== undefined) await this.inflight.catch(ignore);
    else if (!this.closed && Date.now() - this.lastFetchStartedAt >= this.config.cooldownMs) await this.refetch().catch(ignore);
    return this.key(kid, alg);
  }

  /** Calls `listener` after each fetch that replaced a held set with a different one (keys added, removed or changed), not for the first set. A listener that throws is ignored. Returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Where the client stands: a fresh object each call. */
  status(): JwksStatus {
    const { held, lastError, fetches } = this;
    const expiresAt = held === undefined ? undefined : held.fetchedAt + held.ttlMs;
    return {
      loaded: held !== undefined,
      keys: held?.keys.size ?? 0,
      fetchedAt: held?.fetchedAt,
      expiresAt,
      lastError,
      fetches,
      problems: held?.problems ?? [],
    };
  }

  /** Stops the refresh timer and abandons a fetch under way; the held set still answers {@link JwksClient.key}. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.abortInflight?.abort(new Error('JwksClient: closed'));
  }

  private refetch(): Promise<void> {
    this.inflight ??= this.fetchSet().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    if (this.closed) return;
    this.timer = setTimeout(() => void this.refetch().catch(ignore), Math.min(Math.max(delayMs, 0), MAX_TIMER_MS));
    this.timer.unref();
  }

  /** One fetch, whatever caused it: on success the next refresh is set shortly before expiry; on failure the held set stays and a retry is set. */
  private async fetchSet(): Promise<void> {
    const { uri, timeoutMs, minCacheMs } = this.config;
    this.fetches++;
    this.lastFetchStartedAt = Date.now();
    const controller = new AbortController();
    this.abortInflight = controller;
    const timeout = setTimeout(() => controller.abort(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
    try {
      const ttlMs = await this.fetchAndApply(controller.signal);
      this.failures = 0;
      this.lastError = undefined;
      this.schedule(ttlMs - Math.min(REFRESH_LEAD_MS, ttlMs / 10));
    } catch (cause) {
      const reason = controller.signal.aborted ? controller.signal.reason : cause;
      const error = new Error(`JwksClient: could not fetch the key set from ${uri}: ${describeFailure(reason)}`, { cause: reason });
      if (!this.closed) this.lastError = error;
      this.failures++;
      this.schedule(Math.min(FIRST_RETRY_MS * 2 ** Math.min(this.failures - 1, 30), minCacheMs));
      throw error;
    } finally {
      clearTimeout(timeout);
      if (this.abortInflight === controller) this.abortInflight = undefined;
    }
  }

  /** Fetches and installs the set (or renews it on a 304); answers how long it is trusted. */
  private async fetchAndApply(signal: AbortSignal): Promise<number> {
    const { held, config } = this;
    // Our own Cache-Control: with If-None-Match, fetch would add `no-cache`, which makes Express answer 200 rather than 304.
    const headers: Record<string, string> = { Accept: 'application/json', 'Cache-Control': 'max-age=0' };
    if (held?.etag !== undefined) headers['If-None-Match'] = held.etag;
    const response = await config.fetch(config.uri, { headers, redirect: 'error', credentials: 'omit', signal });
    if (response.status === 304 && held?.etag !== undefined) {
      void response.body?.cancel().catch(ignore);
      const ttlMs = cacheTtl(response.headers, held.ttlMs, config);
      if (!this.closed) this.held = { ...held, etag: response.headers.get('etag') ?? held.etag, ttlMs, fetchedAt: Date.now() };
      return ttlMs;
    }
    if (response.status !== 200) {
      void response.body?.cancel().catch(ignore);
      throw new Error(`the answer was ${response.status}, not 200`);
    }
    const text = await readBody(response);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error('the answer is not JSON');
    }
    const { keys, problems, identity } = parseKeySet(body, config.algorithms);
    const ttlMs = cacheTtl(response.headers, config.minCacheMs, config);
    if (this.closed) return ttlMs;
    this.held = { keys, identity, problems: Object.freeze(problems), etag: response.headers.get('etag') ?? undefined, ttlMs, fetchedAt: Date.now() };
    if (held !== undefined && held.identity !== identity) {
      for (const listener of [...this.listeners]) {
        try {
          listener();
        } catch {
          // A listener's failure is its own: the others still run, and the new set is in place.
        }
      }
    }
    return ttlMs;
  }
}

// The options outside any section: the store, the credential check, the realm, the body limit and the session cap.
import { describeValue } from '../describe-value';
import type { SessionNetworkMode } from '../network-label';
import { fail, missingOr } from '../option-checks';
import type { SessionStore } from '../store/session-store';
import type { AuthOptions, Configuration } from './types';

/** Validates `store`: an object with every method of a {@link SessionStore}. */
export function resolveStore(store: unknown): SessionStore {
  const methods = [
    'createSession',
    'presentToken',
    'revokeSession',
    'discardSession',
    'revokeUser',
    'getSession',
    'listSessions',
    'openRevocationFeed',
  ] as const;
  const missing = store && typeof store === 'object' ? methods.filter((m) => typeof (store as Record<string, unknown>)[m] !== 'function') : methods;
  if (missing.length > 0) {
    fail(
      'type',
      'store',
      `must be a SessionStore (missing ${missing.join(', ')}); received ${describeValue(store)}`,
      'Pass `new RedisStore({ client })` or `new MemoryStore()`.',
      missingOr(store),
    );
  }
  return store as SessionStore;
}

/** Validates `authenticate`: the credential check, a function. */
export function resolveAuthenticate(authenticate: unknown): Configuration['authenticate'] {
  if (typeof authenticate !== 'function') {
    fail(
      'type',
      'authenticate',
      `must be a function (req) => ({ userId, claims }) | null; received ${describeValue(authenticate)}`,
      'Pass your credential check.',
      missingOr(authenticate),
    );
  }
  return authenticate as Configuration['authenticate'];
}

/** Validates `reauthenticate`: the step-up check, a function, or left out. */
export function resolveReauthenticate(reauthenticate: unknown): Configuration['reauthenticate'] {
  if (reauthenticate !== undefined && typeof reauthenticate !== 'function') {
    fail(
      'type',
      'reauthenticate',
      `must be a function (req, { userId, sessionId }) => ({ amr: ['pwd'] }) | null; received ${describeValue(reauthenticate)}`,
      'Pass your step-up check (a password or passkey check), or leave it out to turn POST /reauth off.',
    );
  }
  return reauthenticate as Configuration['reauthenticate'];
}

const SESSION_NETWORK_MODES: readonly SessionNetworkMode[] = ['prefix', 'address', 'off'];

/** Validates `sessionNetwork`: what a session keeps of its login's address. */
export function resolveSessionNetwork(sessionNetwork: unknown): SessionNetworkMode {
  if (sessionNetwork === undefined) return 'prefix';
  if (!SESSION_NETWORK_MODES.includes(sessionNetwork as SessionNetworkMode)) {
    fail(
      'type',
      'sessionNetwork',
      `must be 'prefix', 'address' or 'off'; received ${describeValue(sessionNetwork)}`,
      "Leave it out for 'prefix' (the IPv4 /24 or IPv6 /48), use 'address' to keep the whole address, or 'off' to keep none.",
    );
  }
  return sessionNetwork as SessionNetworkMode;
}

/** Validates `realm`, `bodyLimit` and `maxSessionsPerUser`, and resolves their defaults. */
export function resolveLimits(options: AuthOptions): Pick<Configuration, 'realm' | 'bodyLimit' | 'maxSessionsPerUser'> {
  const realm = options.realm ?? 'api';
  if (typeof realm !== 'string' || !/^[\x20-\x7e]*$/.test(realm) || realm.includes('"') || realm.includes('\\')) {
    fail('type', 'realm', `must be printable ASCII without quotes or backslashes; received ${describeValue(realm)}`, "Leave it out for 'api'.");
  }
  const bodyLimit = options.bodyLimit ?? 16_384;
  if (!Number.isInteger(bodyLimit) || bodyLimit < 256 || bodyLimit > 1_048_576) {
    fail('range', 'bodyLimit', `must be a whole number of bytes from 256 to 1048576; received ${describeValue(bodyLimit)}`, 'Leave it out for 16384.');
  }
  const maxSessionsPerUser = options.maxSessionsPerUser ?? 100;
  if (!Number.isInteger(maxSessionsPerUser) || maxSessionsPerUser < 1 || maxSessionsPerUser > 10_000) {
    fail('range', 'maxSessionsPerUser', `must be a whole number from 1 to 10000; received ${describeValue(maxSessionsPerUser)}`, 'Leave it out for 100.');
  }
  return { realm, bodyLimit, maxSessionsPerUser };
}

/**
 * Validates `origin`: an http(s) origin (scheme, host, optional port; a trailing slash is dropped),
 * or undefined when not given.
 */
export function resolveOrigin(origin: unknown): string | undefined {
  if (origin === undefined) return undefined;
  let parsed: URL | undefined;
  try {
    parsed = typeof origin === 'string' ? new URL(origin) : undefined;
  } catch {
    parsed = undefined;
  }
  const plain = parsed !== undefined && (parsed.protocol === 'https:' || parsed.protocol === 'http:') && `${parsed.origin}/` === parsed.href;
  if (!plain) {
    fail(
      'type',
      'origin',
      `must be the app's public origin, scheme and host (and port), such as 'https://app.example'; received ${describeValue(origin)}`,
      'Give the origin browsers see, without a path; leave it out to check DPoP proofs by method and path only.',
    );
  }
  return (parsed as URL).origin;
}

// The names of RedisStore's keys and channel: one place, so the store, its scripts' callers and the tests agree.

/**
 * A user id as it goes inside a hash tag. Ids holding `{` or `}` would end the tag early (and split
 * a user's keys across Cluster slots), so those, and ids starting with `=`, are written as `=` and
 * their base64url form; every other id is written as it is, so the two forms never collide.
 */
function userTag(userId: string): string {
  return /[{}]|^=/.test(userId) ? `=${Buffer.from(userId).toString('base64url')}` : userId;
}

/**
 * Every key and channel of a store with this prefix. Keys of one session share the tag
 * `{sessionId}`, keys of one user `{userId}`, the revocation log's `{revocations}`: each script
 * touches one slot. The short names (`s:`, `u:`) keep sessions small, and differ from version 0.1's
 * (`session:`, `user:`, which held other types), so an upgrade never reads an old key.
 */
export function redisKeys(prefix: string) {
  return {
    /** One family: a string of fields (redis-session-layout.ts). */
    session: (sessionId: string) => `${prefix}s:{${sessionId}}`,
    /**
     * A user's session ids, a sorted set scored by login time; and, scored below 0, the user's seen
     * devices (`~<fingerprint>`, see INDEX_SESSION).
     */
    userIndex: (userId: string) => `${prefix}u:{${userTag(userId)}}`,
    /** When revokeUser last ran for the user (same slot as the index). */
    userRevoked: (userId: string) => `${prefix}ur:{${userTag(userId)}}`,
    /** Revoked sessions that still matter, a sorted set scored by when each stops mattering. */
    log: `${prefix}{revocations}:log`,
    /** Users revoked before a time, a hash: userId → `<revokedBefore> <until>`. */
    users: `${prefix}{revocations}:users`,
    /** Users whose claims changed at a time (`updateClaims` with `immediate`), a hash: userId → `<changedAt> <until>`. */
    claims: `${prefix}{revocations}:claims`,
    /** How many revocations were logged: lets a feed notice one it missed. */
    version: `${prefix}{revocations}:version`,
    /** The data generation: `<start ms>.<random>`. */
    epoch: `${prefix}{revocations}:epoch`,
    /** Where revocations and heartbeats are published. */
    channel: `${prefix}revocations`,
    /** What login throttling's counters of one kind (`login`, `login-address`, …, `known-address` for the marks) are named under. */
    throttling: (kind: string) => `${prefix}rl:${kind}:`,
  };
}

/** The key names of one store. */
export type RedisKeys = ReturnType<typeof redisKeys>;

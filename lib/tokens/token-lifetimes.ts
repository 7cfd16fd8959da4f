// The lifetimes option checks and the revocation feed both rely on: the longest access token, and how long past it revocations are kept.

/**
 * The longest access-token life: a day. A token cannot be taken back without the revocation feed,
 * and a longer ttl is most often milliseconds given where seconds are meant (900000 for '15m').
 */
export const MAX_ACCESS_TTL_MS = 86_400_000;

/** Leeway added to how long revocations are remembered, for clock differences between instances. */
export const REVOCATION_LEEWAY_MS = 5000;

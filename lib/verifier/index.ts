// express-refresh-tokens/verifier: requireAuth for other services, with the auth service's revocation feed, and nothing of its router, stores' writes or throttling.
/**
 * Checks the auth service's access tokens in another service, with the same guarantees: the same
 * verification and cache, and the same revocation feed (zero Redis commands per request, fail closed
 * when stale). Start with {@link createVerifier}.
 *
 * @module express-refresh-tokens/verifier
 */
import '../express-augmentation';

export { AuthError, ErrorCodes, InvalidAccessTokenError, StoreUnavailableError } from '../errors';
export type { AuthInfo, RequireAuthOptions } from '../http/require-auth';
export type { HealthReport } from '../observability/health';
export type { SubscriberLike } from '../revocation/redis-revocation-feed';
export type { AccessTokenPayload } from '../tokens/access-token-verification';
export type { AccessTokenAlgorithm } from '../tokens/signing-keys';
export { createVerifier, type Verifier } from './create-verifier';
export type { VerifierOptions, VerifierRedisClient } from './verifier-options';

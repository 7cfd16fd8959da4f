// The public entry point of express-refresh-tokens.
/**
 * Secure sessions for Express: short-lived JWT access tokens checked by `auth.requireAuth()`, and
 * rotating refresh tokens in an HttpOnly cookie, with reuse detection; sessions live in Redis.
 * Start with {@link createAuth}. The browser side is `express-refresh-tokens/client`.
 *
 * @module express-refresh-tokens
 */
import './express-augmentation';

export { createAuth, type Auth } from './create-auth';
export { MemoryStore, type MemoryStoreOptions } from './store/memory-store';
export { RedisStore, type RedisStoreOptions, type RedisClientLike, type RedisArg } from './store/redis-store';
export type {
  SessionStore,
  SessionRecord,
  NewSession,
  TokenPresentation,
  PresentationOutcome,
  RevocationFeed,
  RevocationFeedOptions,
  RevocationVerdict,
  UserRevocation,
} from './store/session-store';
export type { SubscriberLike } from './revocation/redis-revocation-feed';
export {
  AuthError,
  StoreUnavailableError,
  ErrorCodes,
  type AuthErrorCode,
  type AuthErrorInit,
  type ErrorCode,
  type ConfigurationErrorCode,
  type ConfigurationError,
  type StoreErrorCode,
} from './errors';
export type {
  AuthOptions,
  AccessTokenOptions,
  RefreshTokenOptions,
  CookieOptions,
  CsrfOptions,
  Authenticate,
  AuthenticateResult,
  AccessTokenAlgorithm,
  AccessTokenKeyOptions,
  KeyInput,
  RevocationOptions,
} from './options';
export type { AuthInfo, RequireAuthOptions } from './require-auth';
export { InvalidAccessTokenError, type AccessTokenPayload, type InvalidAccessTokenCode } from './access-token';
export type { AuthEvents, AuthEventMap, SessionEvent, RevocationReason } from './events';
export type { Duration } from './duration';
export type { Jwks, PublicJwk } from './jwks';
export type { RateLimitOptions, LoginRateLimitOptions, RefreshRateLimitOptions, RateLimitRule } from './rate-limit';

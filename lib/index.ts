// The public entry point of express-refresh-tokens.
/**
 * Secure sessions for Express: short-lived JWT access tokens checked by `auth.requireAuth()`, and
 * rotating refresh tokens in an HttpOnly cookie, with reuse detection; sessions live in Redis.
 * Start with {@link createAuth}. The browser side is `express-refresh-tokens/client`.
 *
 * @module express-refresh-tokens
 */
import './express-augmentation';

export type { UpdateClaimsOptions } from './claims-update-arguments';
export { type Auth, createAuth } from './create-auth';
export type { Duration } from './duration';
export {
  AuthError,
  type AuthErrorCode,
  type AuthErrorInit,
  type ConfigurationError,
  type ConfigurationErrorCode,
  type ErrorCode,
  ErrorCodes,
  type InvalidAccessTokenCode,
  InvalidAccessTokenError,
  type StoreErrorCode,
  StoreUnavailableError,
} from './errors';
export type {
  AuthEventMap,
  AuthEvents,
  BindingFailedEvent,
  LogoutAbandonReason,
  NewDeviceEvent,
  RevocationReason,
  SessionEvent,
  UserRevocationReason,
} from './events';
export type { Jwks } from './http/jwks';
export type { AuthInfo, RequireAuthOptions } from './http/require-auth';
export type { SessionNetworkMode } from './network-label';
export type { HealthCheck, HealthCheckName, HealthReport, HealthStatus } from './observability/health';
export type { AccessTokenRejectionReason, RevocationMetricReason, StoreErrorType } from './observability/metrics';
export type { LoginResult, LogoutResult, RefreshResult } from './observability/operation-results';
export type { StateChangeCode } from './observability/state-watch';
export type {
  AccessTokenAlgorithm,
  AccessTokenKeyOptions,
  AccessTokenOptions,
  Authenticate,
  AuthenticateResult,
  AuthLogger,
  AuthOptions,
  BindingMode,
  CookieOptions,
  CsrfOptions,
  KeyInput,
  Reauthenticate,
  RefreshTokenOptions,
  RevocationOptions,
  TelemetryOptions,
} from './options';
export type { LoginRateLimitOptions, RateLimitOptions, RateLimitRule, RefreshRateLimitOptions } from './options/rate-limit';
export type { SubscriberLike } from './revocation/redis-revocation-feed';
export type { FeedReloadCause, RevocationFeedStatus } from './revocation/revocation-feed';
export type { ClaimsUpdate } from './sessions/claims-update';
export type { ProofOfIdentity, Verification } from './shared/verification';
export { MemoryStore, type MemoryStoreOptions } from './store/memory-store';
export { type RedisArg, type RedisClientLike, RedisStore, type RedisStoreOptions } from './store/redis-store';
export type {
  ClaimsChange,
  CreatedSession,
  KnownAddresses,
  NewSession,
  PresentationOutcome,
  RevocationFeed,
  RevocationFeedOptions,
  RevocationVerdict,
  SessionAmendment,
  SessionRecord,
  SessionStore,
  StoreClock,
  StoreStatus,
  TokenPresentation,
  UserRevocation,
} from './store/session-store';
export type { AccessTokenPayload } from './tokens/access-token';
export type { BindingFailure, DpopRefusal } from './tokens/dpop-proof';
export type { PublicJwk } from './tokens/signing-keys';

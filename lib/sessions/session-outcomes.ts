// What the session service's operations take and answer: the client asking, the user authenticate vouched for, and what a login or a refresh came to.

import type { ProofOfIdentity } from '../shared/verification';
import type { SessionRecord } from '../store/session-store';
import type { ProofRefused } from './key-binding';

/** Who is asking: what events report and what a session remembers of its login. */
export interface ClientInfo {
  ip: string | undefined;
  userAgent: string | undefined;
}

/** A user `authenticate` vouched for: their id, the session's claims, and how they proved who they are when it said. */
export interface AuthenticatedUser {
  userId: string;
  claims: Record<string, unknown>;
  proof?: ProofOfIdentity | undefined;
}

/** What presenting a refresh token came to. */
export type PresentationResult =
  | { status: 'rotated' | 'retried'; session: SessionRecord; refreshToken: string; nonce: string | undefined }
  | { status: 'revoked' | 'reuse'; session: SessionRecord }
  | { status: 'invalid' | 'missing' };

/** A session and the refresh token to hand its client. */
export interface IssuedSession {
  session: SessionRecord;
  refreshToken: string;
  /** For a family bound to a key: the `DPoP-Nonce` the client's next proof must carry. */
  nonce?: string | undefined;
}

/** A new family and whether the store found its device new (see CreatedSession.newDevice). */
export type StartedSession = IssuedSession & { newDevice: boolean };

/**
 * What a refresh came to: a rotation (or its repeat within the grace window) with the token to hand
 * out, or why it was refused: `invalid` (no cookie, not one this server issued, or none of its
 * session's tokens), `expired` (authentic, but its session no longer exists: expired, or ended and
 * forgotten), `revoked` (its user was revoked, or the store lost its data, since its login), `reuse`
 * (an earlier token of its family: the family was revoked).
 */
export type RefreshOutcome = (IssuedSession & { status: 'rotated' | 'retried' }) | { status: 'invalid' | 'expired' | 'revoked' | 'reuse' } | ProofRefused;

/** The refusals a refresh answers with, shared: a refused refresh allocates no outcome. */
export const REFRESH_REFUSED = {
  invalid: { status: 'invalid' },
  expired: { status: 'expired' },
  revoked: { status: 'revoked' },
  reuse: { status: 'reuse' },
} as const satisfies Record<string, RefreshOutcome>;

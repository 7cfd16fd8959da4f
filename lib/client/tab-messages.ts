// The messages the tabs of one origin exchange over a BroadcastChannel, and what a tab takes from them.
import { readTokenPayload, type TokenPayload } from './token-payload.js';

/**
 * A message between tabs: a token to share (`expiresAt` on this browser's clock, epoch ms), word
 * that the browser signed out, or a new tab asking for a token.
 */
export type TabMessage = { type: 'token'; value: string; expiresAt: number } | { type: 'signed-out' } | { type: 'ask' };

/**
 * A received message as one of the {@link TabMessage} shapes, or `null` for anything else (any
 * script of the origin can post on the channel): a token message needs a string value and a finite
 * `expiresAt`; the value is read as a token (length included) by {@link tokenFromTab}.
 *
 * @param data - `MessageEvent.data`, of any type.
 */
export function readTabMessage(data: unknown): TabMessage | null {
  if (typeof data !== 'object' || data === null) return null;
  const { type, value, expiresAt } = data as Record<string, unknown>;
  if (type === 'signed-out' || type === 'ask') return { type };
  if (type !== 'token' || typeof value !== 'string') return null;
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) return null;
  return { type, value, expiresAt };
}

/** A token another tab shared, read and checked by {@link tokenFromTab}. */
export interface SharedToken {
  value: string;
  /** The sender's `expiresAt`, never later than the token's own `exp`. */
  expiresAt: number;
  payload: TokenPayload;
}

/**
 * Whether a tab may take a token another tab shared: a readable access token, not past its own
 * `exp`, of the session this tab holds (same `sid`) or of its user (same `sub`: a newer login in
 * another tab); a tab that holds none takes one only while the browser has a session (its presence
 * cookie), as after a login in another tab, or when a new tab asked.
 *
 * This keeps stray and malformed messages out; it is no defence against a script of the same origin,
 * which could read the tokens anyway (it is inside the trust boundary).
 *
 * @param message - A token message, from {@link readTabMessage}.
 * @param held - The session of the token this tab holds, or `null`.
 * @param browserHasSession - Whether the presence cookie says this browser has a session.
 * @param now - This browser's clock, epoch ms.
 * @returns The token with its `expiresAt` capped by its `exp`, or `null` when it must be ignored.
 */
export function tokenFromTab(
  message: { value: string; expiresAt: number },
  held: { sub: string; sid: string } | null,
  browserHasSession: boolean,
  now: number,
): SharedToken | null {
  const payload = readTokenPayload(message.value);
  if (!payload) return null;
  const expiresAt = Math.min(message.expiresAt, payload.exp * 1000);
  if (expiresAt <= now) return null;
  const ours = held ? payload.sid === held.sid || payload.sub === held.sub : browserHasSession;
  return ours ? { value: message.value, expiresAt, payload } : null;
}

// Reads an access token's payload in the browser (unverified: the server verifies), refusing anything malformed.
import { appClaims } from '../shared/claims.js';

/**
 * The longest access token the client reads (characters). The server's claims stay well under it;
 * a longer one could not be sent in a request header anyway, so it is refused unread.
 */
export const MAX_TOKEN_LENGTH = 16_384;

/** A compact JWS: three base64url segments, the signature's possibly empty. */
const COMPACT_JWS = /^[\w-]+\.[\w-]+\.[\w-]*$/;

/** What the client needs from an access token's payload. */
export interface TokenPayload {
  /** The user's id (`sub`). */
  sub: string;
  /** The session's id (`sid`). */
  sid: string;
  /** When the token expires (`exp`), epoch seconds. */
  exp: number;
  /** The app's own claims (every claim not registered), each an own property, whatever its name. */
  claims: Record<string, unknown>;
}

/** The JSON a base64url segment holds, or `undefined` when it is not base64url of UTF-8 JSON. */
function decodeSegment(segment: string): unknown {
  try {
    const binary = atob(
      segment
        .replace(/-/g, '+')
        .replace(/_/g, '/')
        .padEnd(Math.ceil(segment.length / 4) * 4, '='),
    );
    const json = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)));
    return JSON.parse(json) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Reads an access token's payload without verifying it (the server does that on every request).
 *
 * @param token - Anything: a token from the server, or from a message of another tab.
 * @returns The payload, or `null` unless `token` is a compact JWS of at most {@link MAX_TOKEN_LENGTH}
 * characters whose payload is a JSON object with a string `sub` and `sid` and a finite numeric `exp`.
 */
export function readTokenPayload(token: unknown): TokenPayload | null {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) return null;
  const payload = decodeSegment(token.split('.')[1] as string);
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return null;
  const { sub, sid, exp } = payload as Record<string, unknown>;
  if (typeof sub !== 'string' || typeof sid !== 'string' || typeof exp !== 'number' || !Number.isFinite(exp)) return null;
  return { sub, sid, exp, claims: appClaims(payload as Record<string, unknown>) };
}

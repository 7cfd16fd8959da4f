// A base64url JWS segment read as a JSON object: the protected header or payload of an access token or a DPoP proof.

/** The JSON object a base64url segment encodes, or `undefined` when it encodes anything else (or nothing readable). */
export function jsonObjectSegment(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

// Which origins auth.fetch sends the access token to: the page's own, and those the app lists in `tokenOrigins`.

/** The form every message names. */
const EXAMPLE = "'https://api.example.com'";

/** The URL a string holds, or `null` (URL.canParse is too new for some browsers the client supports). */
function parsed(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

/** Why an entry is not an origin, and what to write instead when that can be guessed. */
function entryError(entry: unknown): TypeError {
  const got = typeof entry === 'string' ? `'${entry.slice(0, 200)}'` : entry === null ? 'null' : `a ${typeof entry}`;
  let hint = '';
  if (typeof entry === 'string' && entry.includes('*')) hint = ' (wildcards are not supported: list each origin)';
  else {
    const url = typeof entry === 'string' ? parsed(entry) : null;
    if (url?.protocol === 'https:' || url?.protocol === 'http:') hint = ` (did you mean '${url.origin}'?)`;
  }
  return new TypeError(
    `createAuthClient: each of tokenOrigins must be an exact origin such as ${EXAMPLE} (scheme, host and port only: no path, no wildcard): got ${got}${hint}`,
  );
}

/** Whether a string is exactly an http(s) origin, as `URL.origin` writes it. */
function isOrigin(entry: string): boolean {
  const url = entry.includes('*') ? null : parsed(entry);
  return (url?.protocol === 'https:' || url?.protocol === 'http:') && url.origin === entry;
}

/**
 * Checks the `tokenOrigins` option and returns the test `auth.fetch` applies to every request's URL.
 *
 * @param tokenOrigins - The option: exact origins (`'https://api.example.com'`), or `undefined`.
 * @param pageOrigin - The page's origin (`location.origin`); an opaque origin (`'null'`) matches nothing.
 * @returns Whether a request to `url` (absolute, as `Request.url` or `Response.url` has it) may carry the token.
 * @throws TypeError when `tokenOrigins` is not an array, or one of its entries is not exactly an http(s) origin.
 */
export function tokenOriginCheck(tokenOrigins: readonly string[] | undefined, pageOrigin: string | undefined): (url: string) => boolean {
  if (tokenOrigins !== undefined && !Array.isArray(tokenOrigins)) {
    const got = tokenOrigins === null ? 'null' : `a ${typeof tokenOrigins}`;
    throw new TypeError(`createAuthClient: tokenOrigins must be an array of exact origins such as [${EXAMPLE}]: got ${got}`);
  }
  for (const entry of tokenOrigins ?? []) if (typeof entry !== 'string' || !isOrigin(entry)) throw entryError(entry);
  const allowed = new Set(tokenOrigins);
  if (pageOrigin !== undefined && pageOrigin !== 'null') allowed.add(pageOrigin);
  return (url) => allowed.has(parsed(url)?.origin ?? 'null');
}

// The `csrf` section of the options: the required header and the origins allowed besides the app's own.
import { describeValue } from '../describe-value';
import { fail, type KnownOptions, section } from '../option-checks';
import { DEFAULT_CSRF_HEADER } from '../shared/protocol';
import type { Configuration, CsrfOptions } from './types';

/** Every option of `csrf`. */
const KNOWN = { headerName: true, allowedOrigins: true } satisfies KnownOptions<CsrfOptions>;

/** Headers any page may make a browser send cross-site without a preflight: useless as a CSRF marker. */
const CORS_SAFELISTED_HEADERS: ReadonlySet<string> = new Set(['accept', 'accept-language', 'content-language', 'content-type', 'range']);

/** Validates the `csrf` section (optional) and resolves its defaults. */
export function resolveCsrf(value: unknown): Configuration['csrf'] {
  const options = section<CsrfOptions>('csrf', value, false, KNOWN);
  const headerName = options.headerName ?? DEFAULT_CSRF_HEADER;
  if (typeof headerName !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(headerName)) {
    fail('type', 'csrf.headerName', `must be an HTTP header name; received ${describeValue(headerName)}`, "Leave it out for 'X-Requested-With'.");
  }
  if (CORS_SAFELISTED_HEADERS.has(headerName.toLowerCase())) {
    fail(
      'type',
      'csrf.headerName',
      `must not be a CORS-safelisted header, which any site can make a browser send; received ${describeValue(headerName)}`,
      "Use a custom header such as 'X-Requested-With'.",
    );
  }
  const allowedOrigins = options.allowedOrigins ?? [];
  if (!Array.isArray(allowedOrigins)) {
    fail('type', 'csrf.allowedOrigins', `must be an array of origins; received ${describeValue(allowedOrigins)}`, "Pass e.g. ['https://app.example'].");
  }
  const origins = allowedOrigins.map((origin: unknown) => {
    let parsed: URL | undefined;
    try {
      parsed = typeof origin === 'string' ? new URL(origin) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!parsed || parsed.origin === 'null' || parsed.origin !== (origin as string).replace(/\/$/, '')) {
      fail(
        'type',
        'csrf.allowedOrigins',
        `must hold origins like 'https://app.example' (scheme, host, optional port, no path); received ${describeValue(origin)}`,
        'Remove the path or fix the URL.',
      );
    }
    return parsed.origin;
  });
  return { headerName: headerName.toLowerCase(), headerLabel: headerName, allowedOrigins: new Set(origins) };
}

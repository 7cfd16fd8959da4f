// The `cookie` section of the options: the refresh cookie's name, SameSite and Secure attributes.
import { describeValue } from '../describe-value';
import { ErrorCodes } from '../errors';
import { fail, type KnownOptions, section } from '../option-checks';
import { DEFAULT_COOKIE_NAMES } from '../shared/protocol';
import type { Configuration, CookieOptions } from './types';

/** Every option of `cookie`. */
const KNOWN = { name: true, sameSite: true, secure: true } satisfies KnownOptions<CookieOptions>;

/** Validates the `cookie` section (optional) and resolves its defaults. */
export function resolveCookie(value: unknown): Configuration['cookie'] {
  const options = section<CookieOptions>('cookie', value, false, KNOWN);
  const secure = options.secure ?? true;
  if (typeof secure !== 'boolean') fail('type', 'cookie.secure', `must be a boolean; received ${describeValue(secure)}`, 'Leave it out (true) in production.');
  const sameSite = options.sameSite ?? 'strict';
  const sameSiteValues = { strict: 'Strict', lax: 'Lax', none: 'None' } as const;
  if (typeof sameSite !== 'string' || !Object.hasOwn(sameSiteValues, sameSite)) {
    fail('type', 'cookie.sameSite', `must be 'strict', 'lax' or 'none'; received ${describeValue(sameSite)}`, "Leave it out for 'strict'.");
  }
  if (sameSite === 'none' && !secure) {
    fail(
      'type',
      'cookie.sameSite',
      "is 'none' with `cookie.secure: false`; browsers drop such cookies",
      "Use 'strict' or 'lax' on plain http.",
      ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
    );
  }
  const name = options.name ?? (secure ? DEFAULT_COOKIE_NAMES.secure : DEFAULT_COOKIE_NAMES.insecure);
  if (typeof name !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) {
    fail('type', 'cookie.name', `must be a cookie name (letters, digits, - _ .); received ${describeValue(name)}`, "Leave it out for '__Host-refresh'.");
  }
  const hostPrefixed = name.startsWith('__Host-');
  if ((hostPrefixed || name.startsWith('__Secure-')) && !secure) {
    fail(
      'type',
      'cookie.name',
      `is ${describeValue(name)}, a prefix browsers only accept on Secure cookies, but \`cookie.secure\` is false`,
      "Leave `cookie.name` out (it becomes 'refresh'), or set `cookie.secure: true`.",
      ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
    );
  }
  return { name, sameSite: sameSiteValues[sameSite as keyof typeof sameSiteValues], secure, hostPrefixed };
}

// Access-token keys from options: the algorithm, secrets and key pairs, and `accessToken.keys` for rotation, as the key set that signs and verifies.
import { createPrivateKey, createPublicKey, createSecretKey, KeyObject, sign, verify } from 'node:crypto';
import { describeValue } from '../describe-value';
import { ErrorCodes } from '../errors';
import { checkKnownKeys, fail, type KnownOptions, secretBytes } from '../option-checks';
import { jwkThumbprint, KID_PATTERN, MAX_KID_LENGTH } from '../tokens/signing-keys';
import type { AccessTokenAlgorithm, AccessTokenKeyOptions, AccessTokenOptions, Configuration } from './types';

/** The bytes an `HS*` secret needs at least (the hash's size), by algorithm; only the `HS*` algorithms are here. */
export const HMAC_KEY_BYTES: Partial<Record<AccessTokenAlgorithm, number>> = { HS256: 32, HS384: 48, HS512: 64 };

/** Which asymmetric key types (and EC curves) each algorithm accepts. */
const ASYMMETRIC_KEY_TYPES: Partial<Record<AccessTokenAlgorithm, { types: string[]; curve?: string }>> = {
  RS256: { types: ['rsa'] },
  RS384: { types: ['rsa'] },
  RS512: { types: ['rsa'] },
  PS256: { types: ['rsa', 'rsa-pss'] },
  PS384: { types: ['rsa', 'rsa-pss'] },
  PS512: { types: ['rsa', 'rsa-pss'] },
  ES256: { types: ['ec'], curve: 'prime256v1' },
  ES384: { types: ['ec'], curve: 'secp384r1' },
  ES512: { types: ['ec'], curve: 'secp521r1' },
  EdDSA: { types: ['ed25519', 'ed448'] },
};

const MIN_RSA_BITS = 2048;

export function toKeyObject(option: string, value: unknown, kind: 'private' | 'public'): KeyObject {
  if (value instanceof KeyObject) {
    if (value.type !== kind)
      fail('type', option, `must be a ${kind} key; received a ${value.type} KeyObject`, `Pass the ${kind} key.`, ErrorCodes.ERR_INVALID_KEY);
    return value;
  }
  if (typeof value !== 'string' && !Buffer.isBuffer(value)) {
    fail(
      'type',
      option,
      `must be a PEM string, Buffer or KeyObject; received ${describeValue(value, false)}`,
      `Pass the ${kind} key, e.g. fs.readFileSync('${kind}.pem').`,
      ErrorCodes.ERR_INVALID_KEY,
    );
  }
  try {
    return kind === 'private' ? createPrivateKey(value) : createPublicKey(value);
  } catch {
    return fail(
      'type',
      option,
      `could not be read as a ${kind} key`,
      'Pass a PEM-encoded key (-----BEGIN ... KEY-----) or a KeyObject.',
      ErrorCodes.ERR_INVALID_KEY,
    );
  }
}

export function checkKeyFitsAlgorithm(option: string, key: KeyObject, algorithm: AccessTokenAlgorithm): void {
  const accepted = ASYMMETRIC_KEY_TYPES[algorithm] as { types: string[]; curve?: string };
  const type = key.asymmetricKeyType ?? 'unknown';
  if (!accepted.types.includes(type)) {
    fail(
      'type',
      option,
      `is a ${type} key, which ${algorithm} cannot use`,
      `Use a ${accepted.types.join(' or ')} key, or change \`accessToken.algorithm\`.`,
      ErrorCodes.ERR_INVALID_KEY,
    );
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (accepted.curve && details.namedCurve !== accepted.curve) {
    fail(
      'type',
      option,
      `is on curve ${String(details.namedCurve)}, but ${algorithm} needs ${accepted.curve}`,
      'Use a key on the matching curve.',
      ErrorCodes.ERR_INVALID_KEY,
    );
  }
  if (type.startsWith('rsa') && (details.modulusLength ?? 0) < MIN_RSA_BITS) {
    fail('range', option, `is a ${String(details.modulusLength)}-bit RSA key`, `Use at least ${MIN_RSA_BITS} bits.`, ErrorCodes.ERR_INVALID_KEY);
  }
}

/** Checks with a probe signature that `publicKey` is the public half of `privateKey`. */
function checkKeyPair(
  algorithm: AccessTokenAlgorithm,
  privateKey: KeyObject,
  publicKey: KeyObject,
  options: { publicOption: string; privateOption: string; fix: string },
): void {
  const probe = Buffer.from('express-refresh-tokens key pair check');
  const digest = algorithm === 'EdDSA' ? null : `sha${algorithm.slice(2)}`;
  if (!verify(digest, probe, publicKey, sign(digest, probe, privateKey))) {
    fail('type', options.publicOption, `does not match \`${options.privateOption}\``, options.fix, ErrorCodes.ERR_INVALID_KEY);
  }
}

/** The resolved access-token keys: what signs, and what verifies by `kid`. */
export type AccessTokenKeySet = Pick<Configuration['accessToken'], 'signingKey' | 'verifyingKey' | 'kid' | 'verifyingKeys' | 'keyNotAfter'>;

/** The members of one `accessToken.keys` entry. */
const KEY_ENTRY_MEMBERS = { kid: true, privateKey: true, publicKey: true, notAfter: true } satisfies KnownOptions<AccessTokenKeyOptions>;
/** An ISO 8601 date-time with its time zone: a moment, whatever the server's zone. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i;

/** Validates one `accessToken.keys[i].notAfter` (not on the first key): a Date or an ISO 8601 date-time with a zone, as epoch ms. */
function notAfterOption(option: string, value: unknown, first: boolean): number {
  if (first) {
    fail(
      'type',
      option,
      'cannot be set: the first key signs new tokens, which would be refused from then on',
      'Put notAfter on a key that only verifies (one after the first), once another key signs.',
      ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
    );
  }
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' && ISO_DATE_TIME.test(value) ? Date.parse(value) : Number.NaN;
  // Date.parse rolls impossible days over (February 30th is March 2nd); the date must read back as written.
  const rolledOver = typeof value === 'string' && !Number.isNaN(ms) && !sameCalendarDay(value, ms);
  if (Number.isNaN(ms) || rolledOver) {
    fail(
      'type',
      option,
      `must be a Date or an ISO 8601 date-time with a time zone; received ${describeValue(value instanceof Date ? 'an invalid Date' : value)}`,
      "Pass e.g. '2030-01-01T00:00:00Z' or new Date('2030-01-01T00:00:00Z') (a number would leave seconds and milliseconds to guess).",
    );
  }
  return ms;
}

/** Whether the date part of an ISO date-time names the day `ms` falls on in the string's own offset. */
function sameCalendarDay(iso: string, ms: number): boolean {
  const zone = /(?:Z|([+-])(\d{2}):(\d{2}))$/i.exec(iso);
  const offsetMinutes = zone?.[1] === undefined ? 0 : (zone[1] === '-' ? -1 : 1) * (Number(zone[2]) * 60 + Number(zone[3]));
  return new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, 10) === iso.slice(0, 10);
}

/** Validates one `accessToken.keys[i].kid`. */
function kidOption(option: string, value: unknown): string {
  if (typeof value === 'string' && value.length > MAX_KID_LENGTH) {
    fail(
      'range',
      option,
      `must be at most ${MAX_KID_LENGTH} characters; received a string of ${value.length} characters`,
      "Use a short name such as '2025-06'.",
    );
  }
  if (typeof value !== 'string' || !KID_PATTERN.test(value)) {
    fail(
      'type',
      option,
      `must be 1 to ${MAX_KID_LENGTH} printable ASCII characters; received ${describeValue(value)}`,
      "Name each key, e.g. { kid: '2025-06', privateKey }.",
    );
  }
  return value;
}

/** Validates `accessToken.keys`: the first signs, every one verifies by its `kid`. */
function keyListOption(algorithm: AccessTokenAlgorithm, value: unknown): AccessTokenKeySet {
  const example = "Pass e.g. [{ kid: '2025-06', privateKey }, { kid: '2025-01', publicKey }] (the first signs).";
  if (!Array.isArray(value) || value.length === 0) {
    fail('type', 'accessToken.keys', `must be a non-empty array of { kid?, privateKey?, publicKey? }; received ${describeValue(value, false)}`, example);
  }
  const verifyingKeys = new Map<string, KeyObject>();
  const keyNotAfter = new Map<string, number>();
  const indexOfKid = new Map<string, number>();
  const indexOfThumbprint = new Map<string, number>();
  let signing: { key: KeyObject; verifyingKey: KeyObject; kid: string } | undefined;

  value.forEach((entry: unknown, i: number) => {
    const at = `accessToken.keys[${i}]`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry) || entry instanceof KeyObject) {
      fail('type', at, `must be an object { kid?, privateKey?, publicKey? }; received ${describeValue(entry, false)}`, example);
    }
    checkKnownKeys(at, entry, KEY_ENTRY_MEMBERS);
    const {
      kid: kidValue,
      privateKey: privateInput,
      publicKey: publicInput,
      notAfter: notAfterValue,
    } = entry as Partial<Record<keyof AccessTokenKeyOptions, unknown>>;
    const givenKid = kidValue === undefined ? undefined : kidOption(`${at}.kid`, kidValue);
    const notAfter = notAfterValue === undefined ? undefined : notAfterOption(`${at}.notAfter`, notAfterValue, i === 0);
    const named = givenKid === undefined ? '' : ` (kid ${JSON.stringify(givenKid)})`;
    if (i === 0 && privateInput === undefined) {
      fail(
        'type',
        `${at}.privateKey`,
        `is required${named}: the first key signs new tokens`,
        'Put the key that signs first, with its privateKey; keys after it may be public-only.',
        ErrorCodes.ERR_MISSING_OPTION,
      );
    }
    if (privateInput === undefined && publicInput === undefined) {
      fail(
        'type',
        `${at}.publicKey`,
        `is required when there is no \`${at}.privateKey\`${named}`,
        'Pass the public key that checks the tokens this key signed, or remove the entry.',
        ErrorCodes.ERR_MISSING_OPTION,
      );
    }
    const privateKey = privateInput === undefined ? undefined : toKeyObject(`${at}.privateKey`, privateInput, 'private');
    if (privateKey) checkKeyFitsAlgorithm(`${at}.privateKey`, privateKey, algorithm);
    const publicKey = publicInput === undefined ? createPublicKey(privateKey as KeyObject) : toKeyObject(`${at}.publicKey`, publicInput, 'public');
    checkKeyFitsAlgorithm(`${at}.publicKey`, publicKey, algorithm);
    if (privateKey && publicInput !== undefined) {
      checkKeyPair(algorithm, privateKey, publicKey, {
        publicOption: `${at}.publicKey`,
        privateOption: `${at}.privateKey`,
        fix: 'Pass the public key of the same key pair, or omit it.',
      });
    }
    const thumbprint = jwkThumbprint(publicKey);
    const sameKey = indexOfThumbprint.get(thumbprint);
    if (sameKey !== undefined) {
      fail('type', at, `holds the same key as \`accessToken.keys[${sameKey}]\`${named}`, 'List each key once, under one kid.', ErrorCodes.ERR_INVALID_KEY);
    }
    indexOfThumbprint.set(thumbprint, i);
    const kid = givenKid ?? thumbprint;
    const previous = indexOfKid.get(kid);
    if (previous !== undefined) {
      fail(
        'type',
        `${at}.kid`,
        `is ${JSON.stringify(kid)}, already the kid of \`accessToken.keys[${previous}]\``,
        'Give every key its own kid: a token names the key that checks it.',
      );
    }
    indexOfKid.set(kid, i);
    verifyingKeys.set(kid, publicKey);
    if (notAfter !== undefined) keyNotAfter.set(kid, notAfter);
    if (i === 0) signing = { key: privateKey as KeyObject, verifyingKey: publicKey, kid };
  });

  const first = signing as { key: KeyObject; verifyingKey: KeyObject; kid: string };
  return { signingKey: first.key, verifyingKey: first.verifyingKey, kid: first.kid, verifyingKeys, keyNotAfter };
}

/** Resolves the keys of `algorithm` from `accessToken.secret`, `privateKey`/`publicKey` or `keys`, refusing mixes. */
export function accessTokenKeys(algorithm: AccessTokenAlgorithm, options: Partial<AccessTokenOptions>): AccessTokenKeySet {
  const hmacBytes = HMAC_KEY_BYTES[algorithm];
  if (hmacBytes !== undefined) {
    if (options.keys !== undefined) {
      fail(
        'type',
        'accessToken.keys',
        `cannot be used with ${algorithm}, which takes \`accessToken.secret\` (a shared secret is never published)`,
        'Pass `secret`, or choose RS256/ES256/EdDSA for keys.',
        ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
      );
    }
    if (options.privateKey !== undefined || options.publicKey !== undefined) {
      fail(
        'type',
        'accessToken.privateKey',
        `cannot be used with ${algorithm}, which takes \`accessToken.secret\``,
        'Pass `secret`, or choose RS256/ES256/EdDSA for keys.',
        ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
      );
    }
    const key = createSecretKey(secretBytes('accessToken.secret', options.secret, hmacBytes));
    return { signingKey: key, verifyingKey: key, kid: undefined, verifyingKeys: new Map(), keyNotAfter: new Map() };
  }
  if (options.secret !== undefined) {
    fail(
      'type',
      'accessToken.secret',
      `cannot be used with ${algorithm}, which takes \`privateKey\`/\`publicKey\` or \`keys\``,
      "Pass keys, or set `algorithm: 'HS256'`.",
      ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
    );
  }
  if (options.keys !== undefined) {
    if (options.privateKey !== undefined || options.publicKey !== undefined) {
      const both = options.privateKey !== undefined ? 'accessToken.privateKey' : 'accessToken.publicKey';
      fail(
        'type',
        'accessToken.keys',
        `cannot be used with \`${both}\``,
        'Move that key into `keys` as { kid, privateKey }, or remove `keys`.',
        ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
      );
    }
    return keyListOption(algorithm, options.keys);
  }
  if (options.privateKey === undefined) {
    fail(
      'type',
      'accessToken.privateKey',
      `is required for ${algorithm}`,
      'Pass the PEM private key (the public key is derived from it unless you pass `publicKey`), or `keys` to rotate keys.',
      ErrorCodes.ERR_MISSING_OPTION,
    );
  }
  const signingKey = toKeyObject('accessToken.privateKey', options.privateKey, 'private');
  checkKeyFitsAlgorithm('accessToken.privateKey', signingKey, algorithm);
  const verifyingKey = options.publicKey === undefined ? createPublicKey(signingKey) : toKeyObject('accessToken.publicKey', options.publicKey, 'public');
  checkKeyFitsAlgorithm('accessToken.publicKey', verifyingKey, algorithm);
  checkKeyPair(algorithm, signingKey, verifyingKey, {
    publicOption: 'accessToken.publicKey',
    privateOption: 'accessToken.privateKey',
    fix: 'Pass the public key of the same key pair, or omit it.',
  });
  const kid = jwkThumbprint(verifyingKey);
  return { signingKey, verifyingKey, kid, verifyingKeys: new Map([[kid, verifyingKey]]), keyNotAfter: new Map() };
}

/** Validates `accessToken.algorithm` (default `'HS256'`; never `'none'`). */
export function algorithmOption(value: unknown): AccessTokenAlgorithm {
  if (value === undefined) return 'HS256';
  if (typeof value === 'string' && value.toLowerCase() === 'none') {
    fail('type', 'accessToken.algorithm', "is 'none', which would accept unsigned tokens", "Use 'HS256' with a secret, or 'RS256'/'ES256'/'EdDSA' with keys.");
  }
  if (typeof value !== 'string' || !(Object.hasOwn(HMAC_KEY_BYTES, value) || Object.hasOwn(ASYMMETRIC_KEY_TYPES, value))) {
    const known = [...Object.keys(HMAC_KEY_BYTES), ...Object.keys(ASYMMETRIC_KEY_TYPES)].join(', ');
    fail('type', 'accessToken.algorithm', `must be one of ${known}; received ${describeValue(value)}`, "Pick one, e.g. 'HS256'.");
  }
  return value as AccessTokenAlgorithm;
}

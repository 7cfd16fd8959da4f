// Authenticating the revocation channel: a key derived from the refresh secret, a tag on every message, a constant-time check.
import type { KeyObject } from 'node:crypto';
import { deriveKey, hashesEqual, hmacBase64url } from '../tokens/hashing';

/** The label the channel key is derived under (see {@link deriveKey}). */
const CHANNEL_KEY_LABEL = 'express-refresh-tokens revocation channel MAC';

/** An HMAC-SHA-256 in unpadded base64url. */
const TAG_LENGTH = 43;

/**
 * The most tags one message may carry: one per distinct key among the feeds opened on the store that
 * publishes it (one, unless auth instances with different refresh secrets share a store object).
 */
const MAX_TAGS = 4;

/**
 * The key that authenticates revocation-channel messages, derived from `refreshToken.secret`: every
 * instance of a deployment shares that secret, and nobody else knows it, so whoever can only PUBLISH
 * on the channel (a Redis user whose ACL allows channels but not the store's keys, or any client of a
 * shared Redis) cannot make a message a feed accepts.
 *
 * @param refreshSecretKey - `refreshToken.secret` as a key (the successor key).
 */
export function revocationChannelKey(refreshSecretKey: KeyObject): KeyObject {
  return deriveKey(refreshSecretKey, CHANNEL_KEY_LABEL);
}

/** Computes the tag of a message body under one key, on one channel. */
export type ChannelMac = (body: string) => string;

/**
 * The MAC of message bodies on `channel` under `key`. The channel's name is covered too, so a
 * message of another store (another prefix) sharing the secret is not accepted here.
 */
export function channelMac(key: KeyObject, channel: string): ChannelMac {
  const hmac = hmacBase64url('sha256', key);
  return (body) => hmac(`${channel}\n${body}`);
}

/** A message as published: the body, a space, and its tags (one per key, comma-separated; none when `macs` is empty, which no feed accepts). */
export function signedMessage(body: string, macs: readonly ChannelMac[]): string {
  return `${body} ${macs.map((mac) => mac(body)).join(',')}`;
}

/**
 * The body of a message one of whose tags is the one `mac` gives, or `null`. One HMAC per message
 * whatever it holds, and a constant-time comparison with each tag: a forgery costs its receiver a
 * couple of microseconds and teaches its sender nothing.
 */
export function authenticatedBody(message: string, mac: ChannelMac): string | null {
  const space = message.lastIndexOf(' ');
  if (space === -1 || message.length - space - 1 > MAX_TAGS * (TAG_LENGTH + 1)) return null;
  const body = message.slice(0, space);
  const expected = mac(body);
  let authentic = false;
  for (const tag of message.slice(space + 1).split(',')) if (hashesEqual(tag, expected)) authentic = true;
  return authentic ? body : null;
}

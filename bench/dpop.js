// DPoP (RFC 9449) for the `refresh+dpop` contender: an Ed25519 key per session, and proofs signed synchronously with node:crypto (in the server at login, in the load generator for every refresh).
'use strict';

const { createPrivateKey, generateKeyPairSync, randomUUID, sign } = require('node:crypto');

const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * A fresh Ed25519 key, as it crosses the IPC channel (plain JSON): the private key as a JWK
 * (`{ kty, crv, d, x }`) and the public one as a proof's header carries it (`{ kty: 'OKP', crv: 'Ed25519', x }`).
 */
function createDpopKey() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const { kty, crv, x } = publicKey.export({ format: 'jwk' });
  return { privateJwk: privateKey.export({ format: 'jwk' }), jwk: { kty, crv, x } };
}

/**
 * A signer for one key (from {@link createDpopKey}): `sign({ htm, htu, nonce })` returns a proof JWT
 * with a new `jti` and `iat` now. The private key is imported and the protected header encoded once.
 */
function dpopSigner({ privateJwk, jwk }) {
  const privateKey = createPrivateKey({ key: privateJwk, format: 'jwk' });
  const header = encode({ typ: 'dpop+jwt', alg: 'EdDSA', jwk });
  return ({ htm, htu, nonce }) => {
    const payload = { jti: randomUUID(), htm, htu, iat: Math.floor(Date.now() / 1000) };
    if (nonce !== undefined) payload.nonce = nonce;
    const signingInput = `${header}.${encode(payload)}`;
    return `${signingInput}.${sign(null, Buffer.from(signingInput), privateKey).toString('base64url')}`;
  };
}

/** Where a proof for `path` on 127.0.0.1:`port` says it goes (the bench apps set no `origin` option: the library compares the path alone). */
const htuOf = (port, path) => `http://127.0.0.1:${port}${path}`;

/** The `DPoP-Nonce` of an answer's headers, whatever their case (autocannon hands raw header names); undefined when absent. */
function dpopNonceOf(headers) {
  for (const [name, value] of Object.entries(headers || {})) {
    if (name.toLowerCase() === 'dpop-nonce') return Array.isArray(value) ? value[value.length - 1] : value;
  }
  return undefined;
}

module.exports = { createDpopKey, dpopSigner, dpopNonceOf, htuOf };

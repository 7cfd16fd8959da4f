// The key a browser binds its session to (DPoP, RFC 9449): made at login with WebCrypto, never extractable, kept in IndexedDB with its nonce, and the proofs it signs.

/** The algorithms the server takes, in the order a key is tried: Ed25519, else ECDSA P-256. */
type ProofAlgorithm = 'EdDSA' | 'ES256';

/** A key of this browser's session, and the nonce its next proof carries. */
export interface DeviceKey {
  alg: ProofAlgorithm;
  keys: CryptoKeyPair;
  /** The public key as a proof's `jwk` header carries it (only the members RFC 7638 names). */
  jwk: Record<string, string>;
  /** The last `DPoP-Nonce` the server handed out for this session. */
  nonce: string | undefined;
}

const DATABASE = 'express-refresh-tokens';
const STORE = 'device-keys';

/** Opens (creating on first use) the database the keys live in; rejects where IndexedDB is missing or refused. */
function openDatabase(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    if (typeof indexedDB === 'undefined') return reject(new Error('no IndexedDB'));
    const opening = indexedDB.open(DATABASE, 1);
    opening.onupgradeneeded = () => opening.result.createObjectStore(STORE);
    opening.onsuccess = () => resolve(opening.result);
    opening.onerror = () => reject(opening.error);
  });
}

/** Runs one request on the key store and resolves with its result. */
async function inStore<T>(mode: IDBTransactionMode, run: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const database = await openDatabase();
  try {
    return await new Promise<T>((resolve, reject) => {
      const transaction = database.transaction(STORE, mode);
      const request = run(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(request.result);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
  } finally {
    database.close();
  }
}

/** The key kept for `slot` (one per router: `express-refresh-tokens:<baseUrl>`), or undefined when there is none or it cannot be read. */
export async function loadDeviceKey(slot: string): Promise<DeviceKey | undefined> {
  try {
    const kept = (await inStore('readonly', (store) => store.get(slot))) as DeviceKey | undefined;
    return kept && typeof kept === 'object' && kept.keys?.privateKey ? kept : undefined;
  } catch {
    return undefined;
  }
}

/** Keeps `key` for `slot`; false when the browser refuses (some private modes, iOS Lockdown Mode refuse to store a CryptoKey). */
export async function saveDeviceKey(slot: string, key: DeviceKey): Promise<boolean> {
  try {
    await inStore('readwrite', (store) => store.put(key, slot));
    return true;
  } catch {
    return false;
  }
}

/** Forgets the key of `slot` (logout, a key the server no longer takes). */
export async function deleteDeviceKey(slot: string): Promise<void> {
  try {
    await inStore('readwrite', (store) => store.delete(slot));
  } catch {
    // nothing kept, or nothing to delete
  }
}

/** A new key pair, its private half not extractable; undefined where WebCrypto makes neither kind. */
export async function createDeviceKey(): Promise<DeviceKey | undefined> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return undefined;
  const kinds: Array<[ProofAlgorithm, EcKeyGenParams | Algorithm]> = [
    ['EdDSA', { name: 'Ed25519' }],
    ['ES256', { name: 'ECDSA', namedCurve: 'P-256' }],
  ];
  for (const [alg, algorithm] of kinds) {
    try {
      const keys = (await subtle.generateKey(algorithm, false, ['sign', 'verify'])) as CryptoKeyPair;
      const { kty, crv, x, y } = (await subtle.exportKey('jwk', keys.publicKey)) as JsonWebKey;
      const jwk: Record<string, string> =
        alg === 'EdDSA' ? { crv: String(crv), kty: String(kty), x: String(x) } : { crv: String(crv), kty: String(kty), x: String(x), y: String(y) };
      return { alg, keys, jwk, nonce: undefined };
    } catch {
      // this browser does not make that kind: try the next
    }
  }
  return undefined;
}

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const encodeJson = (value: unknown): string => base64url(new TextEncoder().encode(JSON.stringify(value)));

/**
 * A proof (RFC 9449 §4.2) that this browser holds `key`, for the request `method url`, carrying the
 * key's nonce. `url` is absolute, without query or fragment.
 */
export async function signProof(key: DeviceKey, method: string, url: string): Promise<string> {
  const payload: Record<string, unknown> = { jti: globalThis.crypto.randomUUID(), htm: method, htu: url, iat: Math.floor(Date.now() / 1000) };
  if (key.nonce !== undefined) payload.nonce = key.nonce;
  const signingInput = `${encodeJson({ typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk })}.${encodeJson(payload)}`;
  const algorithm = key.alg === 'EdDSA' ? { name: 'Ed25519' } : { name: 'ECDSA', hash: 'SHA-256' };
  const signature = await globalThis.crypto.subtle.sign(algorithm, key.keys.privateKey, new TextEncoder().encode(signingInput));
  return `${signingInput}.${base64url(new Uint8Array(signature))}`;
}

// The router requests of a session bound to a device key: each carries a proof, each answer's nonce is kept, and a session the server no longer takes from this browser is forgotten.
import { type DeviceKey, deleteDeviceKey, saveDeviceKey, signProof } from './device-key.js';

/** What {@link keyRequests} needs from the client. */
export interface KeyRequestOptions {
  /** The Web Lock's, the BroadcastChannel's and the device key's name: `express-refresh-tokens:<baseUrl>`. */
  slot: string;
  /** Where the router is mounted (`/auth`). */
  baseUrl: string;
  /** The presence cookies' names, which a forgotten session drops. */
  presenceCookies: string[];
  /** Sends a request to one of the router's routes (the CSRF header added when `csrf` is set). */
  request(path: string, init: RequestInit & { csrf?: boolean }): Promise<Response>;
}

/** The requests of a bound session, made by {@link keyRequests}. */
export interface KeyRequests {
  /** Sends a route's request with a proof by `key` when there is one, and keeps the nonce the answer hands out. */
  send(path: string, init: RequestInit & { csrf?: boolean }, key: DeviceKey | undefined): Promise<Response>;
  /** Forgets a session the server no longer takes from this browser: its key, and the presence cookies, so no tab tries again until the next sign-in. */
  forget(): Promise<void>;
  /** Runs `task` under the tabs' Web Lock (where there is one), so no other tab refreshes or signs in meanwhile. */
  underLock<T>(task: () => Promise<T>): Promise<T>;
}

/** The requests of a session bound to a device key (the server's `refreshToken.binding`). */
export function keyRequests(options: KeyRequestOptions): KeyRequests {
  const { slot, baseUrl, presenceCookies, request } = options;
  return {
    async send(path, init, key) {
      const headers = new Headers(init.headers);
      if (key) headers.set('DPoP', await signProof(key, 'POST', new URL(`${baseUrl}${path}`, location.href).href));
      const response = await request(path, { ...init, headers });
      const nonce = response.headers.get('DPoP-Nonce');
      if (key && nonce && nonce !== key.nonce) {
        key.nonce = nonce;
        await saveDeviceKey(slot, key);
      }
      return response;
    },

    async forget() {
      await deleteDeviceKey(slot);
      const secure = typeof location !== 'undefined' && location.protocol === 'https:' ? '; Secure' : '';
      for (const name of presenceCookies) {
        // biome-ignore lint/suspicious/noDocumentCookie: the Cookie Store API is missing in Safari and Firefox; the line is a constant name and attributes
        document.cookie = `${name}=; Max-Age=0; Path=/${secure}`;
      }
    },

    underLock<T>(task: () => Promise<T>): Promise<T> {
      const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
      return locks ? (locks.request(slot, task) as Promise<T>) : task();
    },
  };
}

/** The `error` code of an answer, read from a copy (the answer itself is read later); undefined when it has none. */
export async function errorCodeOf(response: Response): Promise<string | undefined> {
  const body = (await response
    .clone()
    .json()
    .catch(() => null)) as { error?: unknown } | null;
  return typeof body?.error === 'string' ? body.error : undefined;
}

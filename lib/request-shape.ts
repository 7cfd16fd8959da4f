// Makes an Express request cheap to read: the V8 dictionary-mode switch requireAuth and the router make first.
import type { Request } from 'express';

/** The key of the property `toDictionaryMode` adds and deletes at once: private, so no one else's. */
const DICTIONARY_PROBE = Symbol('express-refresh-tokens: dictionary probe');

/**
 * Makes an Express request a dictionary-mode object, so that what reads it from here on (the
 * library, Express, the app) reads it fast. Express re-prototypes every request
 * (`Object.setPrototypeOf`), and V8 then gives the request a hidden class of its own for every
 * property added to it, shared with no other request, so reads of the request miss V8's caches:
 * `node --log-ic` counts about a hundred misses per Express request, some forty-five of them on the
 * request. Deleting a property from an object with such a hidden class (unlike an ordinary object,
 * where V8 just undoes the addition) turns it into a dictionary-mode object, which V8 reads with
 * cached lookups: a route behind `requireAuth` measures faster than one behind a middleware that
 * does nothing (docs/performance.md). The probe is private and gone at once; only an app's Proxy
 * standing in for a request could see it pass. A request that refuses it (frozen, say, in a unit
 * test) is left as it is.
 *
 * @example
 * ```ts
 * router.use((req, _res, next) => {
 *   toDictionaryMode(req); // first, so that every read after it is a cached one
 *   next();
 * });
 * ```
 */
export function toDictionaryMode(req: Request): void {
  try {
    if (Reflect.set(req, DICTIONARY_PROBE, true)) Reflect.deleteProperty(req, DICTIONARY_PROBE);
  } catch {
    // A Proxy whose traps throw: the request is read as it is, only not faster.
  }
}

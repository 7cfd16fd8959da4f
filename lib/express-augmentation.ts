// Declaration merging: types `req.auth` on every Express Request once the package is imported.
import type { AuthInfo } from './http/require-auth';

declare global {
  namespace Express {
    interface Request {
      /** Set by `auth.requireAuth()` for an authenticated request; absent for anonymous ones. */
      auth?: AuthInfo;
    }
  }
}

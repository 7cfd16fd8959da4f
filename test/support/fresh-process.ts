// The library and Express loaded afresh, as a new process would load them, and apps on that copy: for what the library does once per process.
import type { Express } from 'express';
import { authOptions } from './harness';

/** One fresh load of the library and of Express; everything a test builds on it comes from this copy. */
export interface FreshProcess {
  lib: typeof import('../../lib');
  express: typeof import('express');
}

/** The library and Express loaded afresh, as a new process would: a warning given "once per process" is armed again. */
export function freshProcess(): FreshProcess {
  let loaded: FreshProcess | undefined;
  jest.isolateModules(() => {
    loaded = { lib: require('../../lib') as FreshProcess['lib'], express: require('express') as FreshProcess['express'] };
  });
  return loaded as FreshProcess;
}

const closers: Array<() => Promise<unknown>> = [];

/**
 * An app on a fresh copy of the library: `configure` runs first (settings such as `trust proxy`), then the router
 * at /auth, made with `authOptions(store, overrides)` on a MemoryStore; closed by {@link closeFreshApps}.
 */
export function freshApp({ lib, express }: FreshProcess, overrides: Parameters<typeof authOptions>[1] = {}, configure?: (app: Express) => void): Express {
  const store = new lib.MemoryStore();
  const auth = lib.createAuth(authOptions(store, overrides));
  closers.push(
    () => auth.close(),
    () => store.close(),
  );
  const app = express();
  configure?.(app);
  app.use('/auth', auth.router);
  return app;
}

/** Closes every auth instance and store {@link freshApp} made: `afterEach(closeFreshApps)`. */
export async function closeFreshApps(): Promise<void> {
  await Promise.all(closers.splice(0).map((close) => close()));
}

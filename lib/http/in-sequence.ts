// Running middlewares one after the other inside one, as a router would.
import type { RequestHandler } from 'express';

/**
 * Runs middlewares one after the other, as the router would: the first error (a 429, a 503, a 403)
 * ends the run and is passed to `next`, as is a middleware's synchronous throw; after the last,
 * `next()` is called.
 */
export function inSequence(handlers: RequestHandler[]): RequestHandler {
  return function runInSequence(req, res, next) {
    let index = 0;
    const step = (error?: unknown): void => {
      const handler = handlers[index++];
      if (error !== undefined || handler === undefined) return next(error);
      try {
        handler(req, res, step);
      } catch (thrown) {
        step(thrown);
      }
    };
    step();
  };
}

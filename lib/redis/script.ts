// A Lua script as it is sent to Redis: its source and the SHA-1 that EVALSHA names it by.
import { createHash } from 'node:crypto';

/** A script as RedisStore sends it: its source, and the SHA-1 EVALSHA names it by. */
export interface Script {
  source: string;
  sha: string;
}

/** The {@link Script} of a source. */
export function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

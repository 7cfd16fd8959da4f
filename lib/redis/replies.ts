// Reading RedisStore's script replies strictly, and the errors for replies it cannot use.
import { ErrorCodes, StoreUnavailableError } from '../errors';

/** The error for a script that refused to run because its caller had already given up. */
export function late(operation: string): StoreUnavailableError {
  return new StoreUnavailableError(`RedisStore: ${operation} reached Redis after its deadline and changed nothing`, {
    code: ErrorCodes.ERR_STORE_DEADLINE_EXCEEDED,
  });
}

/** The error for a reply the store cannot read: another program writes its keys, or versions are mixed. */
export function badReply(message: string): StoreUnavailableError {
  return new StoreUnavailableError(message, { code: ErrorCodes.ERR_STORE_BAD_REPLY });
}

/** A reply that must be an array, as strings (`nil` and `false` as `''`). */
export function expectStrings(reply: unknown, operation: string): string[] {
  if (!Array.isArray(reply)) throw badReply(`RedisStore: unexpected ${operation} reply`);
  return reply.map((value) => (value === null || value === false ? '' : String(value)));
}

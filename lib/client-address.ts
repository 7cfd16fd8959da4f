// The client's address as Express' req.ip gives it, read straight from the socket when Express' `trust proxy` is off.
import type { Request } from 'express';

/**
 * `req.ip`, without its cost where it is only the socket's address. With Express' `trust proxy`
 * off (`false`, the default) Express documents the client's address as `req.socket.remoteAddress`,
 * yet computing `req.ip` still parses X-Forwarded-For and builds the list of addresses
 * (`proxy-addr`) on every call. Any other setting goes through `req.ip`, so proxies are honoured
 * exactly as configured.
 */
export function clientAddress(req: Request): string | undefined {
  return req.app?.get('trust proxy') === false ? req.socket?.remoteAddress : req.ip;
}

// The tabs of one origin share one session: one tab refreshes under a Web Lock and hands the token to the others over a BroadcastChannel.
import { type HeldToken, type TabSession, usable } from './session-state.js';
import { readTabMessage, type TabMessage, tokenFromTab } from './tab-messages.js';

/** How long a tab that waited for another tab's refresh waits for its answer before refreshing itself. */
const HANDOVER_WAIT_MS = 1000;
/** How long a new tab asks the others for a token before refreshing through the cookie. */
const ASK_WAIT_MS = 150;
/** How long a tab that found the lock taken listens for the holder's answer, the wait for the lock included. */
const HOLDER_ANSWER_WAIT_MS = HANDOVER_WAIT_MS + 5000;

/** What ends a tab's wait for the others: a token it took, or another tab's sign-out. */
type TabAnswer = 'token' | 'signed-out';

/** What {@link crossTabRefresh} links: this tab's session, and how it refreshes by itself. */
export interface CrossTabOptions {
  /** The BroadcastChannel's and the Web Lock's name (`express-refresh-tokens:<baseUrl>`): one per router. */
  name: string;
  /** This tab's session: tokens taken from other tabs go into it, and a sign-out of another tab signs it out. */
  session: TabSession;
  /**
   * One refresh through the cookie (`POST /refresh`): the new token, already adopted into `session`; `null` when the
   * server says the session is gone (401); rejects on anything else, with nothing changed.
   */
  refreshThroughCookie(): Promise<HeldToken | null>;
  /** Whether this browser has a session (its presence cookie): a tab holding no token takes one from another tab only then. */
  browserHasSession(): boolean;
}

/** This tab's link to the other tabs of the origin, made by {@link crossTabRefresh}. */
export interface CrossTabRefresh {
  /** Hands a token this tab got from the server (at login) to the other tabs. */
  shareToken(token: HeldToken): void;
  /** Signs this tab out, and tells the other tabs to sign out. */
  signOutAllTabs(): void;
  /**
   * Asks the other tabs for their token, for a tab that holds none yet; waits up to `ASK_WAIT_MS` (150 ms).
   *
   * @returns The token taken from another tab, or `null` when none came (no BroadcastChannel: at once).
   */
  askOtherTabs(): Promise<HeldToken | null>;
  /**
   * Gets a fresh token, once for all calls of this tab and all tabs. Under a Web Lock the first tab refreshes through
   * the cookie and hands the token (or its sign-out) to the others; a tab that found the lock taken waits for it, then
   * takes what the holder handed over, or refreshes itself when nothing came within `HANDOVER_WAIT_MS` (1 s; the
   * holder's refresh failed, or its tab closed). Without Web Locks each tab refreshes by itself (the server answers a
   * repeat inside its grace window with the same successor).
   *
   * @param stale - The token found unfit (expiring, or refused with a 401), or `null`: a token the tab holds once the
   * lock is free counts as handed over only when it is another one, and usable.
   * @returns The fresh token, or `null` when the session is gone.
   * @throws What `refreshThroughCookie` throws (503, network), when this tab refreshed.
   */
  refreshOnce(stale: HeldToken | null): Promise<HeldToken | null>;
}

/**
 * Links this tab to the other tabs of the origin over a BroadcastChannel and a Web Lock, both named `options.name`.
 * A tab answers another tab's ask with its token while it is usable, takes a token another tab shared only when
 * {@link tokenFromTab} allows it (and it expires later than its own), and signs out when another tab did.
 * Malformed messages, tokens it may not take and asks wake no waiting tab.
 *
 * @param options - This tab's session, its own refresh, and the names; see {@link CrossTabOptions}.
 */
export function crossTabRefresh(options: CrossTabOptions): CrossTabRefresh {
  const { name, session } = options;
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(name) : null;
  /** Wakers of this tab's waits for another tab's answer: a token taken, or a sign-out. */
  const waiting = new Set<(answer: TabAnswer) => void>();
  /** The refresh in flight in this tab, shared by every caller (single flight). */
  let refreshing: Promise<HeldToken | null> | null = null;

  const post = (message: TabMessage): void => channel?.postMessage(message);
  const shareToken = (token: HeldToken): void => post({ type: 'token', value: token.value, expiresAt: token.expiresAt });

  /**
   * Adopts another tab's token when {@link tokenFromTab} allows it and it expires later than the one held; whether it
   * was a token this tab may take (one that expires no later still ends a wait).
   */
  const take = (message: { value: string; expiresAt: number }): boolean => {
    const held = session.token && { sub: session.token.user.userId, sid: session.token.user.sessionId };
    const shared = tokenFromTab(message, held, options.browserHasSession(), Date.now());
    if (!shared) return false;
    if (shared.expiresAt > (session.token?.expiresAt ?? 0)) session.adopt(shared.value, shared.expiresAt, shared.payload);
    return true;
  };

  // Any script of the origin can post here: what this tab may not take is ignored, and wakes no wait.
  channel?.addEventListener('message', (event: MessageEvent<unknown>) => {
    const message = readTabMessage(event.data);
    if (message?.type === 'ask') {
      if (session.token && usable(session.token)) shareToken(session.token);
      return;
    }
    if (message?.type === 'signed-out') session.signOut();
    else if (!message || !take(message)) return;
    for (const wake of waiting) wake(message.type);
  });

  /** Resolves with the next answer this tab takes from another tab, or `null` after `ms`. */
  const nextAnswer = (ms: number): Promise<TabAnswer | null> =>
    new Promise((resolve) => {
      const done = (answer: TabAnswer | null): void => {
        clearTimeout(timer);
        waiting.delete(done);
        resolve(answer);
      };
      const timer = setTimeout(() => done(null), ms);
      waiting.add(done);
    });

  const signOutAllTabs = (): void => {
    session.signOut();
    post({ type: 'signed-out' });
  };

  /** This tab's own refresh, its outcome told to the other tabs. */
  const refreshHere = async (): Promise<HeldToken | null> => {
    const token = await options.refreshThroughCookie();
    if (token) shareToken(token);
    else signOutAllTabs();
    return token;
  };

  /** A token the tab holds that another tab handed over while it waited: not the stale one, and usable. */
  const handedOver = (stale: HeldToken | null): HeldToken | null => {
    const held = session.token;
    return held && held !== stale && usable(held) ? held : null;
  };

  /** Under the lock, after another tab held it: what that tab handed over, its sign-out, or a refresh of this tab's own. */
  const afterHolder = async (stale: HeldToken | null, holderAnswer: Promise<TabAnswer | null>): Promise<HeldToken | null> => {
    const early = handedOver(stale);
    if (early) return early;
    // The holder's message may come after its lock was released: wait a little for it.
    const answer = await Promise.race([holderAnswer, nextAnswer(HANDOVER_WAIT_MS)]);
    const late = handedOver(stale);
    if (late) return late;
    if (answer === 'signed-out') return null;
    return refreshHere();
  };

  const refreshUnderLock = async (stale: HeldToken | null): Promise<HeldToken | null> => {
    const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
    if (!locks) return refreshHere();
    return locks.request(name, { ifAvailable: true }, async (lock) => {
      if (lock) return refreshHere();
      // Another tab is refreshing: listen for its answer from now on, and wait for its lock.
      const holderAnswer = nextAnswer(HOLDER_ANSWER_WAIT_MS);
      return locks.request(name, () => afterHolder(stale, holderAnswer));
    });
  };

  return {
    shareToken,
    signOutAllTabs,
    async askOtherTabs() {
      if (!channel) return null;
      post({ type: 'ask' });
      return (await nextAnswer(ASK_WAIT_MS)) === 'token' ? session.token : null;
    },
    refreshOnce(stale) {
      refreshing ??= refreshUnderLock(stale).finally(() => {
        refreshing = null;
      });
      return refreshing;
    },
  };
}

// The example page's script: everything goes through the browser client, express-refresh-tokens/client.
// The access token stays inside the client (memory only); the refresh token is the server's HttpOnly cookie.

const CLIENT_URL = '/vendor/express-refresh-tokens/index.js';

const $ = (id) => document.getElementById(id);
const ui = {
  loading: $('loading'),
  notice: $('notice'),
  signedOut: $('signed-out'),
  signedIn: $('signed-in'),
  loginTitle: $('login-title'),
  loginForm: $('login-form'),
  loginButton: $('login-button'),
  loginError: $('login-error'),
  username: $('username'),
  password: $('password'),
  userTitle: $('user-title'),
  userId: $('user-id'),
  userRole: $('user-role'),
  sessionId: $('session-id'),
  countdownLabel: $('countdown-label'),
  countdown: $('countdown'),
  countdownBar: $('countdown-bar'),
  refreshNote: $('refresh-note'),
  callApi: $('call-api'),
  apiResult: $('api-result'),
  sessions: $('sessions'),
  reloadSessions: $('reload-sessions'),
  logout: $('logout'),
  logoutEverywhere: $('logout-everywhere'),
  profileForm: $('profile-form'),
  displayName: $('display-name'),
  saveName: $('save-name'),
  profileResult: $('profile-result'),
  reauthDialog: $('reauth-dialog'),
  reauthForm: $('reauth-form'),
  reauthReason: $('reauth-reason'),
  reauthPassword: $('reauth-password'),
  reauthError: $('reauth-error'),
  reauthCancel: $('reauth-cancel'),
};

// ---------------------------------------------------------------------------------------------
// Small helpers

/** Creates an element with text and attributes (never innerHTML: user agents are attacker-controlled). */
function el(tag, { text, className, attrs } = {}, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attrs ?? {})) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

/** An error in words: the client's AuthClientError already has one; anything else gets a plain sentence. */
function wordsFor(error) {
  if (error && error.name === 'AuthClientError') return error.message;
  if (error instanceof TypeError) return 'Could not reach the server. Check your connection and try again.';
  return 'Something went wrong. Please try again.';
}

/** How long an info notice ("You are logged out", "Revoked …") stays up. Errors stay until what failed works again. */
const INFO_NOTICE_MS = 5000;
/** What the notice on screen is about (`'refresh'`, `'sessions'`, …), so a later success clears only its own error. */
let noticeTopic = null;
let noticeTimer;

/**
 * Shows the one notice above the cards. An info notice clears itself after INFO_NOTICE_MS; an error
 * stays until `clearNotice(topic)` (the same action worked) or the next sign-in or sign-out.
 */
function showNotice(text, kind = 'info', topic = null) {
  clearTimeout(noticeTimer);
  ui.notice.textContent = text;
  ui.notice.className = `message ${kind}`;
  ui.notice.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  ui.notice.hidden = false;
  noticeTopic = topic;
  if (kind !== 'error') noticeTimer = setTimeout(() => clearNotice(), INFO_NOTICE_MS);
}

/** Clears the notice; with a `topic`, only when the notice is about that topic. */
function clearNotice(topic) {
  if (topic !== undefined && topic !== noticeTopic) return;
  clearTimeout(noticeTimer);
  ui.notice.hidden = true;
  ui.notice.textContent = '';
  noticeTopic = null;
}

/** Runs `task` with `button` disabled (and reading `label` meanwhile, when given), so a double click sends one request. */
async function busy(button, task, label) {
  const idle = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  if (label) button.textContent = label;
  try {
    return await task();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    if (label) button.textContent = idle;
  }
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** "just now", "5 min ago", "3 h ago", or the date for anything older than a day. */
function relative(date) {
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return dateTimeFormat.format(date);
}

function timeElement(iso, text) {
  return el('time', { text, attrs: { datetime: iso, title: dateTimeFormat.format(new Date(iso)) } });
}

/** "4:59" for 299 s; "0:07" for 7 s. */
function minutesSeconds(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

// ---------------------------------------------------------------------------------------------
// The client

let auth;
try {
  const { createAuthClient } = await import(CLIENT_URL);
  // A route that wants a recent password (the display name) makes the client call askPassword, then retry.
  auth = createAuthClient({ baseUrl: '/auth', onReauthRequired: askPassword });
} catch {
  ui.loading.hidden = true;
  showNotice('The browser client could not be loaded. Run `npm run build` (or `npm start`, which builds first), then reload.', 'error');
  throw new Error('express-refresh-tokens/client is not available');
}

/** The state last rendered: `{ signedIn: false }` or `{ signedIn: true, user, expiresAt }`. */
let current = null;
/** How long the current access token was valid for when it arrived, for the progress bar. */
let tokenLifetimeMs = 0;
let refreshCount = 0;
/** Whether the last refresh failed (and no new token came since): the countdown says it will be retried. */
let refreshFailed = false;
/** Set while this page signs itself out, so the sign-out is not reported as "your session ended". */
let signingOut = false;

auth.onSessionChange((state) => render(state));

/** Whether two states show the same thing (restore() answers with the state its listener already got). */
function sameState(a, b) {
  if (!a || a.signedIn !== b.signedIn) return false;
  return !b.signedIn || (a.expiresAt === b.expiresAt && a.user.sessionId === b.user.sessionId);
}

function render(state) {
  const previous = current;
  ui.loading.hidden = true;
  if (sameState(previous, state)) return;
  current = state;

  refreshFailed = false;
  clearNotice('refresh'); // a new token (or a sign-out) ends a refresh problem

  if (!state.signedIn) {
    const wasSignedIn = previous?.signedIn === true;
    ui.signedIn.hidden = true;
    ui.signedOut.hidden = false;
    ui.sessions.replaceChildren();
    ui.apiResult.replaceChildren();
    if (wasSignedIn && !signingOut) {
      showNotice('Your session has ended (it was revoked or it expired). Please log in again.', 'error');
    }
    if (wasSignedIn) {
      ui.password.value = '';
      ui.loginTitle.focus();
    }
    return;
  }

  tokenLifetimeMs = Math.max(1000, state.expiresAt - Date.now());
  // Claims can change mid-session (auth.updateClaims on the server): each new token says the role it carries.
  ui.userRole.textContent = String(state.user.claims.role ?? '—');
  const sameSession = previous?.signedIn === true && previous.user.sessionId === state.user.sessionId;
  if (sameSession) {
    // Same session, new expiry: the client refreshed the access token (or another tab did and shared it).
    refreshCount += 1;
    ui.refreshNote.textContent = `Refreshed silently at ${timeFormat.format(new Date())} (${refreshCount} ${refreshCount === 1 ? 'time' : 'times'}).`;
    ui.refreshNote.classList.add('flash');
    setTimeout(() => ui.refreshNote.classList.remove('flash'), 1500);
    void loadSessions(); // "last used" moved
  } else {
    refreshCount = 0;
    if (previous?.signedIn === false) clearNotice(); // signed in: "You are logged out" and the like are over
    ui.refreshNote.textContent = 'Not refreshed yet.';
    ui.apiResult.replaceChildren();
    ui.signedOut.hidden = true;
    ui.signedIn.hidden = false;
    ui.loginError.hidden = true;
    ui.userId.textContent = state.user.userId;
    ui.sessionId.textContent = state.user.sessionId;
    ui.profileResult.replaceChildren();
    if (previous !== null) ui.userTitle.focus();
    void loadSessions();
    void loadProfile();
  }
  tick();
}

// ---------------------------------------------------------------------------------------------
// The countdown, and the silent refresh behind it

/** After a failed refresh, when to try again (so a server that is down is not asked every second). */
let retryAt = 0;
/** How long to wait after a failed refresh when the server did not say (its Retry-After, in `error.retryAfter`). */
const DEFAULT_RETRY_S = 10;

function tick() {
  if (!current?.signedIn) return;
  const left = current.expiresAt - Date.now();
  const expired = left <= 0;
  ui.countdownLabel.hidden = expired;
  ui.countdown.textContent = expired ? 'Expired' : minutesSeconds(left);
  ui.countdown.classList.toggle('expired', expired);
  ui.countdownBar.max = tokenLifetimeMs / 1000;
  ui.countdownBar.value = Math.max(0, left / 1000);
  if (expired && refreshFailed) ui.refreshNote.textContent = 'Access token expired; it will be refreshed when the server is reachable.';

  // getAccessToken() answers from memory until the token is close to expiry, then refreshes it
  // (once, for every tab). Asking every second keeps a visible page signed in.
  if (document.visibilityState === 'visible' && Date.now() >= retryAt) {
    auth.getAccessToken().catch((error) => {
      retryAt = Date.now() + 1000 * (error?.retryAfter ?? DEFAULT_RETRY_S);
      refreshFailed = true;
      showNotice(`Could not refresh the access token: ${wordsFor(error)}`, 'error', 'refresh');
      tick();
    });
  }
}

setInterval(tick, 1000);
document.addEventListener('visibilitychange', tick);

// ---------------------------------------------------------------------------------------------
// Sessions

let sessionsRequest = 0;

async function loadSessions() {
  const request = ++sessionsRequest;
  try {
    const sessions = await auth.listSessions();
    if (request !== sessionsRequest || !current?.signedIn) return; // a newer answer is coming, or signed out
    renderSessions(sessions);
    clearNotice('sessions');
  } catch (error) {
    if (current?.signedIn) showNotice(`Could not load your sessions: ${wordsFor(error)}`, 'error', 'sessions');
  }
}

function renderSessions(sessions) {
  const sorted = [...sessions].sort((a, b) => Number(b.current) - Number(a.current) || Date.parse(b.lastUsedAt) - Date.parse(a.lastUsedAt));
  const items = sorted.map((session) => {
    // The server's labels: browser and OS parsed from the User-Agent (which it does not keep), and the network (IPv4 /24, IPv6 /48).
    const device = session.device || 'Unknown device';
    const heading = el('p', { className: 'device' }, [el('span', { text: device })]);
    if (session.network) heading.append(' · ', el('span', { className: 'network', text: session.network, attrs: { title: 'The network it signed in from' } }));
    if (session.current) heading.append(' · ', el('span', { className: 'badge', text: 'This device' }));

    const times = el('dl', { className: 'times' }, [
      el('dt', { text: 'Created' }),
      el('dd', {}, [timeElement(session.createdAt, dateTimeFormat.format(new Date(session.createdAt)))]),
      el('dt', { text: 'Last used' }),
      el('dd', {}, [timeElement(session.lastUsedAt, relative(new Date(session.lastUsedAt)))]),
    ]);
    const item = el('li', { className: session.current ? 'session current' : 'session', attrs: { 'data-session-id': session.id } }, [
      el('div', { className: 'session-main' }, [
        heading,
        // The browser client binds each sign-in to a key its device keeps (the server's refreshToken.binding).
        ...(session.bound ? [el('p', { className: 'binding', text: 'Locked to its device: a copy of its cookie works nowhere else.' })] : []),
        times,
      ]),
    ]);
    if (!session.current) {
      const revoke = el('button', {
        text: 'Revoke',
        className: 'danger small',
        attrs: { type: 'button', 'aria-label': `Revoke the session of ${device}, created ${dateTimeFormat.format(new Date(session.createdAt))}` },
      });
      revoke.addEventListener('click', () =>
        busy(revoke, async () => {
          try {
            await auth.revokeSession(session.id);
            showNotice(`Revoked the session of ${device}. It is signed out at its next request.`);
          } catch (error) {
            showNotice(`Could not revoke that session: ${wordsFor(error)}`, 'error');
          }
          await loadSessions();
        }),
      );
      item.append(revoke);
    }
    return item;
  });
  ui.sessions.replaceChildren(...items);
}

// ---------------------------------------------------------------------------------------------
// Buttons

ui.loginForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void busy(
    ui.loginButton,
    async () => {
      ui.loginError.hidden = true;
      clearNotice();
      try {
        await auth.login({ username: ui.username.value.trim(), password: ui.password.value });
        ui.password.value = '';
      } catch (error) {
        // After too many failures the client's message says when to try again ("… Try again in 15 minutes.").
        ui.loginError.textContent = wordsFor(error);
        ui.loginError.hidden = false;
        ui.password.select();
      }
    },
    'Signing in…',
  );
});

const STATUS_TEXT = { 200: 'OK', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 500: 'Server Error', 503: 'Service Unavailable' };
const API_PROBLEMS = {
  401: 'The server refused the request: there is no valid session. Please log in again.',
  503: 'The service is temporarily unavailable. Please try again in a moment.',
};

ui.callApi.addEventListener('click', () =>
  busy(ui.callApi, async () => {
    const at = timeFormat.format(new Date());
    let response;
    try {
      response = await auth.fetch('/api/me');
    } catch (error) {
      ui.apiResult.replaceChildren(el('p', { className: 'message error', text: wordsFor(error) }));
      return;
    }
    const status = `${response.status} ${STATUS_TEXT[response.status] ?? response.statusText}`.trim();
    const line = el('p', { className: `status ${response.ok ? 'ok' : 'bad'}` }, [
      el('strong', { text: status }),
      el('span', { className: 'muted', text: ` · GET /api/me at ${at}` }),
    ]);
    if (!response.ok) {
      const words = API_PROBLEMS[response.status] ?? `The server answered ${response.status}.`;
      ui.apiResult.replaceChildren(line, el('p', { className: 'message error', text: words }));
      return;
    }
    const me = await response.json();
    ui.apiResult.replaceChildren(
      line,
      el('dl', { className: 'facts' }, [
        el('dt', { text: 'User' }),
        el('dd', { text: me.userId }),
        el('dt', { text: 'Role' }),
        el('dd', { text: String(me.claims?.role ?? '—') }),
        el('dt', { text: 'Session' }),
        el('dd', {}, [el('code', { text: me.sessionId })]),
      ]),
    );
  }),
);

ui.reloadSessions.addEventListener('click', () => busy(ui.reloadSessions, loadSessions));

// ---------------------------------------------------------------------------------------------
// A sensitive change, and the password asked again (step-up)

/** "30 seconds", "1 minute", "5 minutes". */
function ageInWords(seconds) {
  if (seconds < 60) return `${seconds} ${seconds === 1 ? 'second' : 'seconds'}`;
  const minutes = Math.round(seconds / 60);
  return `${minutes} ${minutes === 1 ? 'minute' : 'minutes'}`;
}

/**
 * The client's onReauthRequired: asks for the password in a dialog and resolves with the body for
 * POST /auth/reauth, or null when the user cancels. A wrong password comes back as `previousError`.
 */
function askPassword(challenge) {
  ui.reauthReason.textContent = challenge.maxAge
    ? `This change needs your password from the last ${ageInWords(challenge.maxAge)}. Enter it again to continue.`
    : 'Enter your password again to continue.';
  ui.reauthError.hidden = !challenge.previousError;
  ui.reauthError.textContent = challenge.previousError ? wordsFor(challenge.previousError) : '';
  ui.reauthPassword.value = '';
  return new Promise((resolve) => {
    const answer = (value) => {
      ui.reauthForm.removeEventListener('submit', onSubmit);
      ui.reauthDialog.removeEventListener('close', onClose);
      ui.reauthDialog.close();
      resolve(value);
    };
    const onSubmit = (event) => {
      event.preventDefault();
      answer({ password: ui.reauthPassword.value });
    };
    const onClose = () => answer(null); // Escape, or Cancel below
    ui.reauthForm.addEventListener('submit', onSubmit);
    ui.reauthDialog.addEventListener('close', onClose);
    ui.reauthDialog.showModal();
    ui.reauthPassword.focus();
  });
}

ui.reauthCancel.addEventListener('click', () => ui.reauthDialog.close());

async function loadProfile() {
  try {
    const response = await auth.fetch('/api/profile');
    if (response.ok) ui.displayName.value = (await response.json()).displayName;
  } catch {
    // The sessions list says when the server cannot be reached.
  }
}

ui.profileForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void busy(ui.saveName, async () => {
    let response;
    try {
      response = await auth.fetch('/api/profile', {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ displayName: ui.displayName.value }),
      });
    } catch (error) {
      ui.profileResult.replaceChildren(el('p', { className: 'message error', text: wordsFor(error) }));
      return;
    }
    const body = await response.json().catch(() => ({}));
    const words = response.ok
      ? `Saved: you are now “${body.displayName}”.`
      : body.error === 'insufficient_user_authentication'
        ? 'Not saved: your password was not confirmed.'
        : (body.message ?? API_PROBLEMS[response.status] ?? `The server answered ${response.status}.`);
    ui.profileResult.replaceChildren(el('p', { className: response.ok ? 'message info' : 'message error', text: words }));
  });
});

/** Added to the notice when the server cleared this browser's cookies but could not confirm the session ended (a 503). */
const SERVER_END_UNCONFIRMED = 'The server could not confirm that the session ended: it expires by itself, or end it from Your sessions on another device.';

/** Runs a sign-out; a failed one leaves the page signed in (the client says so) and shows why, so it can be tried again. */
async function signOut(button, task, message) {
  await busy(
    button,
    async () => {
      signingOut = true;
      try {
        const result = await task();
        showNotice(result?.serverSessionEnded === false ? `${message} ${SERVER_END_UNCONFIRMED}` : message);
      } catch (error) {
        showNotice(wordsFor(error), 'error');
      } finally {
        signingOut = false;
      }
    },
    'Logging out…',
  );
}

ui.logout.addEventListener('click', () => signOut(ui.logout, () => auth.logout(), 'You are logged out on this device.'));
ui.logoutEverywhere.addEventListener('click', () =>
  signOut(ui.logoutEverywhere, () => auth.logoutEverywhere(), 'You are logged out everywhere: every session of yours has ended.'),
);

// ---------------------------------------------------------------------------------------------
// The server's health, in words (GET /api/health: the app's words for auth.health())

/** How often the page asks again while it is visible. */
const HEALTH_INTERVAL_MS = 5000;
const healthUi = { section: $('health'), headline: $('health-headline'), details: $('health-details') };

async function loadHealth() {
  let health;
  try {
    const response = await fetch('/api/health', { cache: 'no-store' });
    health = await response.json();
  } catch {
    health = { status: 'unknown', headline: 'The server did not answer: it may be restarting.', details: [] };
  }
  healthUi.section.dataset.status = health.status;
  healthUi.headline.textContent = health.headline;
  healthUi.details.replaceChildren(...health.details.map((text) => el('li', { text })));
}

setInterval(() => {
  if (document.visibilityState === 'visible') void loadHealth();
}, HEALTH_INTERVAL_MS);
void loadHealth();

// ---------------------------------------------------------------------------------------------
// Start: signed in already (the cookie survived a reload), or the login form. Without the
// cookie's script-readable companion, restore() answers at once, with no request that would fail.

try {
  render(await auth.restore());
} catch (error) {
  render({ signedIn: false });
  showNotice(`Could not check your session: ${wordsFor(error)}`, 'error', 'restore');
}

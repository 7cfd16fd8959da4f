// The example page's script: keeps the access token in memory, refreshes through the HttpOnly cookie.
let accessToken = null;
const out = document.getElementById('out');
const show = (label, value) => { out.textContent = `${label}\n${JSON.stringify(value, null, 2)}`; };
const authPost = (path, body) => fetch(`/auth/${path}`, {
  method: 'POST',
  headers: { 'X-Requested-With': 'fetch', ...(body ? { 'Content-Type': 'application/json' } : {}) },
  body: body ? JSON.stringify(body) : undefined,
});

async function refresh() {
  const res = await authPost('refresh');
  accessToken = res.ok ? (await res.json()).accessToken : null;
  return res.ok;
}

async function api(path, init = {}) {
  const call = () => fetch(path, { ...init, headers: { ...(init.headers || {}), Authorization: `Bearer ${accessToken}` } });
  let res = await call();
  if (res.status === 401 && (await refresh())) res = await call();
  return res;
}

document.getElementById('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const res = await authPost('login', { username: form.get('username'), password: form.get('password') });
  const body = await res.json();
  accessToken = res.ok ? body.accessToken : null;
  show(`POST /auth/login → ${res.status}`, body);
});
document.getElementById('me').addEventListener('click', async () => {
  const res = await api('/api/me');
  show(`GET /api/me → ${res.status}`, await res.json());
});
document.getElementById('refresh').addEventListener('click', async () => {
  show('POST /auth/refresh', { ok: await refresh() });
});
document.getElementById('sessions').addEventListener('click', async () => {
  const res = await api('/auth/sessions');
  show(`GET /auth/sessions → ${res.status}`, await res.json());
});
document.getElementById('logout').addEventListener('click', async () => {
  const res = await authPost('logout');
  accessToken = null;
  show(`POST /auth/logout → ${res.status}`, {});
});

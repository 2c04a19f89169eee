// The server's REST API (/api/v1) with the token the page asks for once.
//
// The token lives in sessionStorage, so it is forgotten with the tab. Any
// 401 opens the token dialog and retries the call with the new token.

const PREFIX = '/api/v1';
const KEY = 'ruckus.token';

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

let asking = null; // one dialog for all the calls that hit 401 at once

export function token() {
  return sessionStorage.getItem(KEY) || '';
}

export function authHeaders(extra = {}) {
  const t = token();
  return t ? { ...extra, Authorization: `Bearer ${t}` } : extra;
}

// Shows the token dialog; resolves once a token was entered.
export function askToken(why) {
  if (asking) return asking;
  const dlg = document.getElementById('token-dialog');
  const form = document.getElementById('token-form');
  document.getElementById('token-why').textContent = why;
  asking = new Promise((resolve) => {
    const done = () => {
      const v = form.elements.token.value.trim();
      if (!v) { dlg.showModal(); return; }
      sessionStorage.setItem(KEY, v);
      form.elements.token.value = '';
      dlg.removeEventListener('close', done);
      asking = null;
      resolve(v);
    };
    dlg.addEventListener('close', done);
    dlg.showModal();
  });
  return asking;
}

// A 401 means the token is missing or wrong: ask, then try again.
export async function handle401() {
  await askToken(token() ? 'The server refused this token: enter the right one.'
    : 'This server needs a token (ruckus-server --token).');
}

// fetch under /api/v1; returns the Response (any status but 401).
export async function raw(method, path, { body, headers = {}, signal } = {}) {
  for (;;) {
    const init = { method, headers: authHeaders(headers), signal };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers['Content-Type'] = 'application/json';
    }
    const r = await fetch(PREFIX + path, init);
    if (r.status !== 401) return r;
    await handle401();
  }
}

// JSON call: resolves to the parsed body (with .httpStatus when it is an
// object) or throws ApiError with the server's detail.
export async function api(method, path, body) {
  const r = await raw(method, path, { body });
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!r.ok) {
    throw new ApiError(r.status, (data && data.detail) || text || `${r.status} ${r.statusText}`);
  }
  if (data && typeof data === 'object') Object.defineProperty(data, 'httpStatus', { value: r.status });
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
export const del = (path) => api('DELETE', path);

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

// Every page of a cursor-paged list (results), up to `max` items.
export async function getAll(path, params, key, max = 10000) {
  const out = [];
  let cursor;
  do {
    const page = await get(path + query({ ...params, limit: 1000, cursor }));
    out.push(...(page[key] || []));
    cursor = page.next_cursor;
  } while (cursor && out.length < max);
  return out;
}

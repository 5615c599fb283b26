// api: calls to Sportello's functions under /api, JSON in and out.
//
//   api(path, {method, body, bearer, operator, headers, signal})
//     → the decoded JSON body (null for an empty one). body is sent as JSON;
//     bearer adds "Authorization: Bearer <bearer>" (the manage token);
//     operator: true sends the session cookie and, on unsafe methods, the
//     CSRF token (setCsrfToken) in X-CSRF-Token.
//   get(path, opts), post(path, body, opts), put(...), patch(...), del(path, opts)
//   setCsrfToken(token) / csrfToken()  the operator session's CSRF token
//     (kept in sessionStorage "sportello.csrf")
//
// Every unsafe request carries an Idempotency-Key (a fresh UUID, or
// opts.idempotencyKey): when the network fails before the answer comes, it
// is sent again with the same key — twice at most, a second apart — and the
// server answers the first request's outcome instead of doing it again.
// GETs revalidate (the calendar's ETag makes an unchanged answer a 304).
// Within a booking (lib/trace.js) every request carries a W3C traceparent.
//
// A failure throws ApiError: status (0 when the network failed), code (the
// problem's stable code: "invalid", "conflict", "gone", ..., "network"; from
// the status when the answer is no problem document), field (the field path
// at fault, e.g. "citizen.email"), fields ([{field, message, reason, limit,
// min, max, allowed}] for validation), detail (the server's message, in
// English: for logs, never shown — lib/problems.js says it from code and
// reasons), retryAfter (seconds, from Retry-After), problem (the whole body).
import { getLang } from './i18n.js';
import { traceparent } from './trace.js';

export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = problem.code || (status === 0 ? 'network' : CODE_OF_STATUS[status] || `http_${status}`);
    this.field = problem.field || '';
    this.fields = Array.isArray(problem.errors) ? problem.errors : problem.field ? [{ field: problem.field, message: problem.detail || '' }] : [];
    this.detail = problem.detail || '';
    this.retryAfter = retryAfter;
    this.problem = problem;
  }
}

// The status of each code (functions/internal/httpx), read backwards.
const CODE_OF_STATUS = {
  400: 'invalid',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  410: 'gone',
  413: 'too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable',
  429: 'rate_limited',
  500: 'internal',
  502: 'bad_gateway',
  503: 'unavailable',
};

const CSRF_KEY = 'sportello.csrf';

export function setCsrfToken(token) {
  try {
    if (token) sessionStorage.setItem(CSRF_KEY, token);
    else sessionStorage.removeItem(CSRF_KEY);
  } catch {
    // ignore
  }
}

function csrfToken() {
  try {
    return sessionStorage.getItem(CSRF_KEY) || '';
  } catch {
    return '';
  }
}

// How often an unsafe request is sent again after a network failure.
const RETRIES = 2;

function newKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

export async function api(path, { method = 'GET', body, bearer, operator = false, headers = {}, signal, idempotencyKey } = {}) {
  const h = { Accept: 'application/json, application/problem+json', 'Accept-Language': getLang(), ...headers };
  if (body !== undefined) h['Content-Type'] = 'application/json';
  if (bearer) h.Authorization = `Bearer ${bearer}`;
  const unsafe = !['GET', 'HEAD'].includes(method);
  if (operator && unsafe && csrfToken()) h['X-CSRF-Token'] = csrfToken();
  if (unsafe) h['Idempotency-Key'] = idempotencyKey || newKey();
  const tp = traceparent();
  if (tp) h.traceparent = tp;
  const url = path.startsWith('/') ? path : `/api/${path}`;
  let resp;
  for (let attempt = 0; ; attempt++) {
    try {
      resp = await fetch(url, {
        method,
        headers: h,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
        cache: unsafe ? 'no-store' : 'no-cache',
        signal,
      });
      // The first of these requests is still running: ask again shortly.
      if (unsafe && resp.status === 409 && attempt < RETRIES && (await inProgress(resp.clone()))) {
        await sleep(1000, signal);
        continue;
      }
      break;
    } catch (err) {
      if (err.name === 'AbortError') throw err;
      if (unsafe && attempt < RETRIES) {
        await sleep(1000, signal);
        continue;
      }
      throw new ApiError(0, { code: 'network', detail: String(err.message || err) });
    }
  }
  const text = await resp.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { detail: text };
    }
  }
  if (!resp.ok) {
    const ra = Number(resp.headers.get('Retry-After'));
    throw new ApiError(resp.status, data && typeof data === 'object' ? data : {}, Number.isFinite(ra) && ra > 0 ? ra : undefined);
  }
  return data;
}

export const get = (path, opts) => api(path, { ...opts, method: 'GET' });
export const post = (path, body, opts) => api(path, { ...opts, method: 'POST', body });
export const put = (path, body, opts) => api(path, { ...opts, method: 'PUT', body });
export const patch = (path, body, opts) => api(path, { ...opts, method: 'PATCH', body });
export const del = (path, opts) => api(path, { ...opts, method: 'DELETE' });

async function inProgress(resp) {
  try {
    const p = await resp.json();
    return (p.errors || []).some((e) => e.reason === 'in_progress');
  } catch {
    return false;
  }
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new DOMException('aborted', 'AbortError'));
    });
  });
}

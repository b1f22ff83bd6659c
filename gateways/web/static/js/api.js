// Calls to the public API with the signed-in token; every failure becomes an ApiError
// carrying the RFC 9457 problem the server sent (or one made up for a network failure).
import { signOut, token } from './auth.js';
import { lang, t } from './i18n.js';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export async function api(path, { method = 'GET', body, params, headers = {}, auth = true } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== '') url.searchParams.set(name, String(value));
  }
  // Problems come back in the language the user chose on the page, not the browser's.
  const init = { method, headers: { Accept: 'application/json', 'Accept-Language': lang(), ...headers } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const bearer = auth ? token() : null;
  if (bearer) init.headers.Authorization = `Bearer ${bearer}`;
  let res;
  try {
    res = await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, { title: t('error.network'), detail: String(err.message || err) });
  }
  if (!res.ok) {
    let problem = { title: `HTTP ${res.status}`, detail: res.statusText };
    try {
      problem = await res.json();
    } catch {
      // A proxy's HTML error page: keep the status line.
    }
    if (res.status === 401 && auth) {
      signOut();
      window.dispatchEvent(new CustomEvent('session-expired'));
    }
    throw new ApiError(res.status, problem);
  }
  return res.status === 204 ? null : res.json();
}

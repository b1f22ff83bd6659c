// The signed-in token (kept in this browser only) and what it says about its holder.
const KEY = 'lienthong.token';

function decode(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(
      atob(part)
        .split('')
        .map((c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0'))
        .join(''),
    );
    return JSON.parse(json);
  } catch {
    return null;
  }
}

export function token() {
  const value = localStorage.getItem(KEY);
  if (!value) return null;
  const claims = decode(value);
  if (!claims || (claims.exp && claims.exp * 1000 < Date.now())) {
    localStorage.removeItem(KEY);
    return null;
  }
  return value;
}

export function session() {
  const value = token();
  if (!value) return null;
  const claims = decode(value);
  return { sub: claims.sub, role: claims.role, agency: claims.agency_code || null, exp: claims.exp };
}

export function signIn(value) {
  const claims = decode(value.trim());
  if (!claims || !claims.role) return false;
  localStorage.setItem(KEY, value.trim());
  return true;
}

export function signOut() {
  localStorage.removeItem(KEY);
}

export function can(page) {
  const s = session();
  if (!s) return false;
  const readers = {
    overview: ['supervisor', 'inspector', 'admin', 'officer'],
    bottlenecks: ['supervisor', 'inspector', 'admin'],
    indicators: ['supervisor', 'inspector', 'admin', 'officer'],
    inbox: ['officer', 'supervisor'],
    search: ['officer', 'supervisor', 'inspector', 'admin', 'integration'],
    // The integrity check (GET /api/v1/audit/verify); other roles are refused it.
    verify: ['supervisor', 'inspector', 'admin'],
    // The whole log's integrity and kept checkpoints (pages/audit.js), by the same rule.
    audit: ['supervisor', 'inspector', 'admin'],
  };
  return (readers[page] || []).includes(s.role);
}

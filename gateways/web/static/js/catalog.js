// Agencies and procedures, read once per sign-in; names for codes; the hierarchy on a day.
import { api } from './api.js';

let agencies = new Map();
let procedures = new Map();
const onDay = new Map();
let loaded = null;
let home;

export function resetCatalog() {
  home = undefined;
  agencies = new Map();
  procedures = new Map();
  onDay.clear();
  loaded = null;
}

export function loadCatalog() {
  if (!loaded) {
    loaded = Promise.all([
      api('/api/v1/agencies').then((r) => r.items.forEach((a) => agencies.set(a.code, a))),
      api('/api/v1/procedures').then((r) => r.items.forEach((p) => procedures.set(p.code, p))),
    ]).catch((err) => {
      loaded = null;
      throw err;
    });
  }
  return loaded;
}

export function agency(code) {
  return agencies.get(code) || null;
}

export function allAgencies() {
  return [...agencies.values()];
}

// The top agency the procedures' routes run under (the demo's province): with the whole country in
// the catalogue, a hundred agencies have no parent, and the first of them by code is not the one
// anybody works in. Without procedures, the first top agency.
export function homeRoot() {
  if (home !== undefined) return home;
  const counts = new Map();
  for (const p of procedures.values()) {
    for (const step of p.route || []) {
      const at = topOf(step.agency_code);
      if (at && agencies.has(at) && !agencies.get(at).parent_code) counts.set(at, (counts.get(at) || 0) + 1);
    }
  }
  let best = null;
  for (const [code, n] of counts) if (best === null || n > counts.get(best)) best = code;
  home = best || ([...agencies.values()].find((a) => !a.parent_code) || {}).code || null;
  return home;
}

// The top of the tree an agency sits in (its province in the country's catalogue); the
// code itself when it is unknown or has no parent.
export function topOf(code) {
  let at = code;
  const seen = new Set();
  while (at && !seen.has(at) && agencies.get(at)?.parent_code) {
    seen.add(at);
    at = agencies.get(at).parent_code;
  }
  return at;
}

export function agencyName(code) {
  if (!code) return '–';
  return agencies.get(code)?.name || code;
}

// The province's own name ends most names below it; charts leave it out.
function placeSuffix() {
  const root = agencies.get(homeRoot());
  if (!root) return null;
  return root.name.replace(/^Ủy ban nhân dân\s+/i, '');
}

export function shortName(code) {
  const name = agencyName(code);
  const place = placeSuffix();
  let short = name;
  if (place && short.endsWith(' ' + place)) {
    const rest = short.slice(0, -place.length - 1);
    if (!/^Ủy ban nhân dân$/i.test(rest)) short = rest; // the province itself keeps its place name
  }
  return short
    .replace(/^Ủy ban nhân dân/i, 'UBND')
    .replace(/^Trung tâm Phục vụ hành chính công/i, 'TT Phục vụ HCC')
    .replace(/^Chi nhánh Văn phòng Đăng ký đất đai/i, 'CN VP ĐKĐĐ');
}

export function procedure(code) {
  return procedures.get(code) || null;
}

export function allProcedures() {
  return [...procedures.values()];
}

export function procedureName(code) {
  return procedures.get(code)?.name || code || '–';
}

// Agencies in force on a local day ("YYYY-MM-DD"), as the catalogue had them then.
export async function hierarchyOn(dayText) {
  if (!onDay.has(dayText)) {
    onDay.set(
      dayText,
      api('/api/v1/agencies', { params: { on: dayText } }).then((r) => r.items),
    );
  }
  return onDay.get(dayText);
}

export function childrenOf(list, code) {
  return list.filter((a) => a.parent_code === code).sort((a, b) => a.name.localeCompare(b.name, 'vi'));
}

// The child of `root` whose subtree holds `code` (root itself for its own desk), or null.
export function branchOf(list, root, code) {
  const parent = new Map(list.map((a) => [a.code, a.parent_code]));
  let at = code;
  const seen = new Set();
  while (at && !seen.has(at)) {
    seen.add(at);
    if (at === root) return root;
    const up = parent.get(at);
    if (up === root) return at;
    at = up;
  }
  return null;
}

export function pathTo(list, root, code) {
  const parent = new Map(list.map((a) => [a.code, a.parent_code]));
  const path = [];
  let at = code;
  while (at) {
    path.unshift(at);
    if (at === root) return path;
    at = parent.get(at) || agencies.get(at)?.parent_code;
    if (path.length > 12) break;
  }
  return root ? [root, ...path.filter((c) => c !== root)] : path;
}

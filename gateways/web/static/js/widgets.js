// Pieces every page uses: error notices that say what failed, loading states, chips.
import { h, replace } from './dom.js';
import { dateTime, hours, remaining } from './format.js';
import { label, t } from './i18n.js';

export function problemText(err) {
  const status = err.status ?? 0;
  const problem = err.problem || {};
  if (status === 0) return [t('error.network'), problem.detail];
  // A route the server does not have (yet) answers the generic 404; a known resource that is
  // missing answers its own problem (unknown dossier, unknown agency…).
  if ((status === 404 && (!problem.detail || problem.detail === 'Not Found')) || status === 405 || status === 501)
    return [t('error.missing', { status }), null];
  if (status >= 500) return [t('error.server', { status }), problem.detail];
  if (status === 403) return [t('error.forbidden'), problem.detail];
  return [problem.title || t('error.title'), problem.detail];
}

// Failures that may pass if asked again: the network, a timeout, a rate limit, the server's own.
function passing(status) {
  return status === 0 || status === 408 || status === 429 || (status >= 500 && status !== 501);
}

export function problemBox(err, { retry } = {}) {
  const [title, detail] = problemText(err);
  if (!passing(err.status ?? 0)) retry = null; // asked again, a 403, 404 or 422 answers the same
  return h(
    'div',
    { class: 'notice error', role: 'alert', 'data-testid': 'problem', 'data-status': String(err.status ?? 0) },
    h('strong', {}, title),
    detail ? h('span', {}, ' ', detail) : null,
    retry ? h('button', { type: 'button', class: 'link', onclick: retry }, t('error.retry')) : null,
  );
}

// Fill `el` with what `fill(el)` draws, or with a notice saying why it could not.
// `quiet`: a live refresh keeps what is shown until the new figures are there.
export async function load(el, fill, quiet = false) {
  if (!quiet) replace(el, h('p', { class: 'muted loading', 'aria-busy': 'true' }, t('app.loading')));
  try {
    await fill(el);
  } catch (err) {
    if (!(err && 'status' in err)) console.error(err);
    replace(el, problemBox(err, { retry: () => load(el, fill) }));
  }
}

// The citizen's satisfaction ratings (rất hài lòng / hài lòng / không hài lòng), as the API takes them.
export const RATINGS = ['very_satisfied', 'satisfied', 'not_satisfied'];

export function statusChip(status) {
  return h('span', { class: `chip status-${status}`, 'data-testid': 'status' }, label('status', status));
}

export function timelinessChip(value) {
  if (!value) return '–';
  return h('span', { class: `chip t-${value}` }, label('timeliness', value));
}

export function remainingChip(value, { paused = false, overdue = null, imported = false } = {}) {
  // A legacy case its log never closed has no live clock: "late by ten years" would say nothing.
  if (imported) return h('span', { class: 'chip', 'data-testid': 'remaining-imported', title: t('remaining.imported.hint') }, t('remaining.imported'));
  if (value === null || value === undefined) return h('span', { class: 'muted' }, '–');
  const late = overdue ?? value < 0;
  const cls = paused ? 'chip paused' : late ? 'chip t-late' : value < 8 ? 'chip warn' : 'chip ok';
  return h('span', { class: cls, title: hours(value) }, remaining(value, paused));
}

// A dossier's (or a search row's) time left: its clock, or none for imported history.
export function timeLeft(d) {
  return remainingChip(d.remaining_working_hours, { overdue: d.overdue, imported: Boolean(d.imported) });
}

// The due time, with the apology's new appointment under it (the dossier still counts as late
// against the first one).
export function dueCell(due, promised) {
  return h('span', {}, dateTime(due), promised ? h('span', { class: 'muted small block' }, `${t('dossier.promised')}: ${dateTime(promised)}`) : null);
}

export function dossierLink(id, code) {
  return h('a', { href: `#/dossier/${encodeURIComponent(id)}`, 'aria-label': t('common.view_dossier', { code }) }, code);
}

export function freshness(body) {
  if (!body || body.view_position === undefined) return null;
  const lag = body.lag ? t('common.lag', { lag: body.lag }) : '';
  return h('p', { class: 'muted small' }, t('common.freshness', { position: body.view_position, lag }));
}

export function toast(message, kind = 'ok') {
  const region = document.getElementById('toasts');
  const item = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  region.appendChild(item);
  setTimeout(() => item.remove(), 6000);
}

// One dossier for an inspector or an officer: summary, integrity badge (hash chain + signed
// checkpoint), a time slider showing the state as of any instant, the timeline of every event
// across agencies and levels, the control sheet (phiếu kiểm soát) and its printable form.
import { openActions } from '../actions.js';
import { api } from '../api.js';
import { can } from '../auth.js';
import { documentButtons } from '../documents.js';
import { filesSection } from '../files.js';
import { agency, agencyName, procedureName, shortName } from '../catalog.js';
import { debounce, h, replace, section, table } from '../dom.js';
import { env, loadEnv } from '../env.js';
import { dateTime, hours, num, shortHours } from '../format.js';
import { faultText, label, t } from '../i18n.js';
import { onLive } from '../live.js';
import { dueCell, load, problemBox, statusChip, timeLeft, timelinessChip } from '../widgets.js';

// JavaScript dates keep milliseconds, event times microseconds: one millisecond later is
// never before the event itself.
const msOf = (iso) => Math.floor(new Date(iso).getTime()) + 1;

function summary(d) {
  const rows = [
    [t('common.procedure'), d.procedure_name || procedureName(d.procedure_code)],
    d.external_case_id ? [t('dossier.case_id'), h('span', { class: 'mono', 'data-testid': 'case-id' }, d.external_case_id)] : null,
    [t('common.status'), [statusChip(d.status), ` (${d.status_code})`]],
    [t('common.holder'), agencyName(d.holder_agency_code)],
    d.pending_handoff_to ? [t('common.in_transit_to'), agencyName(d.pending_handoff_to)] : null,
    [t('dossier.channel'), label('channel', d.channel)],
    [t('common.received_at'), dateTime(d.received_at)],
    [t('common.due'), dateTime(d.due_at)],
    d.promised_at ? [t('dossier.promised'), dateTime(d.promised_at)] : null,
    d.resolved_at ? [t('dossier.resolved'), [dateTime(d.resolved_at), ' ', timelinessChip(d.timeliness)]] : null,
    d.outcome ? [t('dossier.outcome'), `${label('outcome', d.outcome)}${d.decision_number ? ' — ' + d.decision_number : ''}`] : null,
    !d.resolved_at && !d.closed_at ? [t('common.remaining'), timeLeft(d)] : null,
  ].filter(Boolean);
  return h('dl', { class: 'summary' }, rows.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v))));
}

async function verifyBadge(el, id) {
  // A role the server refuses the check is told so without asking it (no failed request).
  if (!can('verify')) {
    replace(el, h('p', { class: 'muted', 'data-testid': 'verify-forbidden' }, t('dossier.verify.forbidden')));
    return;
  }
  let result;
  try {
    result = await api('/api/v1/audit/verify', { params: { dossier_id: id } });
  } catch (err) {
    if (err.status === 403) {
      replace(el, h('p', { class: 'muted', 'data-testid': 'verify-forbidden' }, t('dossier.verify.forbidden')));
      return;
    }
    throw err;
  }
  const bad = !result.ok;
  const partial = !bad && result.uncovered_events > 0;
  const lines = [];
  if (bad) {
    const f = result.first_bad || {};
    lines.push(h('p', {}, t('dossier.verify.bad.detail', { seq: f.seq ?? '?', reason: faultText(f) })));
  } else {
    lines.push(h('p', {}, t('dossier.verify.ok.detail', { n: num(result.checked_events) })));
    if (result.covered_events && result.last_checkpoint)
      lines.push(h('p', {}, t('dossier.verify.covered', { n: num(result.covered_events), cp: result.last_checkpoint })));
    if (result.uncovered_events) lines.push(h('p', {}, t('dossier.verify.uncovered', { n: num(result.uncovered_events) })));
  }
  // A store that lost or re-signed its newest checkpoints still verifies here: only a
  // checkpoint kept outside the system tells (the audit page).
  lines.push(h('p', { class: 'small' }, h('a', { href: '#/audit', 'data-testid': 'verify-kept-link' }, t('dossier.verify.kept'))));
  const details = h('div', {});
  replace(
    el,
    h(
      'div',
      { class: `badge-verify ${bad ? 'bad' : partial ? 'partial' : 'ok'}`, 'data-testid': 'verify', 'data-ok': String(result.ok) },
      h('span', { class: 'icon', 'aria-hidden': 'true' }, bad ? '✗' : partial ? '◐' : '✓'),
      h('div', {}, h('strong', {}, bad ? t('dossier.verify.bad') : t('dossier.verify.ok')), lines, details),
    ),
  );
  if (result.last_checkpoint) {
    try {
      const cp = await api(`/api/v1/audit/checkpoints/${result.last_checkpoint}`);
      replace(
        details,
        h(
          'details',
          { class: 'small' },
          h('summary', {}, t('dossier.verify.checkpoint', { n: cp.n, size: num(cp.size), at: dateTime(cp.created_at), key: cp.key_id })),
          h('p', { class: 'mono' }, `root ${cp.root}`),
          h('p', { class: 'mono' }, `signature ${cp.signature}`),
        ),
      );
    } catch {
      // The badge stands without the checkpoint's details.
    }
  }
}

function actorText(event) {
  const a = event.actor || {};
  if (a.role === 'integration' || !a.agency_code) return `${t('dossier.timeline.system')}${a.user ? ' (' + a.user + ')' : ''}`;
  return `${agencyName(a.agency_code)}${a.user ? ' — ' + a.user : ''}`;
}

function payloadText(event) {
  const p = event.payload || {};
  const parts = [];
  if (p.from_agency_code && p.to_agency_code) parts.push(`${shortName(p.from_agency_code)} → ${shortName(p.to_agency_code)}`);
  if (event.type === 'DossierReceived') {
    parts.push(`${agencyName(p.receiving_agency_code)} · ${label('channel', p.channel)}`);
    if (p.due_at) parts.push(`${t('common.due')}: ${dateTime(p.due_at)}`);
  }
  if (p.consulted_agency_code) parts.push(agencyName(p.consulted_agency_code));
  if (p.step_timeliness) parts.push(`${t('dossier.sheet.result')}: ${label('timeliness', p.step_timeliness)}`);
  if (p.timeliness) parts.push(label('timeliness', p.timeliness));
  if (p.outcome) parts.push(`${label('outcome', p.outcome)}${p.decision_number ? ' — ' + p.decision_number : ''}`);
  if (p.new_due_at) parts.push(`${t('dossier.promised')}: ${dateTime(p.new_due_at)}`);
  if (p.amount_vnd) parts.push(`${num(p.amount_vnd)} đ`);
  // An imported step's activity heads it (legacyActivity): not repeated here.
  for (const key of ['reason', 'note', 'question', 'answer']) if (p[key]) parts.push(`«${p[key]}»`);
  if (p.activity && event.type !== 'LegacyActivityRecorded') parts.push(`«${p.activity}»`);
  if (event.type === 'LegacyActivityRecorded') parts.push(label('event', event.type));
  if (event.type === 'LegacyActivityRecorded' && p.resource) parts.push(`${t('dossier.resource')}: ${p.resource}`);
  if (event.type === 'LegacyCaseRecorded') parts.push(`${t('dossier.case_id')}: ${p.case_id}`);
  return parts.join(' · ');
}

// An attribute as the legacy log wrote it ({type, value[, children]}): the value as written (a
// time keeps the offset the log gave it), a list or nested attributes as JSON.
function attributeText(a) {
  if (!a || typeof a !== 'object' || !('value' in a)) return JSON.stringify(a);
  const text = a.value !== null && typeof a.value === 'object' ? JSON.stringify(a.value) : String(a.value);
  return a.children ? `${text} ${JSON.stringify(a.children)}` : text;
}

// What an imported case or event carried in its log, every attribute, for a miner to compare.
function legacyAttributes(event) {
  const p = event.payload || {};
  let attrs = null;
  if (event.type === 'LegacyCaseRecorded') attrs = p.attributes;
  if (event.type === 'LegacyActivityRecorded') attrs = p.original && Object.keys(p.original).length ? p.original : p.attributes;
  const keys = Object.keys(attrs || {});
  if (!keys.length) return null;
  return h(
    'details',
    { 'data-testid': 'legacy-attributes' },
    h('summary', {}, t('dossier.legacy.attributes', { n: keys.length })),
    h('dl', { class: 'attrs' }, keys.map((k) => h('div', {}, h('dt', {}, k), h('dd', { class: 'mono' }, attributeText(attrs[k]))))),
  );
}

// An imported trace is stored as one event (LegacyTraceRecorded): shown as what it holds, its
// case, then each event of the legacy log at its own time and unit (all under the trace's seq
// and hash, which is what the store signs).
function unpacked(events) {
  return events.flatMap((e) => {
    if (e.type !== 'LegacyTraceRecorded') return [e];
    const p = e.payload || {};
    const at = events[0]?.occurred_at || e.occurred_at;
    const kase = { ...e, type: 'LegacyCaseRecorded', occurred_at: at, payload: { case_id: p.case_id, attributes: p.attributes } };
    const steps = (p.activities || []).map((a) => ({
      ...e,
      type: 'LegacyActivityRecorded',
      occurred_at: a.occurred_at,
      agency_code: a.agency_code,
      actor: { agency_code: a.agency_code, user: a.user, role: 'integration' },
      payload: { activity: a.activity, agency_code: a.agency_code, resource: a.resource, original: a.original },
    }));
    return [kase, ...steps];
  });
}

// What an imported step is called in its log: its activity, and the lifecycle transition the
// log wrote (a start and a complete of one activity are two steps), else the shared label.
function what(event) {
  const p = event.payload || {};
  if (event.type !== 'LegacyActivityRecorded' || !p.activity) return label('event', event.type);
  const written = (p.original || {})['lifecycle:transition'];
  const transition = written && typeof written === 'object' ? written.value : null;
  return h('span', { 'data-testid': 'legacy-activity', title: label('event', event.type) }, transition ? `${p.activity} (${transition})` : p.activity);
}

function timeline(events) {
  return h(
    'ol',
    { class: 'timeline', 'data-testid': 'timeline' },
    unpacked(events).map((e) =>
      h(
        'li',
        { 'data-seq': e.seq, 'data-at': e.occurred_at },
        h('div', { class: 'when' }, `#${e.seq} · ${dateTime(e.occurred_at)}`),
        h('div', { class: 'what' }, what(e)),
        h('div', { class: 'payload' }, payloadText(e)),
        h('div', { class: 'muted small' }, t('dossier.timeline.by', { who: actorText(e) })),
        legacyAttributes(e),
        h('details', {}, h('summary', {}, t('dossier.timeline.hash')), h('p', { class: 'mono' }, e.hash), h('p', { class: 'mono' }, `prev ${e.prev_hash}`)),
      ),
    ),
  );
}

function withLevel(code) {
  const level = agency(code)?.level;
  return [agencyName(code), level ? h('span', { class: 'muted small block' }, label('level', level)) : null];
}

function controlSheet(sheet) {
  return table(
    [
      { label: t('common.seq'), numeric: true, cell: (r) => sheet.rows.indexOf(r) + 1 },
      { label: t('dossier.sheet.giver'), cell: (r) => withLevel(r.from_agency_code) },
      { label: t('dossier.sheet.handed'), cell: (r) => dateTime(r.handed_at) },
      { label: t('dossier.sheet.receiver'), cell: (r) => withLevel(r.to_agency_code) },
      {
        label: t('dossier.sheet.accepted'),
        cell: (r) =>
          r.returned_at
            ? h('span', { class: 'chip warn' }, t('dossier.sheet.returned', { at: dateTime(r.returned_at), reason: r.return_reason || '' }))
            : dateTime(r.accepted_at),
      },
      {
        label: t('dossier.sheet.result'),
        // A late step shows by how much it overran its budget, not the hours it used.
        cell: (r) => [
          timelinessChip(r.step_timeliness),
          ' ',
          h(
            'span',
            { class: 'muted small', 'data-testid': 'step-outcome' },
            r.step_overrun_working_hours
              ? t('dossier.sheet.overrun', { t: hours(r.step_overrun_working_hours) })
              : hours(r.step_used_working_hours),
          ),
        ],
      },
      { label: t('dossier.sheet.note'), cell: (r) => [r.note || '', r.off_route ? ` (${t('dossier.step.off_route')})` : ''] },
    ],
    sheet.rows,
    { testid: 'control-sheet', empty: t('dossier.sheet.empty') },
  );
}

function stepsTable(d) {
  return table(
    [
      { label: t('dossier.step.agency'), cell: (s) => [agencyName(s.agency_code), s.off_route ? ` (${t('dossier.step.off_route')})` : ''] },
      { label: t('dossier.step.entered'), cell: (s) => dateTime(s.entered_at) },
      { label: t('dossier.step.left'), cell: (s) => dateTime(s.left_at) },
      { label: t('dossier.step.budget'), numeric: true, cell: (s) => (s.budget_working_hours ? shortHours(s.budget_working_hours) : '–') },
      { label: t('dossier.step.used'), numeric: true, cell: (s) => shortHours(s.used_working_hours) },
      { label: t('dossier.step.result'), cell: (s) => timelinessChip(s.timeliness) },
    ],
    d.steps,
    { caption: t('dossier.steps') },
  );
}

function asOfPanel(d, at) {
  return h(
    'div',
    { class: `asof ${at ? 'past' : ''}`, 'data-testid': 'asof', 'data-as-of': at || '' },
    h('h3', {}, at ? t('dossier.slider.at', { at: dateTime(at) }) : t('dossier.slider.current')),
    h(
      'dl',
      { class: 'summary' },
      h('div', {}, h('dt', {}, t('common.status')), h('dd', { 'data-testid': 'asof-status', 'data-status': d.status }, statusChip(d.status))),
      h('div', {}, h('dt', {}, t('common.holder')), h('dd', { 'data-testid': 'asof-holder', 'data-code': d.holder_agency_code }, agencyName(d.holder_agency_code))),
      d.pending_handoff_to ? h('div', {}, h('dt', {}, t('common.in_transit_to')), h('dd', {}, agencyName(d.pending_handoff_to))) : null,
      h('div', {}, h('dt', {}, t('common.due')), h('dd', {}, dueCell(d.due_at, d.promised_at))),
      h(
        'div',
        {},
        h('dt', {}, t('common.remaining')),
        h('dd', {}, d.resolved_at ? timelinessChip(d.timeliness) : timeLeft(d)),
      ),
    ),
    stepsTable(d),
  );
}

function slider(id, dossier, events, timelineEl) {
  const first = msOf(events[0].occurred_at);
  const last = msOf(events[events.length - 1].occurred_at);
  const closed = Boolean(dossier.closed_at || dossier.resolved_at);
  const end = closed ? last : Math.max(last, new Date(env().now).getTime());
  const marks = events.map((e) => msOf(e.occurred_at));
  const panel = h('div', {}, asOfPanel(dossier, null));
  const shown = h('output', { for: 'asof-range', 'data-testid': 'asof-label' }, t('dossier.slider.now'));
  const range = h('input', {
    type: 'range',
    id: 'asof-range',
    min: String(first),
    max: String(end),
    step: 'any',
    value: String(end),
    list: 'asof-marks',
    'data-testid': 'asof-slider',
    'aria-valuetext': t('dossier.slider.now'),
  });
  const ticks = h('datalist', { id: 'asof-marks' }, marks.map((m) => h('option', { value: String(m) })));
  let asked = 0;
  const fetchState = debounce(async (value) => {
    const mine = ++asked;
    const isNow = value >= end;
    const at = isNow ? null : new Date(value).toISOString();
    try {
      const state = isNow ? dossier : await api(`/api/v1/dossiers/${encodeURIComponent(id)}`, { params: { as_of: at } });
      if (mine === asked) replace(panel, asOfPanel(state, isNow ? null : state.as_of || at));
    } catch (err) {
      if (mine === asked) replace(panel, problemBox(err));
    }
  }, 250);
  const moved = () => {
    const value = Number(range.value);
    const isNow = value >= end;
    const text = isNow ? t('dossier.slider.now') : dateTime(new Date(value).toISOString());
    shown.textContent = text;
    range.setAttribute('aria-valuetext', text);
    for (const li of timelineEl.querySelectorAll('li[data-at]')) {
      li.classList.toggle('later', !isNow && msOf(li.dataset.at) > value);
      li.title = li.classList.contains('later') ? t('dossier.timeline.later') : '';
    }
    fetchState(value);
  };
  range.addEventListener('input', moved);
  const jump = (direction) => {
    const value = Number(range.value);
    const target = direction < 0 ? [...marks].reverse().find((m) => m < value - 1) : marks.find((m) => m > value + 1);
    range.value = String(target ?? (direction < 0 ? first : end));
    moved();
  };
  return h(
    'div',
    { class: 'slider' },
    h('label', { for: 'asof-range' }, t('dossier.slider.label'), ': ', shown),
    range,
    ticks,
    h('div', { class: 'ends' }, h('span', {}, dateTime(events[0].occurred_at)), h('span', {}, closed ? dateTime(events[events.length - 1].occurred_at) : t('dossier.slider.now'))),
    h(
      'div',
      { class: 'actions-row' },
      h('button', { type: 'button', class: 'secondary', 'data-testid': 'asof-prev', onclick: () => jump(-1) }, '◀ ', t('dossier.slider.prev')),
      h('button', { type: 'button', class: 'secondary', 'data-testid': 'asof-next', onclick: () => jump(1) }, t('dossier.slider.next'), ' ▶'),
      h('button', { type: 'button', class: 'secondary', onclick: () => ((range.value = String(end)), moved()) }, t('dossier.slider.now')),
    ),
    panel,
  );
}

async function renderPrint(main, id) {
  const [d, sheet] = await Promise.all([
    api(`/api/v1/dossiers/${encodeURIComponent(id)}`),
    api(`/api/v1/dossiers/${encodeURIComponent(id)}/control-sheet`),
  ]);
  const rows = [];
  for (const r of sheet.rows) {
    rows.push(
      h(
        'tr',
        {},
        h('td', {}, h('div', {}, t('print.give', { name: agencyName(r.from_agency_code) })), h('div', {}, t('print.take', { name: agencyName(r.to_agency_code) }))),
        h('td', {}, h('div', {}, dateTime(r.handed_at)), h('div', {}, r.returned_at ? t('dossier.sheet.returned', { at: dateTime(r.returned_at), reason: r.return_reason || '' }) : dateTime(r.accepted_at))),
        h('td', {}, label('timeliness', r.step_timeliness) || '–'),
        h('td', {}, r.note || ''),
      ),
    );
  }
  replace(
    main,
    h(
      'div',
      { class: 'no-print actions-row', style: 'margin-bottom:12px' },
      h('a', { class: 'button', href: `#/dossier/${encodeURIComponent(id)}` }, '◀ ', t('print.back')),
      h('button', { type: 'button', class: 'primary', onclick: () => window.print() }, t('print.print')),
    ),
    h(
      'article',
      { class: 'print-sheet', 'data-testid': 'print-sheet' },
      h('h1', {}, t('print.title')),
      h(
        'div',
        { class: 'meta' },
        h('p', {}, t('print.code', { code: sheet.receipt_code })),
        h('p', {}, t('print.procedure', { name: d.procedure_name || procedureName(d.procedure_code) })),
        h('p', {}, t('print.dates', { received: dateTime(sheet.received_at), due: dateTime(sheet.promised_at || sheet.due_at) })),
        sheet.returned_at ? h('p', {}, t('print.returned', { at: dateTime(sheet.returned_at) })) : null,
      ),
      h(
        'table',
        {},
        h('thead', {}, h('tr', {}, ['print.col.agency', 'print.col.time', 'print.col.result', 'print.col.note'].map((k) => h('th', { scope: 'col' }, t(k))))),
        h(
          'tbody',
          {},
          rows.length ? rows : h('tr', { 'data-testid': 'print-empty' }, h('td', { colspan: '4' }, t('dossier.sheet.empty'))),
        ),
      ),
    ),
  );
}

export async function render(main, params, ctx) {
  const id = ctx.id;
  if (ctx.view === 'print') {
    await load(main, () => renderPrint(main, id));
    return null;
  }
  await loadEnv();
  const page = h('div', {});
  replace(main, page);
  let current = null;
  const draw = async (el) => {
    const [d, events, sheet] = await Promise.all([
      api(`/api/v1/dossiers/${encodeURIComponent(id)}`),
      api(`/api/v1/dossiers/${encodeURIComponent(id)}/events`),
      api(`/api/v1/dossiers/${encodeURIComponent(id)}/control-sheet`),
    ]);
    current = d;
    const verifyEl = h('div', {});
    const timelineEl = timeline(events.items);
    const actionsRow = h(
      'div',
      { class: 'actions-row' },
      h('a', { class: 'button', href: `#/dossier/${encodeURIComponent(id)}/print`, 'data-testid': 'print-link' }, t('common.print')),
      d.allowed_actions.length
        ? h('button', { type: 'button', class: 'primary', 'data-testid': 'open-actions', onclick: () => openActions(id, { onDone: () => load(page, draw) }) }, t('action.open'))
        : null,
    );
    replace(
      el,
      h('h1', { 'data-testid': 'dossier-title' }, t('dossier.title', { code: d.receipt_code }), ' ', statusChip(d.status), ' ', d.overdue && !d.imported ? h('span', { class: 'chip t-late' }, t('overdue')) : null),
      section(t('dossier.summary'), summary(d), actionsRow),
      section(t('dossier.verify'), verifyEl),
      section(t('dossier.sheet'), controlSheet(sheet)),
      section(t('files.title'), filesSection(id, d)),
      section(t('docs.title'), documentButtons(id, events.items, { imported: Boolean(d.imported) })),
      section(t('dossier.slider'), slider(id, d, events.items, timelineEl)),
      section(t('dossier.timeline'), timelineEl),
    );
    load(verifyEl, (box) => verifyBadge(box, id));
  };
  await load(page, draw);
  // Redraw when this dossier moves (not while someone is looking at a past instant).
  return onLive((events) => {
    const mine = events.some((e) => e.type === 'poll' || e.dossier_id === id);
    const slider = main.querySelector('[data-testid=asof-slider]');
    const atNow = !slider || Number(slider.value) >= Number(slider.max);
    if (mine && atNow && current && !document.querySelector('dialog[open]')) load(page, draw, true);
  }, 1000);
}

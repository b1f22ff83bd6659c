// Overview for a supervisor: Biểu 06 counters of a period, on-time rate by level and by agency
// below (drill down province -> department/district -> ward), the trend over periods, and the
// dossiers near or past their due time; the official form of the period to download.
import { api } from '../api.js';
import { session, token } from '../auth.js';
import {
  agency,
  agencyName,
  allAgencies,
  branchOf,
  childrenOf,
  hierarchyOn,
  homeRoot,
  procedureName,
  shortName,
} from '../catalog.js';
import { COLORS, draw } from '../charts.js';
import { h, replace, section, table } from '../dom.js';
import { env } from '../env.js';
import { dateTime, day, hours, localDay, num, pct } from '../format.js';
import { label, lang, t } from '../i18n.js';
import { onLive } from '../live.js';
import { dossierLink, dueCell, freshness, load, remainingChip } from '../widgets.js';

const WITHIN = [4, 8, 16, 40];
const TREND_PERIODS = 12;

// Kỳ báo cáo: the 15th of the previous month to the 14th of the month named.
export function periodOf(isoDay) {
  let [y, m, d] = isoDay.split('-').map(Number);
  if (d >= 15) {
    m += 1;
    if (m === 13) {
      m = 1;
      y += 1;
    }
  }
  return `${y}-${String(m).padStart(2, '0')}`;
}

export function shiftPeriod(period, months) {
  let [y, m] = period.split('-').map(Number);
  const index = y * 12 + (m - 1) + months;
  y = Math.floor(index / 12);
  m = (index % 12) + 1;
  return `${y}-${String(m).padStart(2, '0')}`;
}

export function periodRange(period) {
  const [y, m] = period.split('-').map(Number);
  const prev = shiftPeriod(period, -1);
  return { from: `${prev}-15`, to: `${y}-${String(m).padStart(2, '0')}-14` };
}

// The reporting periods a monthly period closes with (all end on the 14th): the month itself, its
// quarter, its half-year, the nine months (up to September) and the year, as the API names them.
export function closingPeriods(period) {
  const [y, m] = period.split('-').map(Number);
  const list = [
    ['month', period],
    ['quarter', `${y}-Q${Math.ceil(m / 3)}`],
    ['half', `${y}-H${m <= 6 ? 1 : 2}`],
  ];
  if (m <= 9) list.push(['nine_months', `${y}-9M`]);
  list.push(['year', String(y)]);
  return list;
}

// "12/2026: 15/11/2026 – 14/12/2026 (current period)", as every page names a reporting period.
export function periodLabel(period, current) {
  const { from, to } = periodRange(period);
  const [y, m] = period.split('-');
  return `${m}/${y}: ${t('overview.period.label', { from: day(from), to: day(to) })}${period === current ? ' ' + t('overview.period.current') : ''}`;
}

function rootOf(s) {
  if (s.agency) return s.agency;
  return homeRoot();
}

function emptyForm() {
  return {
    received: { online: 0, direct: 0, postal: 0, carried_over: 0, total: 0 },
    resolved: { early: 0, on_time: 0, late: 0, total: 0 },
    in_process: { within_due: 0, overdue: 0, total: 0 },
    closed_without_result: 0,
    late_attributed: 0,
  };
}

function addForm(into, row) {
  for (const part of ['received', 'resolved', 'in_process']) {
    for (const [k, v] of Object.entries(row[part] || {})) into[part][k] = (into[part][k] || 0) + v;
  }
  into.closed_without_result += row.closed_without_result || 0;
  into.late_attributed += row.late_attributed || 0;
  return into;
}

function rateOf(form) {
  const done = form.resolved.total;
  return done ? (form.resolved.early + form.resolved.on_time) / done : null;
}

async function problemOf(res) {
  try {
    const problem = await res.json();
    return problem.detail || problem.title || res.statusText;
  } catch {
    return res.statusText;
  }
}

// Biểu 06 as the official form (xlsx or PDF), fetched with the signed-in token and saved under
// the name the server gives it.
async function downloadForm(params, status) {
  status.textContent = t('overview.form.preparing');
  const url = new URL('/api/v1/reports/bieu06/form', location.origin);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, String(value));
  let res;
  try {
    res = await fetch(url, { headers: { Authorization: `Bearer ${token()}`, 'Accept-Language': lang() } });
  } catch (err) {
    status.textContent = t('overview.form.failed', { detail: String(err.message || err) });
    return;
  }
  if (!res.ok) {
    status.textContent = t('overview.form.failed', { detail: await problemOf(res) });
    return;
  }
  const given = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '');
  const name = given ? given[1] : `bieu06-${params.agency_code}-${params.period}.${params.format}`;
  const href = URL.createObjectURL(await res.blob());
  const link = h('a', { href, download: name });
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60000);
  status.textContent = t('overview.form.saved', { name });
}

function formDownload(state, children) {
  const kind = h(
    'select',
    { id: 'ov-form-period', 'data-testid': 'ov-form-period' },
    closingPeriods(state.period).map(([k, code]) => h('option', { value: code }, `${t(`overview.form.${k}`)} (${code})`)),
  );
  const format = h(
    'select',
    { id: 'ov-form-format', 'data-testid': 'ov-form-format' },
    h('option', { value: 'xlsx' }, 'Excel (xlsx)'),
    h('option', { value: 'pdf' }, 'PDF'),
  );
  const status = h('span', { class: 'muted small', role: 'status', 'data-testid': 'ov-form-status' });
  const button = h('button', { type: 'submit', class: 'primary', 'data-testid': 'ov-form-download' }, t('overview.form.download'));
  return h(
    'form',
    {
      class: 'filters',
      'data-testid': 'ov-form',
      onsubmit: async (e) => {
        e.preventDefault();
        button.disabled = true;
        try {
          await downloadForm(
            {
              agency_code: state.agency,
              period: kind.value,
              include_children: children,
              scope: state.scope,
              format: format.value,
            },
            status,
          );
        } finally {
          button.disabled = false;
        }
      },
    },
    h('label', { for: 'ov-form-period' }, t('common.period'), kind),
    h('label', { for: 'ov-form-format' }, t('overview.form.format'), format),
    button,
    status,
  );
}

function kpi(name, value, testid, rows, cls = '') {
  return h(
    'div',
    { class: `kpi ${cls}` },
    h('div', { class: 'name' }, name),
    h('div', { class: 'value', 'data-testid': testid }, value),
    rows
      ? h(
          'dl',
          {},
          rows.map(([k, v, id]) => [h('dt', {}, k), h('dd', { 'data-testid': id }, v)]),
        )
      : null,
  );
}

function kpis(body) {
  const r = body.received;
  const d = body.resolved;
  const p = body.in_process;
  const rate = body.on_time_rate;
  return h(
    'div',
    { class: 'grid kpis', 'data-testid': 'bieu06' },
    kpi(t('overview.received'), num(r.total), 'kpi-received-total', [
      [t('overview.received.online'), num(r.online), 'kpi-received-online'],
      [t('overview.received.direct'), num(r.direct), 'kpi-received-direct'],
      [t('overview.received.postal'), num(r.postal), 'kpi-received-postal'],
      [t('overview.received.carried_over'), num(r.carried_over), 'kpi-received-carried_over'],
    ]),
    kpi(t('overview.resolved'), num(d.total), 'kpi-resolved-total', [
      [label('timeliness', 'early'), num(d.early), 'kpi-resolved-early'],
      [label('timeliness', 'on_time'), num(d.on_time), 'kpi-resolved-on_time'],
      [label('timeliness', 'late'), num(d.late), 'kpi-resolved-late'],
    ], 'ok'),
    kpi(t('overview.in_process'), num(p.total), 'kpi-in_process-total', [
      [t('overview.within_due'), num(p.within_due), 'kpi-in_process-within_due'],
      [t('overdue'), num(p.overdue), 'kpi-in_process-overdue'],
    ], p.overdue ? 'late' : ''),
    kpi(t('overview.on_time_rate'), pct(rate), 'kpi-rate', [
      [t('overview.on_time_rate.help'), ''],
      [t('overview.closed'), num(body.closed_without_result), 'kpi-closed'],
    ], rate !== null && rate < 0.95 ? 'warn' : 'ok'),
  );
}

export async function render(main, params, ctx) {
  const s = session();
  const today = localDay(env().now);
  const current = periodOf(today);
  const root = rootOf(s);
  const officer = s.role === 'officer';
  // An agency abolished by a reform (the districts in July 2025) opens on its last period.
  const ended = agency(root)?.valid_to;
  const lastPeriod = ended && ended < today ? periodOf(ended) : current;
  const state = {
    agency: params.agency || root,
    period: /^\d{4}-\d{2}$/.test(params.period || '') ? params.period : lastPeriod,
    scope: params.scope === 'handled' ? 'handled' : 'received',
    within: WITHIN.includes(Number(params.within)) ? Number(params.within) : 16,
  };
  const children = !officer;
  const { to: periodEnd } = periodRange(state.period);
  const shownEnd = agency(state.agency)?.valid_to;
  const onDay = [periodEnd, today, shownEnd].filter(Boolean).sort()[0];
  let tree = [];
  try {
    tree = await hierarchyOn(onDay);
  } catch {
    tree = allAgencies();
  }
  const below = children && childrenOf(tree, state.agency).length > 0;
  const go = (change) => ctx.navigate('/overview', { ...state, ...change });
  // Set once the reader has left this page: a report answering later must not bring them back.
  let gone = false;

  // Breadcrumb: from the reader's own agency down to the one shown.
  const trail = [];
  for (let at = state.agency, guard = 0; at && guard < 10; guard += 1) {
    trail.unshift(at);
    if (at === root) break;
    at = (tree.find((a) => a.code === at) || agency(at) || {}).parent_code;
  }
  const crumbs = h(
    'ol',
    { class: 'breadcrumb', 'aria-label': t('common.agency') },
    trail.map((code, i) =>
      h(
        'li',
        {},
        i === trail.length - 1
          ? h('span', { 'aria-current': 'location' }, agencyName(code))
          : h('a', { href: '#', onclick: (e) => (e.preventDefault(), go({ agency: code })) }, shortName(code)),
      ),
    ),
  );

  // Filters: agency (the reader's subtree), period, what to count.
  const options = [];
  const walk = (code, depth) => {
    if (!code || depth > 6) return;
    options.push(h('option', { value: code, selected: code === state.agency }, '\u00a0\u00a0'.repeat(depth) + agencyName(code)));
    if (children) childrenOf(tree, code).forEach((c) => walk(c.code, depth + 1));
  };
  walk(root, 0);
  if (!options.some((o) => o.value === state.agency)) options.push(h('option', { value: state.agency, selected: true }, agencyName(state.agency)));
  const periods = [];
  const listed = new Set([current]);
  for (let i = 0; i < 13; i += 1) listed.add(shiftPeriod(lastPeriod, -i));
  for (const p of [...listed].sort().reverse()) {
    periods.push(h('option', { value: p, selected: p === state.period }, periodLabel(p, current)));
  }
  if (!periods.some((o) => o.value === state.period)) periods.push(h('option', { value: state.period, selected: true }, periodLabel(state.period, current)));
  const filters = h(
    'form',
    { class: 'filters', onsubmit: (e) => e.preventDefault() },
    h('label', { for: 'ov-agency' }, t('common.agency'), h('select', { id: 'ov-agency', 'data-testid': 'ov-agency', onchange: (e) => go({ agency: e.target.value }) }, options)),
    h('label', { for: 'ov-period' }, t('common.period'), h('select', { id: 'ov-period', 'data-testid': 'ov-period', onchange: (e) => go({ period: e.target.value }) }, periods)),
    h(
      'fieldset',
      {},
      h('legend', {}, t('overview.scope')),
      ['received', 'handled'].map((scope) =>
        h(
          'label',
          {},
          h('input', { type: 'radio', name: 'scope', value: scope, checked: state.scope === scope, onchange: () => go({ scope }) }),
          ' ',
          t(`overview.scope.${scope}`),
        ),
      ),
    ),
  );

  const kpiBox = h('div', { id: 'kpis' });
  const levelBox = h('div', {});
  const trendBox = h('div', {});
  const agencyBox = h('div', {});
  const riskBox = h('div', {});
  const lateBox = h('div', {});
  replace(
    main,
    h('h1', {}, t('overview.title')),
    crumbs,
    filters,
    section(`${t('overview.bieu06')} — ${agencyName(state.agency)}`, kpiBox),
    section(t('overview.form'), h('p', { class: 'muted small' }, t('overview.form.help')), formDownload(state, children)),
    h('div', { class: 'grid two' }, section(t('overview.by_level'), levelBox), section(t('overview.trend'), trendBox)),
    below ? section(t('overview.by_agency'), h('p', { class: 'muted small' }, t('overview.by_agency.help')), agencyBox) : null,
    section(t('overview.late_steps'), h('p', { class: 'muted small' }, t('overview.late_steps.help')), lateBox),
    section(t('overview.at_risk'), riskBox),
  );

  const base = { agency_code: state.agency, include_children: children, scope: state.scope };

  const fillKpis = (quiet = false) =>
    load(kpiBox, async (el) => {
      const body = await api('/api/v1/reports/bieu06', { params: { ...base, period: state.period } });
      replace(el, kpis(body), freshness(body));
    }, quiet);

  const fillLevels = (quiet = false) =>
    load(levelBox, async (el) => {
      const body = await api('/api/v1/reports/sla', { params: { ...base, group_by: 'level', period: state.period } });
      const rows = body.items;
      const chart = h('div', { class: 'chart', 'data-testid': 'by-level-chart' });
      replace(
        el,
        chart,
        table(
          [
            { label: t('common.level'), cell: (r) => label('level', r.group) },
            { label: t('overview.received'), numeric: true, cell: (r) => num(r.received.total) },
            { label: t('overview.resolved'), numeric: true, cell: (r) => num(r.resolved.total) },
            { label: label('timeliness', 'late'), numeric: true, cell: (r) => num(r.resolved.late) },
            { label: t('overview.on_time_rate'), numeric: true, cell: (r) => pct(r.on_time_rate) },
            { label: t('overview.late_attributed'), numeric: true, cell: (r) => num(r.late_attributed) },
          ],
          rows,
          { testid: 'by-level', empty: t('common.empty') },
        ),
      );
      // Each level's name stands above its bar, the width of the chart, rather than beside it:
      // "Trung tâm phục vụ hành chính công" beside the bars left a phone a sliver to draw in.
      const names = rows.map((r) => label('level', r.group));
      if (rows.length)
        await draw(
          chart,
          [
            {
              type: 'bar',
              orientation: 'h',
              y: names,
              x: rows.map((r) => (r.on_time_rate ?? 0) * 100),
              width: 0.5,
              text: rows.map((r) => `${pct(r.on_time_rate)} (${num(r.resolved.total)})`),
              textposition: 'auto',
              marker: { color: rows.map((r) => (r.on_time_rate !== null && r.on_time_rate < 0.95 ? COLORS.late : COLORS.early)) },
              hovertemplate: '%{y}: %{text}<extra></extra>',
            },
          ],
          {
            xaxis: { range: [0, 100], ticksuffix: ' %', fixedrange: true },
            yaxis: { showticklabels: false, fixedrange: true },
            annotations: names.map((name) => ({
              text: name,
              x: 0,
              xref: 'paper',
              xanchor: 'left',
              y: name,
              yref: 'y',
              yanchor: 'bottom',
              yshift: 14,
              showarrow: false,
              align: 'left',
            })),
            margin: { l: 8, r: 16, t: 8, b: 32 },
          },
          { height: Math.max(180, 48 + rows.length * 60), label: t('overview.by_level') },
        );
      else chart.remove();
    }, quiet);

  const fillTrend = (quiet = false) =>
    load(trendBox, async (el) => {
      const list = [];
      for (let i = TREND_PERIODS - 1; i >= 0; i -= 1) list.push(shiftPeriod(state.period, -i));
      const bodies = await Promise.all(
        list.map((p) => api('/api/v1/reports/bieu06', { params: { ...base, period: p } }).catch((err) => ({ err }))),
      );
      if (bodies.every((b) => b.err)) throw bodies[0].err;
      const ok = list.map((p, i) => [p, bodies[i]]).filter(([, b]) => !b.err);
      // An abolished agency opened on an empty last period: go to its last period with dossiers.
      const busy = ok.filter(([, b]) => b.received.total || b.resolved.total);
      if (!params.period && ended && ended < today && busy.length) {
        const latest = busy[busy.length - 1][0];
        if (latest !== state.period && !ok.find(([p]) => p === state.period)?.[1].received.total) {
          if (!gone) go({ period: latest });
          return;
        }
      }
      const x = ok.map(([p]) => p.split('-').reverse().join('/'));
      const chart = h('div', { class: 'chart' });
      replace(el, chart);
      await draw(
        chart,
        [
          ...['early', 'on_time', 'late'].map((k) => ({
            type: 'bar',
            name: label('timeliness', k),
            x,
            y: ok.map(([, b]) => b.resolved[k]),
            marker: { color: COLORS[k] },
          })),
          {
            type: 'scatter',
            mode: 'lines+markers',
            name: t('overview.on_time_rate'),
            x,
            y: ok.map(([, b]) => (b.on_time_rate === null ? null : b.on_time_rate * 100)),
            yaxis: 'y2',
            line: { color: COLORS.rate, width: 3 },
            connectgaps: true,
          },
        ],
        {
          barmode: 'stack',
          yaxis: { title: { text: t('overview.resolved') }, rangemode: 'tozero' },
          yaxis2: { overlaying: 'y', side: 'right', range: [0, 105], dtick: 25, ticksuffix: ' %', showgrid: false },
          margin: { l: 48, r: 48, t: 8, b: 40 },
        },
        { height: 300, label: t('overview.trend') },
      );
    }, quiet);

  const fillAgencies = (quiet = false) =>
    load(agencyBox, async (el) => {
      const body = await api('/api/v1/reports/sla', { params: { ...base, group_by: 'agency', period: state.period } });
      const direct = childrenOf(tree, state.agency);
      const rows = new Map([[state.agency, { code: state.agency, own: true, ...emptyForm() }]]);
      direct.forEach((c) => rows.set(c.code, { code: c.code, own: false, ...emptyForm() }));
      for (const item of body.items) {
        let branch = branchOf(tree, state.agency, item.group) || branchOf(allAgencies(), state.agency, item.group);
        if (!branch) branch = state.agency;
        if (!rows.has(branch)) rows.set(branch, { code: branch, own: false, ...emptyForm() });
        addForm(rows.get(branch), item);
      }
      const busy = (r) => r.received.total || r.resolved.total || r.in_process.total || r.late_attributed;
      const all = [...rows.values()];
      // Busiest first; agencies with nothing in the period fold away under the table.
      const list = all
        .filter(busy)
        .sort((a, b) => b.received.total - a.received.total || b.resolved.total - a.resolved.total || b.late_attributed - a.late_attributed);
      const idle = all.filter((r) => !busy(r) && !r.own);
      const name = (r) => (r.own ? t('overview.own_desk', { name: shortName(r.code) }) : agencyName(r.code));
      const chart = h('div', { class: 'chart' });
      const withRate = list.filter((r) => rateOf(r) !== null);
      replace(
        el,
        table(
          [
            {
              label: t('common.agency'),
              cell: (r) =>
                r.own
                  ? name(r)
                  : h('a', { href: '#', 'data-testid': 'drill', onclick: (e) => (e.preventDefault(), go({ agency: r.code })), 'aria-label': t('overview.drill', { name: agencyName(r.code) }) }, name(r)),
            },
            { label: t('overview.received'), numeric: true, cell: (r) => num(r.received.total) },
            { label: t('overview.resolved'), numeric: true, cell: (r) => num(r.resolved.total) },
            { label: label('timeliness', 'early'), numeric: true, cell: (r) => num(r.resolved.early) },
            { label: label('timeliness', 'on_time'), numeric: true, cell: (r) => num(r.resolved.on_time) },
            { label: label('timeliness', 'late'), numeric: true, cell: (r) => num(r.resolved.late) },
            { label: `${t('overview.in_process')} (${t('overdue')})`, numeric: true, cell: (r) => `${num(r.in_process.total)} (${num(r.in_process.overdue)})` },
            { label: t('overview.on_time_rate'), numeric: true, cell: (r) => pct(rateOf(r)) },
            { label: t('overview.late_attributed'), numeric: true, cell: (r) => num(r.late_attributed) },
          ],
          list,
          { testid: 'by-agency', empty: t('common.empty') },
        ),
        idle.length
          ? h(
              'details',
              { class: 'small' },
              h('summary', {}, t('overview.idle', { n: idle.length })),
              h('ul', {}, idle.map((r) => h('li', {}, h('a', { href: '#', onclick: (e) => (e.preventDefault(), go({ agency: r.code })) }, agencyName(r.code))))),
            )
          : null,
        withRate.length ? chart : null,
        freshness(body),
      );
      if (withRate.length)
        await draw(
          chart,
          [
            {
              type: 'bar',
              orientation: 'h',
              y: withRate.map((r) => (r.own ? t('overview.own_desk', { name: shortName(r.code) }) : shortName(r.code))),
              x: withRate.map((r) => rateOf(r) * 100),
              customdata: withRate.map((r) => r.code),
              text: withRate.map((r) => `${pct(rateOf(r))} / ${num(r.resolved.total)}`),
              textposition: 'auto',
              marker: { color: withRate.map((r) => (rateOf(r) < 0.95 ? COLORS.late : COLORS.early)) },
              hovertemplate: '%{y}: %{text}<extra></extra>',
            },
          ],
          { xaxis: { range: [0, 100], ticksuffix: ' %' }, yaxis: { automargin: true }, margin: { l: 8, r: 16, t: 8, b: 32 } },
          {
            height: Math.max(160, 60 + withRate.length * 34),
            label: t('overview.by_agency'),
            onClick: (point) => point.customdata && point.customdata !== state.agency && go({ agency: point.customdata }),
          },
        );
    }, quiet);

  // Who made dossiers late: the steps behind the "late steps" counts, in the order they overran.
  const fillLate = (quiet = false) =>
    load(lateBox, async (el) => {
      const body = await api('/api/v1/reports/late-steps', {
        params: { agency_code: state.agency, include_children: children, period: state.period, limit: 100 },
      });
      replace(
        el,
        table(
          [
            { label: t('common.receipt_code'), cell: (r) => dossierLink(r.dossier_id, r.receipt_code) },
            { label: t('common.procedure'), cell: (r) => h('span', { title: procedureName(r.procedure_code) }, r.procedure_code) },
            { label: t('overview.late_steps.agency'), cell: (r) => shortName(r.agency_code) },
            { label: t('overview.late_steps.at'), cell: (r) => dateTime(r.overrun_at) },
            { label: t('overview.late_steps.overrun'), numeric: true, cell: (r) => hours(r.overrun_working_hours) },
            {
              label: t('overview.late_steps.state'),
              cell: (r) => (r.left_at ? label('timeliness', r.timeliness) : t('overview.late_steps.open')),
            },
          ],
          body.items,
          {
            testid: 'late-steps',
            caption: t('overview.late_steps'),
            rowAttrs: (r) => ({ 'data-dossier': r.dossier_id, 'data-agency': r.agency_code }),
            empty: t('overview.late_steps.empty'),
          },
        ),
        body.total > body.items.length ? h('p', { class: 'muted small' }, t('overview.late_steps.more', { shown: body.items.length, total: body.total })) : null,
        freshness(body),
      );
    }, quiet);

  const fillRisk = (quiet = false) =>
    load(riskBox, async (el) => {
      const body = await api('/api/v1/reports/at-risk', {
        params: { agency_code: state.agency, include_children: children, within_hours: state.within },
      });
      const picker = h(
        'label',
        { class: 'field', for: 'ov-within' },
        t('overview.at_risk.within'),
        h(
          'select',
          { id: 'ov-within', onchange: (e) => go({ within: e.target.value }) },
          WITHIN.map((n) => h('option', { value: n, selected: n === state.within }, t('common.hours', { n }))),
        ),
      );
      replace(
        el,
        h('div', { class: 'filters' }, picker),
        table(
          [
            { label: t('common.receipt_code'), cell: (r) => dossierLink(r.id, r.receipt_code) },
            { label: t('common.procedure'), cell: (r) => h('span', { title: procedureName(r.procedure_code) }, r.procedure_code) },
            {
              label: t('common.holder'),
              cell: (r) => [shortName(r.holder_agency_code), r.pending_handoff_to ? ` → ${shortName(r.pending_handoff_to)}` : ''],
            },
            { label: t('common.due'), cell: (r) => dueCell(r.due_at, r.promised_at) },
            { label: t('common.remaining'), cell: (r) => remainingChip(r.remaining_working_hours, { paused: Boolean(r.paused), overdue: r.overdue }) },
          ],
          body.items,
          {
            testid: 'at-risk',
            caption: t('overview.at_risk'),
            rowAttrs: (r) => ({ 'data-dossier': r.id, 'data-overdue': r.overdue ? 'true' : 'false' }),
            empty: t('overview.at_risk.empty', { n: state.within }),
          },
        ),
        freshness(body),
      );
    }, quiet);

  fillKpis();
  fillLevels();
  fillTrend();
  if (below) fillAgencies();
  fillLate();
  fillRisk();

  // New events change the counters and the at-risk list; the trend's past periods hardly move.
  const stop = onLive(() => {
    fillKpis(true);
    fillRisk(true);
    fillLate(true);
    if (below) fillAgencies(true);
  });
  return () => {
    gone = true;
    stop();
  };
}

// Bottlenecks for a supervisor: heat map agency x week (dwell or overdue WIP), the handoff flow
// between agencies and levels with its transit times, WIP over time, and the dossiers behind any
// agency, cell or edge one clicks.
import { api } from '../api.js';
import { session } from '../auth.js';
import { agency, agencyName, allAgencies, homeRoot, shortName } from '../catalog.js';
import { COLORS, draw } from '../charts.js';
import { h, replace, section, table } from '../dom.js';
import { env } from '../env.js';
import { addDays, dateTime, day, localDay, num, shortHours } from '../format.js';
import { label, t } from '../i18n.js';
import { onLive } from '../live.js';
import { dossierLink, freshness, load } from '../widgets.js';

const LEVEL_ORDER = ['province', 'province_centre', 'province_department', 'ministry', 'district', 'commune'];

const LEVEL_COLORS = {
  province: '#4a148c',
  province_centre: '#00838f',
  province_department: '#0b5394',
  ministry: '#6d4c41',
  district: '#ef6c00',
  commune: '#2e7d32',
};

function flowLegend() {
  return h(
    'p',
    { class: 'small legend' },
    Object.entries(LEVEL_COLORS).map(([level, colour]) =>
      h('span', { class: 'key' }, h('span', { class: 'swatch', style: `background:${colour}`, 'aria-hidden': 'true' }), label('level', level)),
    ),
  );
}

function levelRank(code) {
  const a = agency(code);
  const i = a ? LEVEL_ORDER.indexOf(a.level) : -1;
  return i < 0 ? LEVEL_ORDER.length : i;
}

// An axis of counts: whole numbers only. Plotly steps a small range by halves, which 'd' then
// prints twice each (0, 0, 1, 1, 2, 2); below ten, a step of one.
function countAxis(values, extra = {}) {
  const top = Math.max(0, ...values.filter((v) => typeof v === 'number'));
  return { rangemode: 'tozero', tickformat: 'd', ...(top < 10 ? { dtick: 1 } : {}), ...extra };
}

function triple(q, keys = ['p50', 'p90', 'p99']) {
  if (!q) return '–';
  return keys.map((k) => (q[k] === null || q[k] === undefined ? '–' : shortHours(q[k]))).join(' / ');
}

export async function render(main, params, ctx) {
  const s = session();
  const today = localDay(env().now);
  const root = s.agency || homeRoot() || '';
  const state = {
    agency: params.agency || root,
    from: /^\d{4}-\d{2}-\d{2}$/.test(params.from || '') ? params.from : addDays(today, -55),
    to: /^\d{4}-\d{2}-\d{2}$/.test(params.to || '') ? params.to : today,
    metric: params.metric === 'overdue_wip' ? 'overdue_wip' : 'dwell',
    focus: params.focus || null,
  };
  const go = (change) => ctx.navigate('/bottlenecks', { ...state, ...change });
  const base = { agency_code: state.agency, from: state.from, to: state.to };

  const scopeOptions = allAgencies()
    .filter((a) => a.code === root || a.parent_code === root)
    .sort((a, b) => (a.code === root ? -1 : b.code === root ? 1 : a.name.localeCompare(b.name, 'vi')))
    .map((a) => h('option', { value: a.code, selected: a.code === state.agency }, a.name));
  const from = h('input', { type: 'date', id: 'bn-from', value: state.from, max: today });
  const to = h('input', { type: 'date', id: 'bn-to', value: state.to, max: today });
  // A range that ends before it starts is said here, beside the dates, and asked of nobody
  // (the server refuses it too, with a 422, for any other client).
  const rangeError = h('p', { id: 'bn-range-error', class: 'notice error', role: 'alert', 'data-testid': 'bn-range-error', hidden: true });
  const checkRange = () => {
    const wrong = Boolean(from.value && to.value && from.value > to.value);
    rangeError.hidden = !wrong;
    rangeError.textContent = wrong ? t('bn.range.reversed', { from: day(from.value), to: day(to.value) }) : '';
    for (const input of [from, to]) {
      if (wrong) {
        input.setAttribute('aria-invalid', 'true');
        input.setAttribute('aria-describedby', 'bn-range-error');
      } else {
        input.removeAttribute('aria-invalid');
        input.removeAttribute('aria-describedby');
      }
    }
    return !wrong;
  };
  from.addEventListener('change', checkRange);
  to.addEventListener('change', checkRange);
  const filters = h(
    'form',
    {
      class: 'filters',
      onsubmit: (e) => {
        e.preventDefault();
        if (!checkRange()) {
          from.focus();
          return;
        }
        go({ from: from.value, to: to.value, agency: e.target.querySelector('#bn-agency').value });
      },
    },
    h('label', { for: 'bn-agency' }, t('common.agency'), h('select', { id: 'bn-agency' }, scopeOptions)),
    h('label', { for: 'bn-from' }, t('common.from'), from),
    h('label', { for: 'bn-to' }, t('common.to'), to),
    h('button', { type: 'submit', class: 'primary' }, t('common.apply')),
  );

  // An agency abolished by a reform (the districts in July 2025) has no work after its last
  // day: a range past it says so, with its last year one click away.
  const ended = agency(state.agency)?.valid_to;
  const endedNotice =
    ended && ended < state.to
      ? h(
          'p',
          { class: 'notice', 'data-testid': 'bn-ended' },
          t('bn.ceased', { name: agencyName(state.agency), day: day(ended) }),
          ' ',
          h('button', { type: 'button', class: 'secondary', onclick: () => go({ from: addDays(ended, -364), to: ended }) }, t('bn.ceased.show')),
        )
      : null;
  const agenciesBox = h('div', {});
  const heatBox = h('div', {});
  const flowBox = h('div', {});
  const wipBox = h('div', {});
  const drillBox = h('div', { id: 'bn-drill', tabindex: '-1' });
  const heatTitle = h('span', {}, t('bn.heatmap'));
  // Inside a .filters box, as on the overview, so each radio stands on the line of its words.
  const metricPicker = h(
    'div',
    { class: 'filters' },
    h(
      'fieldset',
      { 'data-testid': 'bn-metric' },
      h('legend', {}, t('bn.metric')),
      ['dwell', 'overdue_wip'].map((m) =>
        h('label', {}, h('input', { type: 'radio', name: 'metric', value: m, checked: m === state.metric, onchange: () => go({ metric: m }) }), ' ', t(`bn.metric.${m}`)),
      ),
    ),
  );
  // A reversed range in the address (typed, or an old link) is said as the form says it, and
  // asked of nobody: only the form is shown, to put it right.
  if (!checkRange()) {
    replace(main, h('h1', {}, t('bn.title')), filters, rangeError);
    return;
  }
  replace(
    main,
    h('h1', {}, t('bn.title')),
    filters,
    rangeError,
    endedNotice,
    section(t('bn.agencies'), agenciesBox),
    drillBox,
    section(t('bn.wip.title'), wipBox),
    section(heatTitle, metricPicker, heatBox),
    section(t('bn.flow'), h('p', { class: 'muted small' }, t('bn.flow.help')), flowLegend(), flowBox),
  );

  // The dossiers behind a row, a cell or an edge.
  const drill = (query, what) => {
    let cursor = null;
    const found = [];
    const edge = Boolean(query.from_agency_code);
    const more = h('button', { type: 'button', class: 'secondary' }, t('common.more'));
    const card = h('div', {});
    replace(drillBox, section(t('bn.dossiers', { what }), card));
    const fill = () =>
      load(card, async (el) => {
        const body = await api('/api/v1/reports/bottlenecks/dossiers', { params: { ...query, cursor, limit: 25 } });
        found.push(...body.items);
        cursor = body.next_cursor;
        const columns = edge
          ? [
              { label: t('common.receipt_code'), cell: (r) => dossierLink(r.dossier_id, r.receipt_code) },
              { label: t('bn.handed'), cell: (r) => dateTime(r.handed_at) },
              { label: t('bn.ended'), cell: (r) => [dateTime(r.ended_at), r.outcome === 'returned' ? h('span', { class: 'chip warn' }, t('bn.returns')) : ''] },
              { label: t('bn.hours'), numeric: true, cell: (r) => shortHours(r.transit_hours) },
            ]
          : [
              { label: t('common.receipt_code'), cell: (r) => dossierLink(r.dossier_id, r.receipt_code) },
              { label: t('common.procedure'), cell: (r) => r.procedure_code },
              { label: t('bn.entered'), cell: (r) => dateTime(r.entered_at) },
              { label: t('bn.left'), cell: (r) => dateTime(r.left_at) },
              { label: t('bn.hours'), numeric: true, cell: (r) => shortHours(r.dwell_hours) },
            ];
        replace(el, table(columns, found, { testid: 'bn-dossiers', empty: t('common.empty') }), cursor ? more : null);
      });
    more.addEventListener('click', fill);
    fill();
    drillBox.scrollIntoView({ behavior: 'smooth', block: 'start' });
    drillBox.focus({ preventScroll: true });
  };

  const drawWip = (code) =>
    load(wipBox, async (el) => {
      const days = (new Date(state.to) - new Date(state.from)) / 86400000;
      const body = await api('/api/v1/reports/wip', {
        params: { agency_code: code, from: state.from, to: state.to, bucket: days > 120 ? 'week' : 'day' },
      });
      const chart = h('div', { class: 'chart' });
      replace(el, h('h3', {}, agencyName(code)), chart, freshness(body));
      const x = body.items.map((p) => p.start);
      await draw(
        chart,
        [
          { type: 'bar', name: t('bn.arrivals'), x, y: body.items.map((p) => p.arrivals), marker: { color: COLORS.arrivals }, yaxis: 'y2' },
          { type: 'bar', name: t('bn.completions'), x, y: body.items.map((p) => p.completions), marker: { color: COLORS.completions }, yaxis: 'y2' },
          { type: 'scatter', mode: 'lines', name: t('bn.wip.series'), x, y: body.items.map((p) => p.wip), line: { color: COLORS.wip, width: 3 } },
          { type: 'scatter', mode: 'lines', name: t('bn.overdue_wip'), x, y: body.items.map((p) => p.overdue_wip), line: { color: COLORS.overdue, width: 2 } },
          { type: 'scatter', mode: 'lines', name: t('bn.in_transit'), x, y: body.items.map((p) => p.in_transit), line: { color: COLORS.transit, width: 2, dash: 'dot' } },
        ],
        {
          barmode: 'group',
          // Days as numbers (the chart library's month names are English); counts are whole.
          xaxis: { tickformat: '%d/%m', hoverformat: '%d/%m/%Y' },
          yaxis: countAxis(
            body.items.flatMap((p) => [p.wip, p.overdue_wip, p.in_transit]),
            { title: { text: t('bn.wip.series') } },
          ),
          yaxis2: countAxis(
            body.items.flatMap((p) => [p.arrivals, p.completions]),
            { overlaying: 'y', side: 'right', showgrid: false },
          ),
          margin: { l: 48, r: 40, t: 8, b: 40 },
        },
        { height: 320, label: t('bn.wip', { name: agencyName(code) }) },
      );
    });

  const fillAgencies = (quiet = false) =>
    load(
      agenciesBox,
      async (el) => {
        const body = await api('/api/v1/reports/bottlenecks', { params: base });
        const rowsOf = [...body.agencies].sort(
          (a, b) => b.overdue_wip - a.overdue_wip || (b.dwell_hours?.p90 ?? 0) - (a.dwell_hours?.p90 ?? 0) || b.wip - a.wip,
        );
        const focus = state.focus || (rowsOf.find((r) => r.wip) || rowsOf[0] || {}).agency_code;
        replace(
          el,
          table(
            [
              {
                label: t('common.agency'),
                cell: (r) =>
                  h('button', { type: 'button', class: 'link', 'data-testid': 'bn-agency', onclick: () => pick(r.agency_code) }, r.agency_name || agencyName(r.agency_code)),
              },
              { label: t('bn.wip.series'), numeric: true, cell: (r) => num(r.wip) },
              { label: t('bn.overdue_wip'), numeric: true, cell: (r) => (r.overdue_wip ? h('span', { class: 'chip t-late' }, num(r.overdue_wip)) : '0') },
              { label: t('bn.in_transit'), numeric: true, cell: (r) => num(r.in_transit) },
              { label: t('bn.arrivals'), numeric: true, cell: (r) => num(r.arrivals) },
              { label: t('bn.completions'), numeric: true, cell: (r) => num(r.completions) },
              { label: t('bn.returns'), numeric: true, cell: (r) => num(r.returns) },
              { label: t('bn.dwell'), numeric: true, cell: (r) => triple(r.dwell_hours) },
            ],
            rowsOf,
            { testid: 'bn-agencies', empty: t('common.empty'), rowAttrs: (r) => ({ class: r.agency_code === focus ? 'selected' : null }) },
          ),
          freshness(body),
        );
        if (!quiet) {
          // No agency had work in the range: the chart's box says so rather than stay blank.
          if (focus) drawWip(focus);
          else replace(wipBox, h('p', { class: 'muted', 'data-testid': 'bn-wip-empty' }, t('common.empty')));
          drawFlow(body);
        }
      },
      quiet,
    );

  const pick = (code) => {
    state.focus = code;
    ctx.setParams(state);
    for (const tr of agenciesBox.querySelectorAll('tbody tr')) tr.classList.remove('selected');
    const button = [...agenciesBox.querySelectorAll('[data-testid=bn-agency]')].find((b) => b.textContent === (agencyName(code) || code));
    if (button) button.closest('tr').classList.add('selected');
    drawWip(code);
    drill({ agency_code: code, from: state.from, to: state.to, state: 'finished' }, t('bn.dossiers.agency', { name: agencyName(code) }));
  };

  // Sankey with givers on the left and receivers on the right, so flows back down a level read
  // as plainly as flows up.
  const drawFlow = (body) =>
    load(flowBox, async (el) => {
      const edges = body.edges.filter((e) => e.count > 0);
      const chart = h('div', { class: 'chart' });
      const edgeTable = table(
        [
          { label: t('bn.giver'), cell: (e) => agencyName(e.from_agency_code) },
          { label: t('bn.receiver'), cell: (e) => agencyName(e.to_agency_code) },
          { label: t('bn.count'), numeric: true, cell: (e) => num(e.count) },
          { label: t('bn.returns'), numeric: true, cell: (e) => num(e.returns) },
          { label: t('bn.transit'), numeric: true, cell: (e) => triple(e.transit_hours, ['p50', 'p90']) },
          {
            label: t('common.details'),
            cell: (e) =>
              h(
                'button',
                { type: 'button', class: 'link', 'data-testid': 'bn-edge', onclick: () => openEdge(e) },
                t('common.open'),
              ),
          },
        ],
        [...edges].sort((a, b) => (b.transit_hours?.p90 ?? 0) - (a.transit_hours?.p90 ?? 0)),
        { testid: 'bn-edges', caption: t('bn.edges'), empty: t('common.empty') },
      );
      replace(el, edges.length ? chart : null, edgeTable);
      if (!edges.length) return;
      const givers = [...new Set(edges.map((e) => e.from_agency_code))].sort((a, b) => levelRank(a) - levelRank(b));
      const takers = [...new Set(edges.map((e) => e.to_agency_code))].sort((a, b) => levelRank(a) - levelRank(b));
      const nodes = [...givers.map((c) => `${shortName(c)} ▸`), ...takers.map((c) => `▸ ${shortName(c)}`)];
      const p50s = edges.map((e) => e.transit_hours?.p50 ?? 0);
      const worst = Math.max(1, ...p50s);
      const colour = (v) => {
        const k = Math.min(1, v / worst);
        return `rgba(${Math.round(60 + 170 * k)}, ${Math.round(140 - 100 * k)}, ${Math.round(200 - 160 * k)}, 0.55)`;
      };
      await draw(
        chart,
        [
          {
            type: 'sankey',
            arrangement: 'snap',
            node: { label: nodes, pad: 14, thickness: 14, color: [...givers, ...takers].map((c) => LEVEL_COLORS[agency(c)?.level] || '#607d8b') },
            link: {
              source: edges.map((e) => givers.indexOf(e.from_agency_code)),
              target: edges.map((e) => givers.length + takers.indexOf(e.to_agency_code)),
              value: edges.map((e) => e.count),
              color: p50s.map(colour),
              customdata: edges.map((e) => `${num(e.count)} · p50 ${triple(e.transit_hours, ['p50'])} h · p90 ${triple(e.transit_hours, ['p90'])} h · ${t('bn.returns')} ${num(e.returns)}`),
              hovertemplate: '%{source.label} %{target.label}<br>%{customdata}<extra></extra>',
            },
          },
        ],
        { margin: { l: 8, r: 8, t: 8, b: 8 } },
        {
          height: Math.max(320, 40 + Math.max(givers.length, takers.length) * 34),
          label: t('bn.flow'),
          onClick: (point) => {
            if (point.source === undefined || point.target === undefined) return;
            const e = edges.find(
              (x) => givers.indexOf(x.from_agency_code) === point.source.index && givers.length + takers.indexOf(x.to_agency_code) === point.target.index,
            );
            if (e) openEdge(e);
          },
        },
      );
    });

  const openEdge = (e) =>
    drill(
      { from_agency_code: e.from_agency_code, to_agency_code: e.to_agency_code, from: state.from, to: state.to, state: 'finished' },
      t('bn.dossiers.edge', { from: shortName(e.from_agency_code), to: shortName(e.to_agency_code) }),
    );

  const fillHeat = () =>
    load(heatBox, async (el) => {
      const body = await api('/api/v1/reports/heatmap', { params: { ...base, metric: state.metric } });
      const rowsOf = [...body.rows].sort((a, b) => levelRank(a.group) - levelRank(b.group) || (a.agency_name || '').localeCompare(b.agency_name || '', 'vi'));
      const chart = h('div', { class: 'chart' });
      replace(el, rowsOf.length ? chart : h('p', { class: 'muted' }, t('common.empty')), freshness(body));
      if (!rowsOf.length) return;
      const dwell = state.metric === 'dwell';
      await draw(
        chart,
        [
          {
            type: 'heatmap',
            x: body.weeks,
            y: rowsOf.map((r) => shortName(r.group)),
            z: rowsOf.map((r) => r.cells.map((c) => c.value)),
            customdata: rowsOf.map((r) => r.cells.map((c) => [r.group, c.week_start, dwell ? c.count : c.wip])),
            colorscale: dwell
              ? [[0, '#e8f5e9'], [0.5, '#ffd54f'], [1, '#b71c1c']]
              : [[0, '#f5f5f5'], [0.01, '#ffe0b2'], [1, '#b71c1c']],
            hoverongaps: false,
            colorbar: { title: { text: dwell ? 'h' : '#' }, thickness: 12 },
            hovertemplate: dwell
              ? '%{y} · %{x}<br>p50 %{z:.1f} h (%{customdata[2]})<extra></extra>'
              : '%{y} · %{x}<br>%{z} / %{customdata[2]}<extra></extra>',
          },
        ],
        { xaxis: { type: 'category', tickangle: -45 }, yaxis: { automargin: true }, margin: { l: 8, r: 8, t: 8, b: 70 } },
        {
          height: Math.max(280, 110 + rowsOf.length * 26),
          label: t('bn.heatmap'),
          onClick: (point) => {
            const [code, start] = point.customdata || [];
            if (!code) return;
            const end = addDays(start, 6);
            drill(
              dwell
                ? { agency_code: code, from: start, to: end < state.to ? end : state.to, state: 'finished' }
                : { agency_code: code, state: 'open' },
              `${t('bn.dossiers.agency', { name: agencyName(code) })} · ${day(start)}${dwell ? '' : ' · ' + t('bn.dossiers.open')}`,
            );
          },
        },
      );
    });

  fillAgencies();
  fillHeat();
  return onLive(() => fillAgencies(true), 10000);
}

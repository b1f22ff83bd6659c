// Service indicators (Decision 766/QĐ-TTg of 2022) measured from the dossier events: the
// reader's agency (and those below it) for a reporting period, in total, per level and per
// receiving desk. Values refresh with the live stream (or the poll without it). There is no
// composite score: the official weights are unconfirmed, so the page says so instead.
import { api } from '../api.js';
import { session } from '../auth.js';
import { agencyName, allAgencies } from '../catalog.js';
import { h, replace, section, table } from '../dom.js';
import { env } from '../env.js';
import { localDay, num, pct } from '../format.js';
import { label, t } from '../i18n.js';
import { onLive } from '../live.js';
import { freshness, load } from '../widgets.js';
import { periodLabel, periodOf, shiftPeriod } from './overview.js';

const KEYS = ['on_time_rate', 'resolved_per_received', 'online_rate', 'satisfaction_rate', 'rating_coverage'];

// Why an indicator is not measured, in the reader's language (the server's words otherwise).
function reason(m) {
  const key = `ind.reason.${m.group}`;
  const text = t(key);
  return text === key ? m.reason : text;
}

function rootOf(s) {
  if (s.agency) return s.agency;
  const top = allAgencies().find((a) => !a.parent_code);
  return top ? top.code : null;
}

function card(indicator) {
  return h(
    'div',
    { class: 'kpi', 'data-indicator': indicator.key },
    h('div', { class: 'name' }, t(`ind.${indicator.key}`)),
    h('div', { class: 'value', 'data-testid': `ind-${indicator.key}` }, pct(indicator.value)),
    h(
      'dl',
      {},
      h('dt', {}, t('ind.fraction')),
      h('dd', { 'data-testid': `ind-${indicator.key}-fraction` }, `${num(indicator.numerator)} / ${num(indicator.denominator)}`),
      h('dt', {}, t('ind.group')),
      h('dd', {}, t(`ind.group.${indicator.group}`)),
    ),
  );
}

function rowsTable(rows, groupLabel, testid, heading = t('common.agency')) {
  return table(
    [
      { label: heading, cell: (r) => groupLabel(r.group) },
      { label: t('ind.received'), numeric: true, cell: (r) => num(r.counts.received) },
      { label: t('ind.resolved'), numeric: true, cell: (r) => num(r.counts.resolved) },
      ...KEYS.map((key) => ({ label: t(`ind.${key}`), numeric: true, cell: (r) => pct(r.indicators[key].value) })),
      { label: t('ind.fees_paid'), numeric: true, cell: (r) => `${num(r.counts.fees_paid)} / ${num(r.counts.fees_requested)}` },
    ],
    rows,
    { testid, empty: t('common.empty') },
  );
}

export async function render(main, params, ctx) {
  const s = session();
  const today = localDay(env().now);
  const current = periodOf(today);
  const state = {
    agency: params.agency || rootOf(s),
    period: /^\d{4}-\d{2}$/.test(params.period || '') ? params.period : current,
  };
  const officer = s.role === 'officer';
  const go = (change) => ctx.navigate('/indicators', { ...state, ...change });
  const periods = [];
  for (let i = 0; i < 13; i += 1) {
    const p = shiftPeriod(current, -i);
    periods.push(h('option', { value: p, selected: p === state.period }, periodLabel(p, current)));
  }
  if (!periods.some((o) => o.value === state.period)) periods.push(h('option', { value: state.period, selected: true }, periodLabel(state.period, current)));
  const totalBox = h('div', {});
  const levelBox = h('div', {});
  const agencyBox = h('div', {});
  const missingBox = h('div', {});
  replace(
    main,
    h('h1', {}, t('ind.title')),
    h('p', { class: 'muted' }, t('ind.help')),
    h(
      'form',
      { class: 'filters', onsubmit: (e) => e.preventDefault() },
      h('label', { for: 'ind-period' }, t('common.period'), h('select', { id: 'ind-period', 'data-testid': 'ind-period', onchange: (e) => go({ period: e.target.value }) }, periods)),
    ),
    section(`${t('ind.total')} — ${agencyName(state.agency)}`, totalBox),
    section(t('ind.by_level'), levelBox),
    section(t('ind.by_agency'), agencyBox),
    section(t('ind.not_measurable'), missingBox),
  );
  const base = { agency_code: state.agency, include_children: !officer, period: state.period };

  const fill = (quiet = false) =>
    load(totalBox, async (el) => {
      const [byAgency, byLevel] = await Promise.all([
        api('/api/v1/reports/indicators', { params: { ...base, group_by: 'agency' } }),
        api('/api/v1/reports/indicators', { params: { ...base, group_by: 'level' } }),
      ]);
      const cards = KEYS.map((key) => card(byAgency.total.indicators[key]));
      replace(
        el,
        h('div', { class: 'grid kpis', 'data-testid': 'indicators' }, cards),
        h('p', { class: 'muted small', 'data-testid': 'ind-composite' }, t('ind.no_composite')),
        freshness(byAgency),
      );
      replace(levelBox, rowsTable(byLevel.rows, (g) => label('level', g), 'ind-by-level', t('common.level')));
      replace(agencyBox, rowsTable(byAgency.rows, (g) => agencyName(g), 'ind-by-agency'));
      replace(
        missingBox,
        h(
          'ul',
          { 'data-testid': 'ind-not-measurable' },
          byAgency.not_measurable.map((m) => h('li', { 'data-group': m.group }, h('strong', {}, t(`ind.group.${m.group}`)), ': ', reason(m))),
        ),
      );
    }, quiet);

  fill();
  return onLive(() => fill(true), 2000);
}

// Find dossiers by receipt code, the case id an imported dossier had in its legacy log, status,
// overdue, and live work apart from imported history (officers: their agency's; supervisors:
// their subtree's). Imported cases the legacy log never closed count as overdue for years, so
// "overdue" among live work needs the source chosen.
import { api } from '../api.js';
import { allProcedures, procedureName, shortName } from '../catalog.js';
import { h, replace, section, table } from '../dom.js';
import { dateTime } from '../format.js';
import { label, t } from '../i18n.js';
import { dossierLink, load, statusChip, timeLeft } from '../widgets.js';

const STATUSES = ['submitted', 'received', 'in_process', 'awaiting_supplement', 'awaiting_fee', 'result_ready', 'returned', 'withdrawn', 'stopped', 'refused'];

export async function render(main, params, ctx) {
  const code = h('input', { type: 'search', id: 's-code', value: params.receipt_code || '', autocomplete: 'off' });
  const caseId = h('input', { type: 'search', id: 's-case', value: params.case_id || '', autocomplete: 'off' });
  const status = h(
    'select',
    { id: 's-status' },
    h('option', { value: '' }, t('search.any')),
    STATUSES.map((s) => h('option', { value: s, selected: s === params.status }, label('status', s))),
  );
  const source = h(
    'select',
    { id: 's-source', 'data-testid': 'search-source' },
    h('option', { value: '' }, t('search.any')),
    ['false', 'true'].map((v) => h('option', { value: v, selected: v === params.imported }, t(v === 'true' ? 'search.source.imported' : 'search.source.live'))),
  );
  // A procedure, an imported log's own among them (IMPORTED-…): one log's cases apart.
  const procedure = h(
    'select',
    { id: 's-procedure', 'data-testid': 'search-procedure' },
    h('option', { value: '' }, t('search.any')),
    allProcedures()
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((p) => h('option', { value: p.code, selected: p.code === params.procedure_code }, p.name)),
  );
  const overdue = h('input', { type: 'checkbox', id: 's-overdue', checked: params.overdue === 'true' });
  const out = h('div', {});
  const form = h(
    'form',
    {
      class: 'filters',
      onsubmit: (e) => {
        e.preventDefault();
        ctx.navigate('/search', {
          receipt_code: code.value.trim(),
          case_id: caseId.value.trim(),
          status: status.value,
          procedure_code: procedure.value,
          imported: source.value,
          overdue: overdue.checked ? 'true' : '',
        });
      },
    },
    h('label', { for: 's-code' }, t('search.code'), code),
    h('label', { for: 's-case' }, t('search.case_id'), caseId),
    h('label', { for: 's-status' }, t('search.status'), status),
    h('label', { for: 's-source' }, t('search.source'), source),
    h('label', { for: 's-procedure' }, t('common.procedure'), procedure),
    h('label', { for: 's-overdue', style: 'flex-direction:row;align-items:center;gap:6px' }, overdue, t('search.overdue')),
    h('button', { type: 'submit', class: 'primary' }, t('search.submit')),
  );
  replace(main, h('h1', {}, t('search.title')), section(t('search.title'), form, out));
  let cursor = null;
  const found = [];
  const more = h('button', { type: 'button', class: 'secondary' }, t('common.more'));
  const fill = () =>
    load(out, async (el) => {
      const body = await api('/api/v1/dossiers', {
        params: {
          receipt_code: params.receipt_code,
          case_id: params.case_id,
          status: params.status,
          procedure_code: params.procedure_code,
          imported: params.imported === 'true' || params.imported === 'false' ? params.imported : null,
          overdue: params.overdue === 'true' ? 'true' : null,
          cursor,
          limit: 50,
        },
      });
      found.push(...body.items);
      cursor = body.next_cursor;
      // Imported history: the case id the legacy log gave each dossier, what a miner knows it by
      // (shortened on screen when the log wrote a long one; whole in its title).
      const caseColumn = found.some((r) => r.case_id)
        ? {
            label: t('search.case_id'),
            cell: (r) =>
              r.case_id
                ? h('span', { class: 'mono', title: r.case_id, 'data-testid': 'search-case-id' }, r.case_id.length > 80 ? `${r.case_id.slice(0, 79)}…` : r.case_id)
                : '',
          }
        : null;
      replace(
        el,
        table(
          [
            { label: t('common.receipt_code'), cell: (r) => dossierLink(r.id, r.receipt_code) },
            caseColumn,
            { label: t('common.procedure'), cell: (r) => h('span', { title: procedureName(r.procedure_code) }, r.procedure_code) },
            { label: t('common.status'), cell: (r) => statusChip(r.status) },
            { label: t('common.holder'), cell: (r) => shortName(r.holder_agency_code) },
            { label: t('common.received_at'), cell: (r) => dateTime(r.received_at) },
            { label: t('common.remaining'), cell: (r) => timeLeft(r) },
          ].filter(Boolean),
          found,
          { testid: 'search-results', empty: t('search.empty') },
        ),
        cursor ? more : null,
      );
    });
  more.addEventListener('click', fill);
  await fill();
}

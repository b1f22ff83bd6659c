// The officer's inbox: dossiers held by (or coming to) the agency, the least time left first,
// and those held elsewhere that wait for its opinion, with the actions the domain allows on
// each, through the command API; and the desk's receipt of a new dossier. A section cut by the
// API's limit says how many there are.
import { openActions } from '../actions.js';
import { api } from '../api.js';
import { session } from '../auth.js';
import { agencyName, allAgencies, childrenOf, procedureName, shortName } from '../catalog.js';
import { h, replace, section, table } from '../dom.js';
import { dateTime } from '../format.js';
import { t } from '../i18n.js';
import { onLive } from '../live.js';
import { openReceive } from '../receive.js';
import { dossierLink, dueCell, freshness, load, statusChip, timeLeft } from '../widgets.js';

const PREFERRED = { incoming: 'accept', ready: 'result_returned', consult: 'answer' };

// "(12)", or "(200 of 340)" when the API's limit cut the list.
function counted(shown, total) {
  const n = total !== undefined && total > shown ? t('inbox.of_total', { shown, total }) : String(shown);
  return `(${n})`;
}

function rows(items, { officer, onAct, kind }) {
  return table(
    [
      { label: t('common.receipt_code'), cell: (r) => dossierLink(r.id, r.receipt_code) },
      { label: t('common.procedure'), cell: (r) => h('span', { title: procedureName(r.procedure_code) }, procedureName(r.procedure_code)) },
      { label: t('common.status'), cell: (r) => statusChip(r.status) },
      kind === 'incoming'
        ? { label: t('inbox.from'), cell: (r) => shortName(r.holder_agency_code) }
        : kind === 'sent'
          ? { label: t('inbox.to'), cell: (r) => shortName(r.pending_handoff_to) }
          : kind === 'consult'
            ? { label: t('inbox.holder'), cell: (r) => shortName(r.holder_agency_code) }
            : { label: t('common.received_at'), cell: (r) => dateTime(r.received_at) },
      kind === 'consult' ? { label: t('inbox.asked_at'), cell: (r) => dateTime(r.consultation_requested_at) } : null,
      { label: t('common.due'), cell: (r) => dueCell(r.due_at, r.promised_at) },
      { label: t('common.remaining'), cell: (r) => timeLeft(r) },
      officer
        ? {
            label: t('dossier.actions'),
            cell: (r) =>
              h(
                'button',
                {
                  type: 'button',
                  class: 'secondary',
                  'data-testid': 'act',
                  'aria-label': `${t('action.open')} ${r.receipt_code}`,
                  onclick: () => onAct(r, PREFERRED[kind] || 'handoff'),
                },
                t('action.open'),
              ),
          }
        : null,
    ].filter(Boolean),
    items,
    { testid: `inbox-${kind}`, empty: t('inbox.empty'), rowAttrs: (r) => ({ 'data-dossier': r.id, 'data-code': r.receipt_code }) },
  );
}

export async function render(main, params, ctx) {
  const s = session();
  const officer = s.role === 'officer';
  const code = (!officer && params.agency) || s.agency;
  const box = h('div', {});
  let picker = null;
  if (!officer) {
    const mine = [s.agency, ...childrenOf(allAgencies(), s.agency).map((a) => a.code)];
    picker = h(
      'form',
      { class: 'filters', onsubmit: (e) => e.preventDefault() },
      h(
        'label',
        { for: 'inbox-agency' },
        t('common.agency'),
        h('select', { id: 'inbox-agency', onchange: (e) => ctx.navigate('/inbox', { agency: e.target.value }) }, mine.map((c) => h('option', { value: c, selected: c === code }, agencyName(c)))),
      ),
    );
  }
  // The desk's officer receives a walk-in or posted dossier here (its receipt slip prints the secret).
  const receive = officer
    ? h('div', { class: 'actions-row' }, h('button', { type: 'button', class: 'primary', 'data-testid': 'receive-open', onclick: () => openReceive(code, { onDone: () => fill(true) }) }, t('receive.button')))
    : null;
  replace(main, h('h1', {}, t('inbox.title', { name: agencyName(code) })), receive, picker, box);

  const fill = (quiet = false) =>
    load(
      box,
      async (el) => {
        const [inbox, ready] = await Promise.all([
          api(`/api/v1/agencies/${encodeURIComponent(code)}/inbox`),
          api('/api/v1/dossiers', { params: { status: 'result_ready', holder_agency_code: code, imported: false, limit: 200 } }).catch(() => ({ items: [] })),
        ]);
        const incoming = inbox.items.filter((r) => r.pending_handoff_to === code);
        const sent = inbox.items.filter((r) => r.pending_handoff_to && r.pending_handoff_to !== code);
        const active = inbox.items.filter((r) => !r.pending_handoff_to);
        const consulting = inbox.consultations || [];
        const totals = inbox.totals || {};
        const act = (r, preferred) => openActions(r.id, { preferred, onDone: () => fill(true) });
        const opts = { officer, onAct: act };
        replace(
          el,
          consulting.length
            ? section(`${t('inbox.consultations')} ${counted(consulting.length, totals.consultations)}`, rows(consulting, { ...opts, kind: 'consult' }))
            : null,
          section(`${t('inbox.incoming')} ${counted(incoming.length, totals.incoming)}`, rows(incoming, { ...opts, kind: 'incoming' })),
          section(`${t('inbox.active')} ${counted(active.length, totals.active)}`, rows(active, { ...opts, kind: 'active' })),
          section(`${t('inbox.sent')} ${counted(sent.length, totals.sent)}`, rows(sent, { ...opts, kind: 'sent' })),
          ready.items.length ? section(`${t('inbox.ready')} (${ready.items.length})`, rows(ready.items, { ...opts, kind: 'ready' })) : null,
          freshness(inbox),
        );
      },
      quiet,
    );
  await fill();
  return onLive(() => {
    if (!document.querySelector('dialog[open]')) fill(true);
  }, 2000);
}

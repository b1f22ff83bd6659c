// Citizen lookup: receipt code + lookup secret -> status, where the dossier is, when it is due.
import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { dateTime } from '../format.js';
import { t } from '../i18n.js';
import { problemBox, statusChip } from '../widgets.js';

function result(body) {
  const rows = [
    [t('common.procedure'), body.procedure_name || body.procedure_code],
    [t('common.status'), statusChip(body.status)],
    [t('lookup.where'), body.where?.agency_name || body.where?.agency_code],
    body.in_transit_to ? [t('lookup.transit'), body.in_transit_to] : null,
    [t('lookup.received'), dateTime(body.received_at)],
    [t('lookup.due'), dateTime(body.due_at)],
    body.promised_at ? [t('lookup.promised'), dateTime(body.promised_at)] : null,
    body.resolved_at ? [t('lookup.resolved'), dateTime(body.resolved_at)] : null,
  ].filter(Boolean);
  return h(
    'div',
    { class: 'lookup-result notice ok', 'data-testid': 'lookup-result', role: 'status' },
    h('h3', {}, body.receipt_code),
    h('dl', {}, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
  );
}

export async function render(main, params) {
  const out = h('div', { 'aria-live': 'polite' });
  const code = h('input', { type: 'text', id: 'lookup-code', name: 'code', size: '30', required: true, autocomplete: 'off', value: params.code || '', 'data-testid': 'lookup-code' });
  const secret = h('input', { type: 'password', id: 'lookup-secret', name: 'secret', required: true, autocomplete: 'off', 'data-testid': 'lookup-secret' });
  const form = h(
    'form',
    {
      class: 'filters',
      onsubmit: async (e) => {
        e.preventDefault();
        replace(out, h('p', { class: 'muted' }, t('app.loading')));
        try {
          const body = await api(`/api/v1/lookup/${encodeURIComponent(code.value.trim())}`, {
            auth: false,
            params: { secret: secret.value.trim() },
          });
          replace(out, result(body));
        } catch (err) {
          if (err.status === 404 && err.problem?.type?.endsWith('lookup-failed'))
            replace(out, h('p', { class: 'notice error', role: 'alert', 'data-testid': 'lookup-refused' }, t('lookup.refused')));
          else replace(out, problemBox(err));
        }
      },
    },
    h('label', { for: 'lookup-code' }, t('lookup.code'), code),
    h('label', { for: 'lookup-secret' }, t('lookup.secret'), secret),
    h('button', { class: 'primary', type: 'submit', 'data-testid': 'lookup-submit' }, t('lookup.submit')),
  );
  replace(main, h('h1', {}, t('lookup.title')), h('div', { class: 'card' }, h('p', { class: 'muted' }, t('lookup.help')), form, out));
}

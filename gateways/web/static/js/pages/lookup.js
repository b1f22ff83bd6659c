// Citizen lookup: receipt code + lookup secret -> status, where the dossier is, when it is due.
import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { dateTime } from '../format.js';
import { label, t } from '../i18n.js';
import { RATINGS, problemBox, statusChip } from '../widgets.js';

// The result file (POST /api/v1/lookup/result-file, the secret in the body): saved by the browser.
async function downloadResult(code, secret, status) {
  status.textContent = '';
  const res = await fetch('/api/v1/lookup/result-file', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ receipt_code: code, secret }),
  });
  if (!res.ok) {
    status.textContent = res.status === 404 ? t('lookup.file.none') : t('lookup.file.failed', { status: res.status });
    return;
  }
  const disposition = res.headers.get('Content-Disposition') || '';
  const match = /filename\*=UTF-8''([^;]+)/.exec(disposition);
  const url = URL.createObjectURL(await res.blob());
  const link = h('a', { href: url, download: match ? decodeURIComponent(match[1]) : `${code}.pdf` });
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

function result(body, secret) {
  const rows = [
    [t('common.procedure'), body.procedure_name || body.procedure_code],
    [t('common.status'), statusChip(body.status)],
    [t('lookup.where'), body.where?.agency_name || body.where?.agency_code],
    body.in_transit_to ? [t('lookup.transit'), body.in_transit_to_name || body.in_transit_to] : null,
    [t('lookup.received'), dateTime(body.received_at)],
    [t('lookup.due'), dateTime(body.due_at)],
    body.promised_at ? [t('lookup.promised'), dateTime(body.promised_at)] : null,
    body.resolved_at ? [t('lookup.resolved'), dateTime(body.resolved_at)] : null,
  ].filter(Boolean);
  const status = h('p', { class: 'muted', 'data-testid': 'lookup-file-status' });
  const ready = body.status === 'result_ready' || body.status === 'returned';
  const returned = body.status === 'returned';
  return h(
    'div',
    { class: 'lookup-result notice ok', 'data-testid': 'lookup-result', role: 'status' },
    h('h3', {}, body.receipt_code),
    h('dl', {}, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    ready
      ? h('button', { type: 'button', 'data-testid': 'lookup-file', onclick: () => downloadResult(body.receipt_code, secret, status) }, t('lookup.file'))
      : null,
    status,
    returned ? rating(body.receipt_code, secret) : null,
  );
}

// Once the result is returned the citizen rates the service, once (a second rating is refused).
function rating(code, secret) {
  const out = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    {
      'data-testid': 'lookup-rating',
      onsubmit: async (e) => {
        e.preventDefault();
        const chosen = new FormData(form).get('rating');
        const button = form.querySelector('button[type=submit]');
        button.disabled = true;
        try {
          await api('/api/v1/lookup/satisfaction', { method: 'POST', auth: false, body: { receipt_code: code, secret, rating: chosen } });
          replace(form, h('p', { class: 'notice ok', 'data-testid': 'lookup-rated' }, t('lookup.rate.thanks')));
        } catch (err) {
          button.disabled = false;
          replace(out, problemBox(err));
        }
      },
    },
    h(
      'fieldset',
      { class: 'field' },
      h('legend', {}, t('lookup.rate')),
      RATINGS.map((v) =>
        h('label', {}, h('input', { type: 'radio', name: 'rating', value: v, required: true, 'data-testid': `lookup-rating-${v}` }), ' ', label('rating', v)),
      ),
    ),
    h('button', { type: 'submit', 'data-testid': 'lookup-rate' }, t('lookup.rate.submit')),
  );
  return h('div', {}, form, out);
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
          // The secret goes in the body, never in a URL (proxies and histories keep those).
          const body = await api('/api/v1/lookup', {
            method: 'POST',
            auth: false,
            body: { receipt_code: code.value.trim(), secret: secret.value.trim() },
          });
          replace(out, result(body, secret.value.trim()));
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

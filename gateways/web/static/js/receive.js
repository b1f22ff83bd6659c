// The desk's officer receives a walk-in or posted dossier (POST /api/v1/dossiers): the procedure,
// how it came and the applicant; the answer's receipt code and lookup secret are shown once, with
// the receipt slip that prints the secret for the citizen (the server keeps only its hash).
import { api } from './api.js';
import { allProcedures } from './catalog.js';
import { printReceipt } from './documents.js';
import { h, replace } from './dom.js';
import { label, t } from './i18n.js';
import { problemBox } from './widgets.js';

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

function input(name, text, attrs = {}) {
  const id = `rcv-${name}`;
  return h('label', { class: 'field', for: id }, text, h('input', { id, name, type: 'text', 'data-testid': `receive-${name}`, ...attrs }));
}

// Procedures the desk receives first (its agency opens their route), then the others.
function procedureChoice(desk) {
  const byName = (a, b) => a.name.localeCompare(b.name, 'vi') || a.code.localeCompare(b.code);
  const all = allProcedures().filter((p) => !p.code.startsWith('IMPORTED-')).sort(byName);
  const own = all.filter((p) => p.route?.[0]?.agency_code === desk);
  const rest = all.filter((p) => p.route?.[0]?.agency_code !== desk);
  const option = (p) => h('option', { value: p.code }, `${p.name} · ${p.code}`);
  return h(
    'select',
    { id: 'rcv-procedure', name: 'procedure_code', required: true, 'data-testid': 'receive-procedure' },
    own.length ? h('optgroup', { label: t('receive.own') }, own.map(option)) : null,
    rest.length ? h('optgroup', { label: t('receive.others') }, rest.map(option)) : null,
  );
}

function receipt(made, dialog, onDone) {
  const status = h('p', { class: 'muted', role: 'status' });
  return h(
    'div',
    { 'data-testid': 'receive-done' },
    h('p', { class: 'notice' }, t('receive.done')),
    h(
      'dl',
      { class: 'facts' },
      h('div', {}, h('dt', {}, t('common.receipt_code')), h('dd', { 'data-testid': 'receive-code' }, made.receipt_code)),
      h('div', {}, h('dt', {}, t('lookup.secret')), h('dd', { 'data-testid': 'receive-secret' }, h('strong', {}, made.lookup_secret))),
    ),
    h('p', { class: 'muted small' }, t('receive.secret_once')),
    h(
      'div',
      { class: 'actions-row' },
      h('button', { type: 'button', class: 'primary', 'data-testid': 'receive-print', onclick: () => printReceipt(made.id, made.lookup_secret, status) }, t('receive.print')),
      h('a', { href: `#/dossier/${encodeURIComponent(made.id)}`, onclick: () => dialog.close() }, t('receive.open')),
      h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, t('action.cancel')),
    ),
    status,
  );
}

// Open the dialog at `desk` (the officer's agency); `onDone(dossier)` once one is received.
export function openReceive(desk, { onDone } = {}) {
  const dialog = h('dialog', { 'aria-labelledby': 'rcv-title', 'data-testid': 'receive-dialog' });
  const body = h('div', { class: 'body' });
  dialog.append(
    h('header', {}, h('h2', { id: 'rcv-title' }, t('receive.title')), h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, t('action.cancel'))),
    body,
  );
  dialog.addEventListener('close', () => dialog.remove());
  const status = h('div', { 'aria-live': 'assertive' });
  const key = newKey(); // one key per dialog: a submit repeated after a lost answer receives once
  const form = h(
    'form',
    {
      onsubmit: async (e) => {
        e.preventDefault();
        const button = form.querySelector('button[type=submit]');
        button.disabled = true;
        replace(status);
        const data = new FormData(form);
        const applicant = { name: data.get('name').trim(), id_number: data.get('id_number').trim() };
        for (const name of ['phone', 'address']) {
          const value = data.get(name).trim();
          if (value) applicant[name] = value;
        }
        try {
          const made = await api('/api/v1/dossiers', {
            method: 'POST',
            body: { procedure_code: data.get('procedure_code'), channel: data.get('channel'), receiving_agency_code: desk, applicant },
            headers: { 'Idempotency-Key': key },
          });
          replace(body, receipt(made, dialog, onDone));
          if (onDone) onDone(made);
        } catch (err) {
          button.disabled = false;
          replace(status, problemBox(err));
        }
      },
    },
    h('label', { class: 'field', for: 'rcv-procedure' }, t('common.procedure'), procedureChoice(desk)),
    h(
      'fieldset',
      { class: 'field' },
      h('legend', {}, t('receive.channel')),
      ['direct', 'postal'].map((v, i) =>
        h('label', {}, h('input', { type: 'radio', name: 'channel', value: v, checked: i === 0, 'data-testid': `receive-channel-${v}` }), ' ', label('channel', v)),
      ),
    ),
    input('name', t('receive.name'), { required: true, maxlength: '200', autocomplete: 'off' }),
    input('id_number', t('receive.id_number'), { required: true, maxlength: '40', autocomplete: 'off' }),
    input('phone', t('receive.phone'), { maxlength: '40', type: 'tel', autocomplete: 'off' }),
    input('address', t('receive.address'), { maxlength: '500', autocomplete: 'off' }),
    h('div', { class: 'actions-row' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'receive-submit' }, t('receive.submit'))),
  );
  replace(body, form, status);
  document.body.appendChild(dialog);
  dialog.showModal();
  return dialog;
}

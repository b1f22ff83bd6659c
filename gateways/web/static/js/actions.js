// The officer's actions on one dossier, each through the command API of API.md. The dialog
// reads the dossier fresh (its allowed actions and version) and sends `If-Match` with that
// version: if someone else changed the dossier meanwhile the server answers 409 and the dialog
// says so plainly, with the dossier's new state one click away.
import { api } from './api.js';
import { allAgencies, agencyName, procedure, topOf } from './catalog.js';
import { h, replace } from './dom.js';
import { env } from './env.js';
import { dateTime, localDay } from './format.js';
import { label, t } from './i18n.js';
import { RATINGS, problemBox, statusChip, timeLeft, toast } from './widgets.js';

export const ACTIONS = {
  intake: { path: '/intake', fields: [] },
  refuse: { path: '/refusal', fields: ['reason', 'missing_components'] },
  handoff: { path: '/handoffs', fields: ['to_agency_code', 'note'] },
  accept: { path: '/handoffs/accept', fields: [] },
  return: { path: '/handoffs/return', fields: ['reason'] },
  consult: { path: '/consultations', fields: ['agency_code', 'question'] },
  answer: { path: '/consultations/answer', fields: ['answer'] },
  request_supplement: { path: '/supplement-requests', fields: ['reason', 'missing_components'] },
  supplement_received: { path: '/supplement-received', fields: [] },
  request_fee: { path: '/fee-requests', fields: ['amount_vnd'] },
  fee_paid: { path: '/fee-paid', fields: [] },
  apologize: { path: '/apologies', fields: ['new_due_at', 'reason'] },
  decide: { path: '/decision', fields: ['outcome', 'decision_number'] },
  result_ready: { path: '/result-ready', fields: [] },
  result_returned: { path: '/result-returned', fields: [] },
  withdraw: { path: '/withdrawal', fields: ['reason'] },
  stop: { path: '/stop', fields: ['reason'] },
  satisfaction: { path: '/satisfaction', fields: ['rating'] },
};

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

// Agencies to hand to: the rest of the route first (the next step selected), then all others
// in force today, save the units of imported legacy history.
function agencyChoices(dossier, id, name) {
  const today = localDay(env().now);
  const holder = dossier.holder_agency_code;
  const doneSteps = dossier.steps.map((s) => s.route_step).filter((i) => i !== null && i !== undefined);
  const at = doneSteps.length ? Math.max(...doneSteps) : -1;
  const ahead = [];
  for (const step of dossier.route.slice(at + 1)) {
    if (step.agency_code !== holder && !ahead.includes(step.agency_code)) ahead.push(step.agency_code);
  }
  const others = allAgencies()
    .filter((a) => a.code !== holder && !ahead.includes(a.code))
    // Units an import made of a legacy log's groups hold imported history only (the server refuses them).
    .filter((a) => dossier.imported || !a.legacy)
    .filter((a) => (!a.valid_to || a.valid_to >= today) && (!a.valid_from || a.valid_from <= today))
    .sort((a, b) => a.name.localeCompare(b.name, 'vi') || a.code.localeCompare(b.code));
  // The holder's own province first; the whole country's catalogue repeats names (wards of
  // one name in several provinces, a demo agency beside its twin of the country list), so
  // each is shown with its code.
  const home = topOf(holder);
  const near = others.filter((a) => topOf(a.code) === home);
  const far = others.filter((a) => topOf(a.code) !== home);
  const option = (a) => h('option', { value: a.code }, `${a.name} · ${a.code}`);
  return h(
    'select',
    { id, name, required: true, 'data-testid': `field-${name}` },
    ahead.length
      ? h('optgroup', { label: t('field.to_agency.route') }, ahead.map((code, i) => h('option', { value: code, selected: i === 0 }, `${agencyName(code)} · ${code}`)))
      : null,
    near.length ? h('optgroup', { label: t('field.to_agency.province') }, near.map(option)) : null,
    far.length ? h('optgroup', { label: t('field.to_agency.other') }, far.map(option)) : null,
  );
}

function field(name, dossier) {
  const id = `act-${name}`;
  const wrap = (text, input) => h('label', { class: 'field', for: id }, text, input);
  switch (name) {
    case 'to_agency_code':
      return wrap(t('field.to_agency'), agencyChoices(dossier, id, name));
    case 'agency_code':
      return wrap(t('field.agency'), agencyChoices(dossier, id, name));
    case 'note':
      return wrap(t('field.note'), h('textarea', { id, name, maxlength: '2000', 'data-testid': `field-${name}` }));
    case 'reason':
    case 'question':
    case 'answer':
      return wrap(t(`field.${name}`), h('textarea', { id, name, required: true, maxlength: '2000', 'data-testid': `field-${name}` }));
    case 'missing_components': {
      // The desk names what is missing (printed on the refusal or supplement form).
      const parts = procedure(dossier.procedure_code)?.components || [];
      if (!parts.length) return null;
      return h(
        'fieldset',
        { class: 'field', 'data-testid': `field-${name}` },
        h('legend', {}, t('field.missing_components')),
        parts.map((c) => h('label', {}, h('input', { type: 'checkbox', name, value: c.name }), ' ', c.name)),
      );
    }
    case 'amount_vnd':
      return wrap(t('field.amount'), h('input', { id, name, type: 'number', min: '1', step: '1000', required: true }));
    case 'new_due_at':
      return wrap(t('field.new_due'), h('input', { id, name, type: 'datetime-local', required: true }));
    case 'decision_number':
      return wrap(t('field.decision_number'), h('input', { id, name, type: 'text', maxlength: '100' }));
    case 'outcome':
      return h(
        'fieldset',
        { class: 'field' },
        h('legend', {}, t('field.outcome')),
        ['approved', 'rejected'].map((v, i) =>
          h('label', {}, h('input', { type: 'radio', name, value: v, checked: i === 0 }), ' ', label('outcome', v)),
        ),
      );
    case 'rating':
      return h(
        'fieldset',
        { class: 'field' },
        h('legend', {}, t('field.rating')),
        RATINGS.map((v) =>
          h('label', {}, h('input', { type: 'radio', name, value: v, required: true, 'data-testid': `rating-${v}` }), ' ', label('rating', v)),
        ),
      );
    default:
      return null;
  }
}

function bodyFrom(form, spec, dossier) {
  const data = new FormData(form);
  const body = {};
  for (const name of spec.fields) {
    if (name === 'missing_components') {
      const ticked = data.getAll(name);
      if (ticked.length) body[name] = ticked;
      continue;
    }
    let value = data.get(name);
    if (value === null || value === '') continue;
    if (name === 'amount_vnd') value = Number(value);
    // A local date-time in the office's zone: the dossier's own times carry its offset.
    if (name === 'new_due_at') value = `${value}:00${(dossier.due_at || '+07:00').slice(-6)}`;
    body[name] = value;
  }
  return body;
}

// Open the dialog for dossier `id`; `onDone(dossier)` after a command went through.
export function openActions(id, { onDone, preferred } = {}) {
  const dialog = h('dialog', { 'aria-labelledby': 'act-title', 'data-testid': 'action-dialog' });
  const title = h('h2', { id: 'act-title' }, t('dossier.actions'));
  const body = h('div', { class: 'body' }, h('p', { class: 'muted' }, t('app.loading')));
  dialog.append(
    h('header', {}, title, h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, t('action.cancel'))),
    body,
  );
  dialog.addEventListener('close', () => dialog.remove());
  document.body.appendChild(dialog);
  dialog.showModal();

  const show = async (notice) => {
    let dossier;
    try {
      dossier = await api(`/api/v1/dossiers/${encodeURIComponent(id)}`);
    } catch (err) {
      replace(body, problemBox(err));
      return;
    }
    replace(title, t('dossier.title', { code: dossier.receipt_code }));
    const head = h(
      'p',
      {},
      statusChip(dossier.status),
      ' ',
      timeLeft(dossier),
      ' ',
      h('span', { class: 'muted small' }, `${t('common.holder')}: ${agencyName(dossier.holder_agency_code)}`),
      dossier.pending_handoff_to ? h('span', { class: 'muted small' }, ` → ${agencyName(dossier.pending_handoff_to)}`) : null,
    );
    const actions = dossier.allowed_actions.filter((a) => ACTIONS[a]);
    if (!actions.length) {
      replace(body, notice || null, head, h('p', { class: 'notice' }, t('action.none')));
      return;
    }
    let chosen = actions.includes(preferred) ? preferred : actions[0];
    const formBox = h('div', {});
    const status = h('div', { 'aria-live': 'assertive' });
    const picker = h(
      'fieldset',
      { class: 'field' },
      h('legend', {}, t('action.choose')),
      h(
        'div',
        { class: 'actions-row', role: 'radiogroup' },
        actions.map((a) =>
          h(
            'label',
            { class: 'chip' },
            h('input', {
              type: 'radio',
              name: 'action',
              value: a,
              checked: a === chosen,
              'data-testid': `action-${a}`,
              onchange: () => {
                chosen = a;
                drawForm();
              },
            }),
            ' ',
            label('action', a),
          ),
        ),
      ),
    );
    const drawForm = () => {
      const spec = ACTIONS[chosen];
      const fields = spec.fields.map((f) => field(f, dossier));
      const form = h(
        'form',
        {
          onsubmit: async (e) => {
            e.preventDefault();
            const button = form.querySelector('button[type=submit]');
            button.disabled = true;
            replace(status);
            try {
              const updated = await api(`/api/v1/dossiers/${encodeURIComponent(id)}${spec.path}`, {
                method: 'POST',
                body: bodyFrom(form, spec, dossier),
                headers: { 'If-Match': `"${dossier.version}"`, 'Idempotency-Key': newKey() },
              });
              dialog.close();
              toast(t('action.done', { action: label('action', chosen), code: dossier.receipt_code }));
              if (onDone) onDone(updated, chosen);
            } catch (err) {
              button.disabled = false;
              if (err.status === 409 && err.problem?.type?.endsWith('version-conflict')) {
                let now = null;
                try {
                  now = await api(`/api/v1/dossiers/${encodeURIComponent(id)}`);
                } catch {
                  // The message stands without the new version number.
                }
                replace(
                  status,
                  h(
                    'div',
                    { class: 'notice warn', role: 'alert', 'data-testid': 'conflict' },
                    h('p', {}, t('action.conflict', { code: dossier.receipt_code, version: now ? now.version : '?' })),
                    h('button', { type: 'button', class: 'primary', onclick: () => show(null) }, t('action.reload')),
                  ),
                );
              } else {
                replace(status, problemBox(err));
              }
            }
          },
        },
        fields.length ? fields : h('p', {}, t('field.confirm', { action: label('action', chosen) })),
        h('div', { class: 'actions-row' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'action-submit' }, label('action', chosen))),
      );
      replace(formBox, form);
    };
    drawForm();
    replace(
      body,
      notice || null,
      head,
      h('p', { class: 'muted small' }, `${t('common.due')}: ${dateTime(dossier.due_at)}${dossier.promised_at ? ` · ${t('dossier.promised')}: ${dateTime(dossier.promised_at)}` : ''} · ${t('dossier.version')} ${dossier.version}`),
      picker,
      formBox,
      status,
    );
  };
  show(null);
  return dialog;
}

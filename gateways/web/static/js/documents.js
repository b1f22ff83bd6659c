// The dossier's printed forms (GET /api/v1/dossiers/{id}/documents/{kind}): one button per form
// that applies, as PDF or print-ready HTML, fetched with the signed-in token and opened in a new
// tab. A reprinted receipt carries no lookup secret (it is known only at creation).
import { token } from './auth.js';
import { h } from './dom.js';
import { lang, t } from './i18n.js';

// kind -> the event type that makes the form exist
const FORMS = [
  ['receipt', 'DossierReceived'],
  ['control-sheet', 'DossierReceived'],
  ['supplement', 'SupplementRequested'],
  ['refusal', 'DossierRefusedAtIntake'],
  ['apology', 'ApologyIssued'],
];

// Imported history has no applicant nor lookup secret: no receipt slip (the server has none).
export function applicableForms(events, { imported = false } = {}) {
  const types = new Set(events.map((e) => e.type));
  return FORMS.filter(([kind, type]) => types.has(type) && !(imported && kind === 'receipt')).map(([kind]) => kind);
}

async function openForm(id, kind, format, status, extra = {}) {
  const tab = window.open('', '_blank');
  status.textContent = '';
  try {
    const res = await fetch(`/api/v1/dossiers/${encodeURIComponent(id)}/documents/${kind}`, {
      headers: {
        Authorization: `Bearer ${token()}`,
        Accept: format === 'html' ? 'text/html' : 'application/pdf',
        'Accept-Language': lang(),
        ...extra,
      },
    });
    if (!res.ok) {
      let detail = res.statusText;
      try {
        detail = (await res.json()).detail || detail;
      } catch {
        // not a problem document
      }
      throw new Error(detail);
    }
    const url = URL.createObjectURL(await res.blob());
    if (tab) tab.location = url;
    else window.location.assign(url);
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (err) {
    if (tab) tab.close();
    status.textContent = t('docs.failed', { detail: String(err.message || err) });
  }
}

// The receipt slip of a dossier just received, with its lookup secret (known only now).
export function printReceipt(id, secret, status) {
  return openForm(id, 'receipt', 'pdf', status, { 'X-Lookup-Secret': secret });
}

export function documentButtons(id, events, { imported = false } = {}) {
  const status = h('p', { class: 'muted', role: 'status', 'data-testid': 'documents-status' });
  const rows = applicableForms(events, { imported }).map((kind) =>
    h(
      'div',
      { class: 'actions-row', 'data-testid': `document-${kind}` },
      h('span', {}, t(`docs.${kind}`)),
      h('button', { type: 'button', onclick: () => openForm(id, kind, 'pdf', status) }, 'PDF'),
      h('button', { type: 'button', onclick: () => openForm(id, kind, 'html', status) }, 'HTML'),
    ),
  );
  return h('div', { 'data-testid': 'documents' }, rows.length ? rows : h('p', {}, t('docs.none')), status);
}

// The dossier's files (GET/POST /api/v1/dossiers/{id}/files): the procedure's components with
// whether each is digitized, the files attached (downloaded with the signed-in token, checked
// by the server against their SHA-256), and a form to attach a scan or the result file.
import { api } from './api.js';
import { session, token } from './auth.js';
import { agencyName } from './catalog.js';
import { h, replace, table } from './dom.js';
import { dateTime, num } from './format.js';
import { lang, t } from './i18n.js';

async function problemDetail(res) {
  try {
    const problem = await res.json();
    return problem.detail || problem.title || res.statusText;
  } catch {
    return res.statusText;
  }
}

async function download(item, status) {
  status.textContent = '';
  const res = await fetch(item.href, { headers: { Authorization: `Bearer ${token()}`, 'Accept-Language': lang() } });
  if (!res.ok) {
    status.textContent = t('files.download.failed', { detail: await problemDetail(res) });
    return;
  }
  const url = URL.createObjectURL(await res.blob());
  const link = h('a', { href: url, download: item.file_name || item.sha256 });
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

function uploadForm(id, d, listing, status, onDone) {
  const names = listing.components.map((c) => c.name);
  const component = names.length
    ? h('select', { name: 'component', 'data-testid': 'files-component' }, names.map((n) => h('option', { value: n }, n)))
    : h('input', { name: 'component', 'data-testid': 'files-component', required: true, maxlength: '300' });
  const purpose = h(
    'select',
    { name: 'purpose', 'data-testid': 'files-purpose' },
    h('option', { value: 'component' }, t('files.purpose.component')),
    d.outcome ? h('option', { value: 'result' }, t('files.purpose.result')) : null,
  );
  const file = h('input', { type: 'file', name: 'file', required: true, 'data-testid': 'files-input', accept: '.pdf,.png,.jpg,.jpeg,.tif,.tiff,.docx,.xlsx' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'files-submit' }, t('files.attach'));
  const form = h(
    'form',
    {
      class: 'actions-row',
      'data-testid': 'files-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        if (!file.files.length) return;
        status.textContent = t('files.uploading');
        submit.disabled = true;
        const body = new FormData();
        body.append('file', file.files[0]);
        const url = new URL(`/api/v1/dossiers/${encodeURIComponent(id)}/files`, location.origin);
        url.searchParams.set('purpose', purpose.value);
        if (purpose.value === 'component') url.searchParams.set('component', component.value);
        try {
          const headers = { Authorization: `Bearer ${token()}`, 'Accept-Language': lang() };
          const res = await fetch(url, { method: 'POST', body, headers });
          if (!res.ok) {
            status.textContent = t('files.attach.failed', { detail: await problemDetail(res) });
            return;
          }
          const answer = await res.json();
          status.textContent = answer.already_attached ? t('files.attach.again') : t('files.attach.done');
          onDone();
        } catch (err) {
          status.textContent = t('files.attach.failed', { detail: String(err.message || err) });
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('label', {}, t('files.purpose'), ' ', purpose),
    h('label', {}, t('files.component'), ' ', component),
    file,
    submit,
  );
  purpose.addEventListener('change', () => {
    component.disabled = purpose.value !== 'component';
  });
  return form;
}

function render(el, id, d, listing) {
  const status = h('p', { class: 'muted', role: 'status', 'data-testid': 'files-status' });
  const me = session();
  const writer = me && (me.role === 'officer' || me.role === 'integration') && !['returned', 'withdrawn', 'refused', 'stopped'].includes(d.status);
  const components = listing.components.length
    ? table(
        [
          { label: t('files.component'), cell: (c) => c.name },
          { label: t('files.copies'), cell: (c) => `${c.copies} · ${t('files.form.' + c.form)}` },
          { label: t('files.digitized'), cell: (c) => h('span', { class: `chip ${c.digitized ? 't-early' : 't-late'}`, 'data-digitized': String(c.digitized) }, c.digitized ? t('files.yes', { n: c.files }) : t('files.no')) },
        ],
        listing.components,
        { testid: 'files-components', rowAttrs: (c) => ({ 'data-component': c.name }) },
      )
    : h('p', { class: 'muted' }, t('files.components.none'));
  const files = table(
    [
      { label: t('files.component'), cell: (f) => (f.purpose === 'result' ? t('files.purpose.result') : f.component) },
      { label: t('files.name'), cell: (f) => f.file_name || t('files.erased') },
      { label: t('files.type'), cell: (f) => f.media_type },
      { label: t('files.size'), cell: (f) => `${num(Math.ceil(f.size_bytes / 1024))} KB`, numeric: true },
      { label: t('files.when'), cell: (f) => `${dateTime(f.attached_at)} · ${agencyName(f.agency_code)}` },
      { label: '', cell: (f) => h('button', { type: 'button', 'data-testid': 'files-download', onclick: () => download(f, status) }, t('files.download')) },
    ],
    listing.items,
    { testid: 'files-list', empty: t('files.none'), rowAttrs: (f) => ({ 'data-sha256': f.sha256 }) },
  );
  replace(
    el,
    h(
      'div',
      { 'data-testid': 'files', 'data-complete': String(listing.all_components_digitized) },
      components,
      listing.all_components_digitized ? h('p', { 'data-testid': 'files-complete' }, t('files.complete')) : null,
      files,
      writer ? uploadForm(id, d, listing, status, () => refresh(el, id, d, status.textContent)) : null,
      status,
    ),
  );
}

async function refresh(el, id, d, message) {
  const listing = await api(`/api/v1/dossiers/${encodeURIComponent(id)}/files`);
  render(el, id, d, listing);
  if (message) el.querySelector('[data-testid=files-status]').textContent = message;
}

export function filesSection(id, d) {
  const el = h('div', {}, h('p', { class: 'muted' }, t('app.loading')));
  refresh(el, id, d, '').catch((err) => replace(el, h('p', { class: 'muted' }, t('files.failed', { detail: String(err.message || err) }))));
  return el;
}

// The integrity of the whole log for an inspector: the newest signed checkpoint, downloaded to
// keep outside the system (what `lienthong audit latest --out FILE` writes), and a kept
// checkpoint compared with the store (what `lienthong audit verify --kept FILE` does, through
// GET /api/v1/audit/verify?kept_checkpoint=N&kept_root=ROOT): a store that no longer holds it,
// or holds it with another root, lost or re-signed its signed history.
import { api } from '../api.js';
import { h, replace, section } from '../dom.js';
import { dateTime, num } from '../format.js';
import { faultText, t } from '../i18n.js';
import { load, problemBox } from '../widgets.js';

// A kept checkpoint's fields and their JSON types, as gateways/audit/ledger.py reads them.
const FIELDS = { n: 'int', size: 'int', last_notification_id: 'int', root: 'str', created_at: 'str', signature: 'str', key_id: 'str' };

class KeptError extends Error {}

// The checkpoints of a kept JSON document: one checkpoint, a list of them, or a page of
// GET /api/v1/audit/checkpoints ({"items": [...]}), by the rules of the CLI's --kept.
export function checkpointsIn(body) {
  let items = body && typeof body === 'object' && !Array.isArray(body) && 'items' in body ? body.items : body;
  if (!Array.isArray(items)) items = [items];
  if (!items.length) throw new KeptError(t('audit.kept.empty'));
  return items.map((item, i) => {
    const where = items.length > 1 ? t('audit.kept.nth', { i: i + 1 }) : '';
    if (!item || typeof item !== 'object' || Array.isArray(item)) throw new KeptError(where + t('audit.kept.not_object'));
    for (const [name, kind] of Object.entries(FIELDS)) {
      const value = item[name];
      const ok = kind === 'int' ? Number.isInteger(value) : typeof value === 'string';
      if (!ok) throw new KeptError(where + t('audit.kept.field', { name, kind: t(`audit.kept.${kind}`) }));
    }
    if (item.n < 1 || !/^[0-9a-fA-F]{64}$/.test(item.root)) throw new KeptError(where + t('audit.kept.n_root'));
    return item;
  });
}

function bytesOf(base64) {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

// Whether `cp` is signed by this server's key or a retired one (the key it names): true, false,
// or null when this browser cannot check an Ed25519 signature.
async function signedHere(cp, keys) {
  const raw = keys.key_id === cp.key_id ? keys.public_key_base64 : (keys.retired_keys || []).find((k) => k.key_id === cp.key_id)?.public_key_base64;
  if (!raw) return false;
  const message = keys.signed_message_format.replace(/\{(\w+)\}/g, (_, name) => String(cp[name]));
  let key;
  try {
    key = await crypto.subtle.importKey('raw', bytesOf(raw), { name: 'Ed25519' }, false, ['verify']);
  } catch {
    return null;
  }
  try {
    return await crypto.subtle.verify({ name: 'Ed25519' }, key, bytesOf(cp.signature), new TextEncoder().encode(message));
  } catch {
    return false; // not base64, or not 64 bytes: not this server's signature
  }
}

function saveAs(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const link = h('a', { href: url, download: name });
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

async function newest() {
  const page = await api('/api/v1/audit/checkpoints', { params: { limit: 1 } });
  return page.items[0] || null;
}

function latestCard(el) {
  return load(el, async (box) => {
    const cp = await newest();
    if (!cp) {
      replace(box, h('p', { class: 'muted', 'data-testid': 'audit-latest-none' }, t('audit.latest.none')));
      return;
    }
    // A div: the notice of a failure is a block of its own (not allowed inside a paragraph).
    const status = h('div', { class: 'small', 'aria-live': 'polite', 'data-testid': 'audit-download-status' });
    const failed = (box) => {
      box.setAttribute('data-testid', 'audit-download-problem');
      replace(status, box);
    };
    const download = async () => {
      replace(status);
      let now;
      try {
        now = await newest(); // the newest at the time of the click
      } catch (err) {
        failed(problemBox(err)); // the server's problem, its title and detail
        return;
      }
      if (!now) {
        // Listed when the page loaded, gone since (the store was replaced by an older copy, or
        // its checkpoints deleted): said as a failure, not a script error.
        failed(
          h(
            'div',
            { class: 'notice error', role: 'alert' },
            h('strong', {}, t('audit.latest.gone', { n: cp.n })),
            h('span', {}, ' ', t('audit.latest.gone.means')),
          ),
        );
        return;
      }
      // The same document as `lienthong audit latest --out FILE`: the checkpoint as the API
      // serves it, indented by two, with a final newline.
      saveAs(`lienthong-checkpoint-${now.n}.json`, JSON.stringify(now, null, 2) + '\n');
      replace(status, t('audit.latest.saved', { n: now.n }));
    };
    replace(
      box,
      h(
        'dl',
        { class: 'summary', 'data-testid': 'audit-latest', 'data-n': String(cp.n) },
        h('div', {}, h('dt', {}, t('audit.latest.n')), h('dd', {}, `#${cp.n}`)),
        h('div', {}, h('dt', {}, t('audit.latest.size')), h('dd', {}, num(cp.size))),
        h('div', {}, h('dt', {}, t('audit.latest.at')), h('dd', {}, dateTime(cp.created_at))),
        h('div', {}, h('dt', {}, t('audit.latest.key')), h('dd', { class: 'mono' }, cp.key_id)),
        h('div', {}, h('dt', {}, t('audit.latest.root')), h('dd', { class: 'mono' }, cp.root)),
      ),
      h('p', { class: 'muted small' }, t('audit.latest.help')),
      h('p', {}, h('button', { type: 'button', class: 'primary', 'data-testid': 'audit-download', onclick: download }, t('audit.latest.download'))),
      status,
    );
  });
}

function outcomeBox(outcome, title, ...lines) {
  const good = outcome === 'kept';
  return h(
    'div',
    { class: `notice ${good ? 'ok' : 'error'}`, role: good ? 'status' : 'alert', 'data-testid': 'kept-result', 'data-outcome': outcome },
    h('strong', {}, h('span', { 'aria-hidden': 'true' }, good ? '✓ ' : '✗ '), title),
    lines.filter(Boolean).map((line) => h('p', {}, line)),
  );
}

// Ask the server whether it still holds checkpoint `n` with `root`; say what the answer means.
async function compare(n, root, note) {
  const result = await api('/api/v1/audit/verify', { params: { kept_checkpoint: n, kept_root: root } });
  const fault = result.first_bad;
  const said = fault ? h('span', {}, t('audit.kept.server', { reason: faultText(fault) })) : null;
  if (result.ok && result.kept_checked > 0) {
    return outcomeBox(
      'kept',
      t('audit.kept.ok', { n }),
      t('audit.kept.ok.detail', { n, events: num(result.checked_events), checkpoints: num(result.checkpoints_checked) }),
      note,
    );
  }
  // Which fault: the checkpoint as stored now (none, another root) tells.
  let stored = null;
  try {
    stored = await api(`/api/v1/audit/checkpoints/${encodeURIComponent(n)}`);
  } catch (err) {
    if (err.status !== 404) throw err;
  }
  if (!stored) {
    const last = result.last_checkpoint;
    return outcomeBox(
      'missing',
      t('audit.kept.missing', { n }),
      last ? t('audit.kept.missing.newest', { last }) : t('audit.kept.missing.none'),
      t('audit.kept.missing.means'),
      note,
      said,
    );
  }
  if (stored.root !== String(root).toLowerCase()) {
    return outcomeBox(
      'replaced',
      t('audit.kept.replaced', { n }),
      h('span', { class: 'mono' }, t('audit.kept.replaced.roots', { kept: String(root).toLowerCase(), stored: stored.root })),
      t('audit.kept.replaced.means'),
      note,
      said,
    );
  }
  return outcomeBox('damaged', t('audit.kept.damaged', { n }), said, t('audit.kept.damaged.means'), note);
}

// A kept document (pasted or read from a file): its checkpoints, each signed by this server,
// then the newest of them compared with the store.
async function compareDocument(text) {
  let body;
  try {
    body = JSON.parse(text);
  } catch (err) {
    return outcomeBox('invalid', t('audit.kept.not_json'), String(err.message || err), t('audit.kept.hint'));
  }
  let kept;
  try {
    kept = checkpointsIn(body);
  } catch (err) {
    if (!(err instanceof KeptError)) throw err;
    return outcomeBox('invalid', t('audit.kept.invalid'), err.message, t('audit.kept.hint'));
  }
  const keys = await api('/api/v1/audit/public-key', { auth: false });
  let unchecked = false;
  for (const cp of kept) {
    const signed = await signedHere(cp, keys);
    if (signed === null) unchecked = true;
    else if (!signed)
      return outcomeBox('forged', t('audit.kept.forged', { n: cp.n }), t('audit.kept.forged.means', { key: cp.key_id, current: keys.key_id }));
  }
  // The store's own check holds its checkpoints signed, numbered without a gap and each over
  // the leaves of the one before: the newest kept one, stored with its root, fixes every event
  // under the older ones too.
  const top = kept.reduce((a, b) => (b.n > a.n ? b : a));
  const notes = [];
  if (kept.length > 1) notes.push(t('audit.kept.several', { count: kept.length, n: top.n }));
  if (unchecked) notes.push(t('audit.kept.unsigned'));
  return compare(top.n, top.root, notes.join(' ') || null);
}

function keptCard() {
  const out = h('div', { 'aria-live': 'polite' });
  const file = h('input', { type: 'file', id: 'kept-file', accept: '.json,application/json', 'data-testid': 'kept-file' });
  const pasted = h('textarea', { id: 'kept-json', class: 'mono', rows: '6', spellcheck: 'false', autocomplete: 'off', 'data-testid': 'kept-json' });
  const number = h('input', { type: 'text', inputmode: 'numeric', id: 'kept-n', autocomplete: 'off', 'data-testid': 'kept-n', size: '8' });
  const root = h('input', { type: 'text', id: 'kept-root', autocomplete: 'off', spellcheck: 'false', 'data-testid': 'kept-root', class: 'mono' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'kept-submit' }, t('audit.kept.submit'));
  file.addEventListener('change', async () => {
    if (!file.files.length) return;
    pasted.value = await file.files[0].text(); // the file's content, shown where it may be pasted
    number.value = '';
    root.value = '';
  });
  const form = h(
    'form',
    {
      'data-testid': 'kept-form',
      onsubmit: async (e) => {
        e.preventDefault();
        const typed = number.value.trim() || root.value.trim();
        if (!pasted.value.trim() && !typed) {
          replace(out, h('p', { class: 'notice error', role: 'alert', 'data-testid': 'kept-nothing' }, t('audit.kept.nothing')));
          return;
        }
        submit.disabled = true;
        replace(out, h('p', { class: 'muted loading', 'aria-busy': 'true' }, t('audit.kept.checking')));
        try {
          // A document first; the number and root typed by hand otherwise, sent as typed (the
          // server says what is wrong with them).
          replace(out, pasted.value.trim() ? await compareDocument(pasted.value) : await compare(number.value.trim(), root.value.trim(), null));
        } catch (err) {
          replace(out, problemBox(err));
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('p', { class: 'muted small' }, t('audit.kept.help')),
    h('label', { class: 'field', for: 'kept-file' }, t('audit.kept.file'), file),
    h('label', { class: 'field', for: 'kept-json' }, t('audit.kept.paste'), pasted),
    h(
      'fieldset',
      { class: 'filters kept-typed' },
      h('legend', {}, t('audit.kept.typed')),
      h('label', { for: 'kept-n' }, t('audit.kept.n'), number),
      h('label', { for: 'kept-root', class: 'grow' }, t('audit.kept.root'), root),
    ),
    h('p', {}, submit),
  );
  // Typing a number or a root sets the document aside: what is sent is what is shown.
  for (const input of [number, root]) {
    input.addEventListener('input', () => {
      if (!input.value) return;
      pasted.value = '';
      file.value = '';
    });
  }
  return section(t('audit.kept'), form, out);
}

export async function render(main) {
  const latestBox = h('div', {});
  replace(main, h('h1', {}, t('audit.title')), h('p', { class: 'muted' }, t('audit.intro')), section(t('audit.latest'), latestBox), keptCard());
  await latestCard(latestBox);
}

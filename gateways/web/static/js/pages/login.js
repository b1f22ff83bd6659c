// Sign in: in the embedded demo, pick a role and an agency; anywhere, paste a token.
import { api, ApiError } from '../api.js';
import { signIn, signOut } from '../auth.js';
import { h, replace, section } from '../dom.js';
import { env } from '../env.js';
import { day, localDay, num } from '../format.js';
import { label, t } from '../i18n.js';
import { problemBox } from '../widgets.js';

const PRESETS = [
  ['login.preset.supervisor', 'supervisor', '000.00.00.H29'],
  ['login.preset.district', 'supervisor', '000.00.63.H29'],
  ['login.preset.officer', 'officer', '000.21.99.H29'],
  ['login.preset.dept', 'officer', '000.00.21.H29'],
  ['login.preset.inspector', 'inspector', null],
];
const LEVEL_ORDER = ['province', 'province_centre', 'province_department', 'district', 'commune', 'ministry'];
// The choices drawn at once: the whole country is some 3,500 agencies in force; more than this
// and the reader is asked to type a few letters of the name or the code instead.
const SHOWN = 300;

// A name as typed without its marks: "an khanh" finds "phường An Khánh".
function fold(text) {
  return text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/[đĐ]/g, 'd').toLowerCase();
}

// Who one may sign in for: no unit an import made of a legacy log's groups (nothing is done
// there), and no agency abolished before today unless the reader asks for them (a reform's
// history is still read as the district that held it).
function eligible(items, withEnded, today) {
  return items.filter((a) => !a.legacy && (withEnded || !a.valid_to || a.valid_to >= today));
}

// The choices matching every word typed (in the name or the code), the sign-in's home province
// first, then by level and name.
function matching(items, query, home) {
  const words = fold(query).split(/\s+/).filter(Boolean);
  const parents = new Map(items.map((a) => [a.code, a.parent_code]));
  const inHome = (a) => {
    let at = a.code;
    for (let i = 0; at && i < 10; i += 1) {
      if (at === home) return true;
      at = parents.get(at);
    }
    return false;
  };
  return items
    .map((a) => ({ a, text: fold(`${a.name} ${a.code}`) }))
    .filter(({ text }) => words.every((w) => text.includes(w)))
    .map(({ a }) => a)
    .sort(
      (x, y) =>
        Number(inHome(y)) - Number(inHome(x)) ||
        LEVEL_ORDER.indexOf(x.level) - LEVEL_ORDER.indexOf(y.level) ||
        x.name.localeCompare(y.name, 'vi'),
    );
}

function agencyOptions(items) {
  const groups = new Map();
  for (const a of items) {
    if (!groups.has(a.level)) groups.set(a.level, []);
    groups.get(a.level).push(a);
  }
  const ordered = [...groups.keys()].sort((a, b) => LEVEL_ORDER.indexOf(a) - LEVEL_ORDER.indexOf(b));
  return ordered.map((level) =>
    h(
      'optgroup',
      { label: label('level', level) },
      groups
        .get(level)
        .sort((a, b) => a.name.localeCompare(b.name, 'vi'))
        .map((a) => h('option', { value: a.code }, `${a.name} · ${a.code}` + (a.valid_to ? ` (→ ${day(a.valid_to)})` : ''))),
    ),
  );
}

// The agency picker: a box to type part of a name or code, whether abolished agencies are
// offered, and the choices that match (the one chosen kept while it still matches).
function agencyPicker(body) {
  const today = localDay(env().now);
  const top = body.home || body.items.find((a) => !a.parent_code && !a.legacy)?.code || '';
  const select = h('select', { id: 'demo-agency', name: 'agency', 'data-testid': 'demo-agency' });
  const query = h('input', {
    type: 'search',
    id: 'demo-agency-filter',
    'data-testid': 'demo-agency-filter',
    placeholder: t('login.agency.filter.hint'),
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-controls': 'demo-agency',
  });
  const ended = h('input', { type: 'checkbox', id: 'demo-agency-ended', 'data-testid': 'demo-agency-ended' });
  const count = h('p', { class: 'muted small', 'aria-live': 'polite', 'data-testid': 'demo-agency-count' });
  let noneChosen = false; // "no agency" picked by hand (not left by a search that found nothing)
  select.addEventListener('change', () => {
    noneChosen = select.value === '';
  });
  const fill = () => {
    const chosen = select.value;
    const found = matching(eligible(body.items, ended.checked, today), query.value, top);
    const shown = found.slice(0, SHOWN);
    replace(
      select,
      h('option', { value: '' }, t('login.agency.none')),
      shown.length ? agencyOptions(shown) : h('option', { value: '', disabled: true }, t('login.agency.filter.none')),
    );
    const codes = new Set(shown.map((a) => a.code));
    const typed = Boolean(query.value.trim());
    // The one chosen stays while it matches ("no agency" too when picked by hand, until something
    // is typed); else the first match of what was typed, else the home agency.
    const kept = chosen ? codes.has(chosen) : noneChosen && !typed;
    if (kept) select.value = chosen;
    else if (typed) select.value = shown.length ? shown[0].code : '';
    else select.value = codes.has(top) ? top : '';
    count.textContent =
      found.length > shown.length
        ? t('login.agency.filter.more', { shown: num(shown.length), n: num(found.length) })
        : t('login.agency.filter.count', { n: num(found.length) });
  };
  query.addEventListener('input', fill);
  ended.addEventListener('change', fill);
  fill();
  return {
    select,
    fields: [
      h('label', { for: 'demo-agency-filter' }, t('login.agency.filter'), query),
      h('label', { for: 'demo-agency' }, t('login.agency'), select),
      h('label', { for: 'demo-agency-ended', class: 'inline' }, ended, ' ', t('login.agency.ended')),
    ],
    count,
  };
}

async function finish(token, params, ctx) {
  signIn(token);
  ctx.signedIn();
  const next = params.next && params.next.startsWith('#/') && !params.next.startsWith('#/login') ? params.next : null;
  if (next) location.hash = next;
  else ctx.navigate('/');
}

function demoSection(params, ctx) {
  const box = h('div', {}, h('p', { class: 'muted' }, t('app.loading')));
  const card = section(t('login.demo'), h('p', { class: 'muted' }, t('login.demo.help')), box);
  api('/api/v1/demo/agencies', { auth: false })
    .then((body) => {
      const known = new Set(body.items.map((a) => a.code));
      const status = h('div', { 'aria-live': 'polite' });
      const role = h(
        'select',
        { id: 'demo-role', name: 'role', 'data-testid': 'demo-role' },
        body.roles.filter((r) => r !== 'integration').map((r) => h('option', { value: r, selected: r === 'supervisor' }, label('role', r))),
      );
      const picker = agencyPicker(body);
      const agency = picker.select;
      const go = async (r, code) => {
        replace(status);
        try {
          const issued = await api('/api/v1/demo/token', {
            method: 'POST',
            auth: false,
            body: { role: r, agency_code: code || null },
          });
          await finish(issued.token, params, ctx);
        } catch (err) {
          replace(status, problemBox(err));
        }
      };
      const form = h(
        'form',
        {
          class: 'filters',
          onsubmit: (e) => {
            e.preventDefault();
            go(role.value, agency.value);
          },
        },
        h('label', { for: 'demo-role' }, t('login.role'), role),
        picker.fields,
        h('button', { class: 'primary', type: 'submit', 'data-testid': 'demo-submit' }, t('login.submit')),
      );
      const presets = PRESETS.filter(([, , code]) => !code || known.has(code)).map(([key, r, code]) =>
        h('button', { type: 'button', class: 'secondary', onclick: () => go(r, code) }, t(key)),
      );
      replace(box, form, picker.count, h('h3', {}, t('login.presets')), h('div', { class: 'presets' }, presets), status);
    })
    .catch((err) => replace(box, problemBox(err)));
  return card;
}

function tokenSection(params, ctx) {
  const status = h('div', { 'aria-live': 'polite' });
  const area = h('textarea', { id: 'token', name: 'token', rows: '4', spellcheck: 'false', autocomplete: 'off', 'data-testid': 'token' });
  const form = h(
    'form',
    {
      onsubmit: async (e) => {
        e.preventDefault();
        replace(status);
        if (!signIn(area.value)) {
          replace(status, h('p', { class: 'notice error', role: 'alert' }, t('login.token.bad')));
          return;
        }
        try {
          await api('/api/v1/agencies'); // any read proves the server accepts the token
          await finish(area.value, params, ctx);
        } catch (err) {
          signOut();
          if (err instanceof ApiError && err.status === 401)
            replace(status, h('p', { class: 'notice error', role: 'alert' }, t('login.token.bad'), ' ', err.problem.detail || ''));
          else replace(status, problemBox(err));
        }
      },
    },
    h('p', { class: 'muted' }, t('login.token.help')),
    h('label', { class: 'field', for: 'token' }, t('login.token.label'), area),
    h('p', {}, h('button', { class: 'primary', type: 'submit' }, t('login.token.submit'))),
    status,
  );
  return section(t('login.token'), form);
}

export async function render(main, params, ctx) {
  replace(
    main,
    h('h1', {}, t('login.title')),
    h(
      'div',
      { class: 'login-grid' },
      env().demo_login ? demoSection(params, ctx) : null,
      tokenSection(params, ctx),
    ),
    h('p', {}, t('login.citizen'), ' ', h('a', { href: '#/lookup' }, t('login.citizen.link'))),
  );
}

// Sign in: in the embedded demo, pick a role and an agency; anywhere, paste a token.
import { api, ApiError } from '../api.js';
import { signIn, signOut } from '../auth.js';
import { h, replace, section } from '../dom.js';
import { env } from '../env.js';
import { day } from '../format.js';
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
        .map((a) => h('option', { value: a.code }, a.name + (a.valid_to ? ` (→ ${day(a.valid_to)})` : ''))),
    ),
  );
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
      const agency = h(
        'select',
        { id: 'demo-agency', name: 'agency', 'data-testid': 'demo-agency' },
        h('option', { value: '' }, t('login.agency.none')),
        agencyOptions(body.items),
      );
      const top = body.home || body.items.find((a) => !a.parent_code)?.code;
      if (top) agency.value = top;
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
        h('label', { for: 'demo-agency' }, t('login.agency'), agency),
        h('button', { class: 'primary', type: 'submit', 'data-testid': 'demo-submit' }, t('login.submit')),
      );
      const presets = PRESETS.filter(([, , code]) => !code || known.has(code)).map(([key, r, code]) =>
        h('button', { type: 'button', class: 'secondary', onclick: () => go(r, code) }, t(key)),
      );
      replace(box, form, h('h3', {}, t('login.presets')), h('div', { class: 'presets' }, presets), status);
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

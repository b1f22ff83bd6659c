// The single page: a hash router, the header (navigation, language, session, live status)
// and the pages in ./pages/, each `render(main, params, ctx)` returning an optional cleanup.
import { can, session, signOut } from './auth.js';
import { agencyName, loadCatalog, resetCatalog } from './catalog.js';
import { h, replace } from './dom.js';
import { loadEnv } from './env.js';
import { label, lang, setLang, t } from './i18n.js';
import { startLive, stopLive } from './live.js';
import { toast } from './widgets.js';

const ROUTES = [
  { pattern: /^\/login$/, page: 'login', open: true },
  { pattern: /^\/lookup$/, page: 'lookup', open: true },
  { pattern: /^\/overview$/, page: 'overview' },
  { pattern: /^\/bottlenecks$/, page: 'bottlenecks' },
  { pattern: /^\/indicators$/, page: 'indicators' },
  { pattern: /^\/inbox$/, page: 'inbox' },
  { pattern: /^\/search$/, page: 'search' },
  { pattern: /^\/audit$/, page: 'audit' },
  { pattern: /^\/dossier\/([^/]+)\/print$/, page: 'dossier', view: 'print' },
  { pattern: /^\/dossier\/([^/]+)$/, page: 'dossier' },
];

// Pages only some roles may read (auth.js `can`); the others are open to every signed-in role.
const GUARDED = new Set(['overview', 'bottlenecks', 'indicators', 'inbox', 'search', 'audit']);

const LOADERS = {
  login: () => import('./pages/login.js'),
  lookup: () => import('./pages/lookup.js'),
  overview: () => import('./pages/overview.js'),
  bottlenecks: () => import('./pages/bottlenecks.js'),
  indicators: () => import('./pages/indicators.js'),
  inbox: () => import('./pages/inbox.js'),
  search: () => import('./pages/search.js'),
  audit: () => import('./pages/audit.js'),
  dossier: () => import('./pages/dossier.js'),
};

let cleanup = null;
let renders = 0;
let liveState = 'off';
let started = false;

export function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query] = raw.split('?');
  return { path: path || '/', params: Object.fromEntries(new URLSearchParams(query || '')) };
}

function hashOf(path, params = {}) {
  const query = new URLSearchParams(
    Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== ''),
  ).toString();
  return '#' + path + (query ? '?' + query : '');
}

export function navigate(path, params = {}) {
  const next = hashOf(path, params);
  if (location.hash === next) render();
  else location.hash = next;
}

// Keep the address in step with a page's filters without drawing the page again.
export function setParams(params) {
  const { path } = parseHash();
  history.replaceState(null, '', hashOf(path, params));
}

function home() {
  const s = session();
  if (!s) return '/login';
  if (s.role === 'officer') return '/inbox';
  if (['supervisor', 'inspector', 'admin'].includes(s.role)) return '/overview';
  return can('search') ? '/search' : '/lookup';
}

function navItems() {
  const items = [];
  if (can('overview')) items.push(['/overview', t('nav.overview')]);
  if (can('bottlenecks')) items.push(['/bottlenecks', t('nav.bottlenecks')]);
  if (can('indicators')) items.push(['/indicators', t('nav.indicators')]);
  if (can('inbox')) items.push(['/inbox', t('nav.inbox')]);
  if (can('search')) items.push(['/search', t('nav.search')]);
  if (can('audit')) items.push(['/audit', t('nav.audit')]);
  items.push(['/lookup', t('nav.lookup')]);
  return items;
}

function liveBadge() {
  const text = { on: t('live.on'), polling: t('live.polling'), off: t('live.off') }[liveState];
  return h('span', { class: `live-badge ${liveState}`, 'data-testid': 'live', title: text }, h('span', { 'aria-hidden': 'true' }, '●'), ' ', text);
}

function renderHeader(path) {
  const s = session();
  const header = document.getElementById('top');
  const menu = h('ul', { id: 'nav-list' }, navItems().map(([href, text]) =>
    h('li', {}, h('a', { href: '#' + href, 'aria-current': path.startsWith(href) ? 'page' : null }, text)),
  ));
  const toggle = h(
    'button',
    {
      type: 'button',
      class: 'menu-toggle',
      'aria-expanded': 'false',
      'aria-controls': 'nav-list',
      onclick: (e) => {
        const open = e.currentTarget.getAttribute('aria-expanded') !== 'true';
        e.currentTarget.setAttribute('aria-expanded', String(open));
        menu.classList.toggle('open', open);
      },
    },
    h('span', { 'aria-hidden': 'true' }, '☰ '),
    t('app.menu'),
  );
  const who = s
    ? h(
        'span',
        { class: 'who', 'data-testid': 'who' },
        t('session.as', { role: label('role', s.role), agency: s.agency ? agencyName(s.agency) : s.sub }),
      )
    : null;
  replace(
    header,
    h('a', { class: 'brand', href: '#/' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '⇄'), ' ', t('app.name')),
    toggle,
    h('nav', { 'aria-label': t('nav.main') }, menu),
    h(
      'div',
      { class: 'session' },
      s ? liveBadge() : null,
      who,
      h(
        'button',
        {
          type: 'button',
          class: 'lang',
          lang: lang() === 'vi' ? 'en' : 'vi',
          'aria-label': t('lang.switch.label'),
          'data-testid': 'lang',
          onclick: () => {
            setLang(lang() === 'vi' ? 'en' : 'vi');
            render();
          },
        },
        t('lang.switch'),
      ),
      s
        ? h('button', { type: 'button', class: 'link', onclick: () => logout() }, t('nav.logout'))
        : h('a', { href: '#/login' }, t('nav.login')),
    ),
  );
  document.title = `${t('app.name')} — ${t('app.title')}`;
  replace(document.getElementById('footer'), t('app.footer'));
  document.querySelector('.skip').textContent = t('app.skip');
}

function logout() {
  signOut();
  stopLive();
  started = false;
  resetCatalog();
  navigate('/login');
}

export function signedIn() {
  resetCatalog();
  started = false;
  ensureLive();
}

function ensureLive() {
  if (started || !session()) return;
  started = true;
  startLive((state) => {
    liveState = state;
    const badge = document.querySelector('.live-badge');
    if (badge) badge.replaceWith(liveBadge());
  });
}

async function render() {
  const { path, params } = parseHash();
  const mine = ++renders;
  if (cleanup) {
    try {
      cleanup();
    } catch (err) {
      console.error(err);
    }
    cleanup = null;
  }
  if (path === '/' || path === '') {
    navigate(home());
    return;
  }
  const route = ROUTES.find((r) => r.pattern.test(path));
  const main = document.getElementById('main');
  if (!route) {
    navigate(home());
    return;
  }
  if (!route.open && !session()) {
    navigate('/login', { next: hashOf(path, params) });
    return;
  }
  // A page the role has no menu entry for (an address typed or kept from another session) would
  // only fill with refusals: the reader goes to their own first page instead.
  if (GUARDED.has(route.page) && !can(route.page)) {
    navigate(home());
    return;
  }
  if (session()) {
    ensureLive();
    try {
      await loadCatalog();
    } catch {
      // Pages show their own notice when the catalogue cannot be read.
    }
  }
  if (mine !== renders) return;
  renderHeader(path);
  const match = path.match(route.pattern);
  const module = await LOADERS[route.page]();
  if (mine !== renders) return;
  replace(main);
  main.dataset.page = route.view || route.page;
  document.body.dataset.page = route.view || route.page;
  const done = await module.render(main, params, {
    id: match[1] ? decodeURIComponent(match[1]) : null,
    view: route.view || null,
    navigate,
    setParams,
    signedIn,
  });
  if (mine !== renders) {
    if (typeof done === 'function') done();
    return;
  }
  cleanup = typeof done === 'function' ? done : null;
}

window.addEventListener('hashchange', render);
window.addEventListener('session-expired', () => {
  stopLive();
  started = false;
  toast(t('session.expired'), 'error');
  const { path, params } = parseHash();
  if (path !== '/login') navigate('/login', { next: hashOf(path, params) });
});

document.querySelector('.skip').addEventListener('click', (event) => {
  event.preventDefault(); // the address is the router's: move the focus only
  document.getElementById('main').focus();
});

(async () => {
  document.documentElement.lang = lang();
  await loadEnv();
  render();
})();

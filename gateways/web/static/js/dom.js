// A small DOM builder: text always goes in as text, never as markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') el.className = value;
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'value') el.value = value;
    else if (name === 'checked' || name === 'selected' || name === 'disabled') el[name] = Boolean(value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

// A table: columns [{label, cell(row) -> node|text, class?, numeric?}], rows, caption.
export function table(columns, rows, { caption, rowAttrs, testid, empty } = {}) {
  const head = h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.numeric ? 'num' : c.class }, c.label)));
  const body = rows.map((row) =>
    h(
      'tr',
      rowAttrs ? rowAttrs(row) : {},
      columns.map((c) => h('td', { class: c.numeric ? 'num' : c.class, 'data-label': c.label }, c.cell(row))),
    ),
  );
  const tbl = h(
    'table',
    { 'data-testid': testid, class: 'stack' },
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, head),
    h('tbody', {}, body),
  );
  const wrap = h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption || null }, tbl);
  if (!rows.length && empty) wrap.appendChild(h('p', { class: 'muted' }, empty));
  return wrap;
}

export function section(title, ...children) {
  const id = 'h-' + Math.random().toString(36).slice(2, 9);
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

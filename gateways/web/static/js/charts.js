// Charts with plotly.js, served by this server (/ui/vendor/plotly.min.js) and loaded only by
// the pages that draw. Without it the pages still show every figure in their tables.
import { h, replace } from './dom.js';
import { lang, t } from './i18n.js';

let loading = null;

export function ensurePlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!loading) {
    loading = new Promise((resolve) => {
      const script = document.createElement('script');
      script.src = '/ui/vendor/plotly.min.js';
      script.onload = () => resolve(window.Plotly || null);
      script.onerror = () => resolve(null);
      document.head.appendChild(script);
    });
  }
  return loading;
}

export const COLORS = {
  early: '#1b7f3b',
  on_time: '#4c9be8',
  late: '#c62828',
  wip: '#37474f',
  overdue: '#c62828',
  transit: '#f9a825',
  arrivals: '#90caf9',
  completions: '#a5d6a7',
  rate: '#0b5394',
};

function baseLayout(extra = {}) {
  return {
    margin: { l: 48, r: 16, t: 8, b: 40 },
    font: { family: 'system-ui, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif', size: 12, color: '#1f2933' },
    paper_bgcolor: 'rgba(0,0,0,0)',
    plot_bgcolor: 'rgba(0,0,0,0)',
    separators: lang() === 'vi' ? ',.' : '.,',
    legend: { orientation: 'h', y: -0.2 },
    hoverlabel: { namelength: -1 },
    ...extra,
  };
}

// Draw into `el` (emptied first); `onClick(point)` gets plotly's clicked point.
export async function draw(el, data, layout = {}, { onClick, height = 300, label } = {}) {
  const Plotly = await ensurePlotly();
  if (!Plotly) {
    replace(el, h('p', { class: 'notice' }, t('common.chart_missing')));
    return null;
  }
  if (el.dataset.plotted) Plotly.purge(el);
  replace(el);
  el.style.minHeight = `${height}px`;
  el.setAttribute('role', 'img');
  if (label) el.setAttribute('aria-label', label);
  await Plotly.newPlot(el, data, baseLayout({ height, ...layout }), {
    displaylogo: false,
    responsive: true,
    modeBarButtonsToRemove: ['lasso2d', 'select2d', 'toImage'],
  });
  el.dataset.plotted = '1';
  if (onClick) el.on('plotly_click', (event) => event.points && event.points[0] && onClick(event.points[0]));
  return el;
}

// Numbers, instants and working hours as people read them, in the office's time zone.
import { env } from './env.js';
import { locale, t } from './i18n.js';

export function num(value) {
  if (value === null || value === undefined) return '–';
  return new Intl.NumberFormat(locale()).format(value);
}

export function pct(rate) {
  if (rate === null || rate === undefined) return '–';
  return new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: 1 }).format(rate);
}

function parts(iso) {
  return iso ? new Date(iso) : null;
}

export function dateTime(iso) {
  const d = parts(iso);
  if (!d) return '–';
  return new Intl.DateTimeFormat(locale(), {
    timeZone: env().timezone,
    day: '2-digit',
    month: '2-digit',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
  }).format(d);
}

export function dateOnly(iso) {
  const d = parts(iso);
  if (!d) return '–';
  return new Intl.DateTimeFormat(locale(), {
    timeZone: env().timezone,
    day: '2-digit',
    month: '2-digit',
    year: 'numeric',
  }).format(d);
}

// A calendar day "2026-03-14" as 14/03/2026 without a time zone shift.
export function day(isoDay) {
  if (!isoDay) return '–';
  const [y, m, d] = isoDay.slice(0, 10).split('-');
  return `${d}/${m}/${y}`;
}

// Working hours: "5,5 giờ làm việc" or, past one working day, "2 ngày 3 giờ làm việc".
export function hours(value) {
  if (value === null || value === undefined) return '–';
  // Rounded before it is split: 1,791.98 h is 224 days, not "223 days 8 h".
  const abs = Math.round(Math.abs(value) * 10) / 10;
  const perDay = env().working_hours_per_day || 8;
  const fmt = (x) => new Intl.NumberFormat(locale(), { maximumFractionDigits: 1 }).format(x);
  if (abs < perDay) return t('common.hours', { n: fmt(abs) });
  const days = Math.floor(abs / perDay);
  const rest = abs - days * perDay;
  return t('common.days_hours', { d: days, h: fmt(rest) });
}

export function shortHours(value) {
  if (value === null || value === undefined) return '–';
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: 1 }).format(value);
}

// Remaining working time with its sign spelled out.
export function remaining(value, paused) {
  if (paused) return t('common.paused');
  if (value === null || value === undefined) return '–';
  return value < 0 ? t('common.overdue_by', { t: hours(value) }) : t('common.left', { t: hours(value) });
}

// Today's date in the office's zone, as "YYYY-MM-DD" (from the server's clock).
export function localDay(iso) {
  const d = new Date(iso);
  const f = new Intl.DateTimeFormat('en-CA', { timeZone: env().timezone, year: 'numeric', month: '2-digit', day: '2-digit' });
  return f.format(d);
}

export function addDays(isoDay, n) {
  const [y, m, d] = isoDay.split('-').map(Number);
  const at = new Date(Date.UTC(y, m - 1, d + n));
  return at.toISOString().slice(0, 10);
}

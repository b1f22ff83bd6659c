// Live updates: the server-sent events of /api/v1/events/stream, read with fetch so the token
// travels in a header (never in the address). A page listens with onLive(fn) and gets the new
// events in small batches. Without the stream the pages refresh every POLL_MS instead.
import { token } from './auth.js';

const POLL_MS = 20000;
const listeners = new Set();
let controller = null;
let lastId = null;
let retryMs = 2000;
let pending = [];
let flushTimer = null;

// `fn(events)` at most once per `every` ms: a busy office does not redraw a page non-stop.
export function onLive(fn, every = 5000) {
  let last = 0;
  let queued = [];
  let timer = null;
  const run = () => {
    timer = null;
    last = Date.now();
    const batch = queued;
    queued = [];
    fn(batch);
  };
  const listener = (events) => {
    queued.push(...events);
    if (timer) return;
    timer = setTimeout(run, Math.max(0, last + every - Date.now()));
  };
  listeners.add(listener);
  return () => {
    clearTimeout(timer);
    listeners.delete(listener);
  };
}

function emit(events) {
  pending.push(...events);
  clearTimeout(flushTimer);
  // Many events land together (a batch, a backlog): pages refresh once for all of them.
  flushTimer = setTimeout(() => {
    const batch = pending;
    pending = [];
    for (const fn of [...listeners]) {
      try {
        fn(batch);
      } catch (err) {
        console.error(err);
      }
    }
  }, 400);
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function handle(block) {
  let type = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') lastId = value;
    else if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
    else if (field === 'retry' && /^\d+$/.test(value)) retryMs = Number(value);
  }
  if (type === 'dossier-event' && data.length) {
    try {
      emit([JSON.parse(data.join('\n'))]);
    } catch {
      // A malformed message is skipped; the next one carries on.
    }
  }
}

async function read(body, signal) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  while (!signal.aborted) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      handle(buffer.slice(0, cut));
      buffer = buffer.slice(cut + 2);
    }
  }
}

async function poll(signal, onStatus) {
  onStatus('polling');
  while (!signal.aborted) {
    await sleep(POLL_MS, signal);
    if (!signal.aborted) emit([{ type: 'poll' }]);
  }
}

async function follow(signal, onStatus) {
  let failures = 0;
  while (!signal.aborted) {
    const bearer = token();
    if (!bearer) {
      onStatus('off');
      return;
    }
    try {
      const headers = { Authorization: `Bearer ${bearer}`, Accept: 'text/event-stream' };
      if (lastId !== null) headers['Last-Event-ID'] = lastId;
      const res = await fetch('/api/v1/events/stream', { headers, signal, cache: 'no-store' });
      if (res.status === 404 || res.status === 405) return poll(signal, onStatus);
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      failures = 0;
      onStatus('on');
      await read(res.body, signal);
    } catch (err) {
      if (signal.aborted) return;
      failures += 1;
      if (failures >= 3) onStatus('off');
    }
    // The server ends each stream after a while; reconnect from the last id, losing nothing.
    await sleep(failures ? retryMs * Math.min(failures, 10) : 200, signal);
  }
}

export function startLive(onStatus) {
  stopLive();
  controller = new AbortController();
  follow(controller.signal, onStatus);
}

export function stopLive() {
  if (controller) controller.abort();
  controller = null;
}

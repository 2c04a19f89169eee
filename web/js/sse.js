// Server-sent events over fetch(), so the stream can carry the
// Authorization header (EventSource cannot send headers). Parses the
// text/event-stream format (id, event, data, comments, retry), reconnects
// with Last-Event-ID after a drop, and asks for the token on 401.

import { authHeaders, handle401 } from './api.js';

// Feeds decoded text to the parser; calls onEvent({id, type, data}) per
// complete event. Exported for the tests' sake as well as for readability.
export class SseParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buf = '';
    this.lastId = '';
    this.retry = null;
    this.reset();
  }

  reset() {
    this.type = '';
    this.data = [];
    this.id = null;
  }

  push(text) {
    this.buf += text;
    let nl;
    while ((nl = this.buf.search(/\r\n|\r|\n/)) >= 0) {
      const len = this.buf.startsWith('\r\n', nl) ? 2 : 1;
      // A lone \r at the end may be the first half of \r\n: wait for more.
      if (this.buf[nl] === '\r' && len === 1 && nl === this.buf.length - 1) break;
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + len);
      this.line(line);
    }
  }

  line(line) {
    if (line === '') {
      if (this.id !== null) this.lastId = this.id;
      if (this.data.length) {
        this.onEvent({ id: this.lastId, type: this.type || 'message', data: this.data.join('\n') });
      }
      this.reset();
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.type = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
  }
}

// Opens the stream and keeps it open. onEvent(type, data parsed as JSON)
// per event; onState('live' | 'down', detail). Returns a stop function.
export function openEvents(url, { onEvent, onState }) {
  const ctl = new AbortController();
  let lastId = '';
  let delay = 1000;
  const run = async () => {
    while (!ctl.signal.aborted) {
      try {
        const headers = authHeaders({ Accept: 'text/event-stream' });
        if (lastId) headers['Last-Event-ID'] = lastId;
        const r = await fetch(url, { headers, signal: ctl.signal, cache: 'no-store' });
        if (r.status === 401) { await handle401(); continue; }
        if (!r.ok || !r.body) throw new Error(`event stream answered ${r.status}`);
        onState('live');
        delay = 1000;
        const parser = new SseParser((ev) => {
          lastId = ev.id || lastId;
          let data = ev.data;
          try { data = JSON.parse(ev.data); } catch { /* plain text data stays a string */ }
          onEvent(ev.type, data);
        });
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          parser.push(value);
        }
        if (parser.retry) delay = parser.retry;
        onState('down', 'event stream closed; reconnecting');
      } catch (e) {
        if (ctl.signal.aborted) return;
        onState('down', `${e.message || e}; reconnecting`);
      }
      await new Promise((res) => setTimeout(res, delay));
      delay = Math.min(delay * 2, 15000);
    }
  };
  run();
  return () => ctl.abort();
}

// DOM and formatting helpers shared by the tabs.

// el('td', {class: 'num', dataset: {id: 'x'}, onclick: fn}, child, ...)
// Children may be nested arrays at any depth (a list of links beside a
// note): they are flattened all the way, never turned into strings.
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

export const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'timeout']);

// A link to a job's detail: a real address (#jobs/<id>, which the tabs'
// routing opens) that opens the detail in place when clicked.
export function jobLink(id, open) {
  return el('a', { href: `#jobs/${encodeURIComponent(id)}`, class: 'mono job-link',
    onclick: (e) => { if (e.ctrlKey || e.metaKey || e.shiftKey) return; e.preventDefault(); open(id); } }, id);
}

export function badge(status) {
  return el('span', { class: `status ${status}` }, status);
}

// "2026-12-06 03:04:05 UTC+1": local time with its zone, so a time read
// off the page means one thing wherever it is read.
export function timeText(ts) {
  const d = new Date(ts);
  if (!ts || isNaN(d)) return ts || '';
  const p = (n) => String(n).padStart(2, '0');
  const east = -d.getTimezoneOffset(); // minutes, at that date
  const h = Math.floor(Math.abs(east) / 60), m = Math.abs(east) % 60;
  const zone = east ? `UTC${east > 0 ? '+' : '-'}${h}${m ? `:${p(m)}` : ''}` : 'UTC';
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${zone}`;
}

// A <time> showing timeText, with the server's own ISO string as tooltip.
export function fmtTime(ts) {
  if (!ts) return '';
  return el('time', { datetime: ts, title: ts }, timeText(ts));
}

export function fmtDuration(s) {
  if (s === undefined || s === null || isNaN(s)) return '';
  s = Number(s);
  if (s < 1) return `${(s * 1000).toFixed(1)} ms`;
  if (s < 120) return `${s.toFixed(2)} s`;
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = Math.floor(s % 60);
  return h ? `${h}h ${m}m` : `${m}m ${r}s`;
}

export function fmtNum(v) {
  if (typeof v !== 'number') return v === undefined || v === null ? '' : String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e7) ? v.toExponential(3) : String(Number(v.toPrecision(6)));
}

// "AMD EPYC, 2 cores, 23.5 GiB, 1 GPU (A100)" from an agent's system_info.
export function hardwareSummary(si) {
  if (!si || typeof si !== 'object') return '';
  const parts = [];
  if (si.cpu) parts.push(`${si.cpu.model || 'CPU'}${si.cpu.cores ? `, ${si.cpu.cores} cores` : ''}`);
  if (si.memory && si.memory.total_mb) parts.push(`${(si.memory.total_mb / 1024).toFixed(1)} GiB`);
  const gpus = Array.isArray(si.gpus) ? si.gpus : [];
  if (gpus.length) {
    const names = [...new Set(gpus.map((g) => g.name || g.model || g.vendor).filter(Boolean))];
    parts.push(`${gpus.length} GPU${gpus.length > 1 ? 's' : ''}${names.length ? ` (${names.join(', ')})` : ''}`);
  } else {
    parts.push('no GPU');
  }
  return parts.join(', ');
}

// Fills a <select> with values or [value, label] pairs, keeping the
// current choice.
export function fillSelect(sel, options, { any = false } = {}) {
  const cur = sel.value;
  sel.replaceChildren(...(any ? [el('option', { value: '' }, 'any')] : []),
    ...options.map((o) => {
      const [v, label] = Array.isArray(o) ? o : [o, o];
      return el('option', { value: v }, label ?? v);
    }));
  if ([...sel.options].some((o) => o.value === cur)) sel.value = cur;
}

export function toast(msg, bad = false) {
  const box = document.getElementById('toast');
  const t = el('div', { class: bad ? 'bad' : '' }, msg);
  box.append(t);
  setTimeout(() => t.remove(), bad ? 8000 : 4000);
}

// Runs fn at most once per `ms`, trailing: for refreshes triggered by bursts
// of events.
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export function download(name, type, text) {
  const url = URL.createObjectURL(text instanceof Blob ? text : new Blob([text], { type }));
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// Starts a real ruckus-agent and ruckus-server on random ports and a
// headless Debian Chromium driven by playwright-core, for the dashboard's
// end-to-end tests. Everything lives in one temporary folder, removed at
// the end; the processes are ended by their pid.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = process.env.RK_BIN_DIR || path.join(ROOT, 'build/bin');
export const CHROMIUM = process.env.RK_CHROMIUM || '/usr/bin/chromium';
export const SHOTS = process.env.RK_SCREENSHOT_DIR || path.join(ROOT, 'build/web-screenshots');

// Why the suite cannot run here, or null.
export async function missing() {
  for (const p of ['ruckus-server', 'ruckus-agent']) {
    if (!existsSync(path.join(BIN, p))) return `${path.join(BIN, p)} not built (cmake --build build)`;
  }
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} missing (apt-get install chromium)`;
  try {
    await import('playwright-core');
  } catch {
    return 'playwright-core missing (npm ci)';
  }
  return null;
}

// Spawns a program and resolves with {proc, port} once it logged
// `listening ... port=N` on stderr (within 15 s).
function startProgram(name, args, logs) {
  return new Promise((resolve, reject) => {
    const proc = spawn(path.join(BIN, name), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not log "listening" in 15 s:\n${err}`)), 15000);
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk) => {
      err += chunk;
      logs.push(...chunk.split('\n').filter(Boolean).map((l) => `[${name}] ${l}`));
      const m = /listening\b.*\bport=(\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, port: Number(m[1]) });
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${err}`));
    });
  });
}

// serverArgs: extra flags for ruckus-server (--token T, say); agentArgs:
// for ruckus-agent (--slots N).
export async function startStack(serverArgs = [], { agentArgs = [] } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'ruckus-web-'));
  const logs = [];
  const procs = [];
  const stack = { dir, logs, procs };
  try {
    const agent = await startProgram('ruckus-agent', ['--port', '0', '--data-dir', path.join(dir, 'agent'), ...agentArgs], logs);
    procs.push(agent.proc);
    const server = await startProgram('ruckus-server', ['--port', '0', '--db', path.join(dir, 'server.db'), ...serverArgs], logs);
    procs.push(server.proc);
    stack.agentUrl = `http://127.0.0.1:${agent.port}`;
    stack.serverUrl = `http://127.0.0.1:${server.port}`;
    const info = await (await fetch(`${stack.agentUrl}/api/v1/info`)).json();
    stack.agentId = info.agent_info.agent_id;
  } catch (e) {
    await stopStack(stack);
    throw e;
  }
  return stack;
}

// One more agent in the stack (a second machine), ended with it; resolves
// with {url, agentId}.
export async function startAgent(stack, args = []) {
  const n = stack.procs.length;
  const agent = await startProgram('ruckus-agent', ['--port', '0', '--data-dir', path.join(stack.dir, `agent-${n}`), ...args], stack.logs);
  stack.procs.push(agent.proc);
  const url = `http://127.0.0.1:${agent.port}`;
  const info = await (await fetch(`${url}/api/v1/info`)).json();
  return { url, agentId: info.agent_info.agent_id };
}

export async function stopStack(stack) {
  if (!stack) return;
  await Promise.all(stack.procs.map((p) => new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    const kill = setTimeout(() => p.kill('SIGKILL'), 10000);
    p.once('exit', () => { clearTimeout(kill); resolve(); });
    p.kill('SIGTERM');
  })));
  rmSync(stack.dir, { recursive: true, force: true });
}

// A fresh headless Chromium (its own user-data dir) with one page. options
// go to Playwright's launchPersistentContext (colorScheme, timezoneId);
// RK_COLOR_SCHEME=dark makes every suite's screenshots dark.
export async function startBrowser(dir, options = {}) {
  if (process.env.RK_COLOR_SCHEME) options = { colorScheme: process.env.RK_COLOR_SCHEME, ...options };
  const { chromium } = await import('playwright-core');
  const profile = path.join(dir, 'chromium-profile');
  mkdirSync(profile, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
    ...options,
  });
  const page = context.pages()[0] || await context.newPage();
  return { context, page };
}

export function screenshot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  return page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

// A call to the server's API from the test itself (setting up jobs faster
// than through the form); throws on an error answer.
export async function api(stack, method, p, body) {
  const r = await fetch(`${stack.serverUrl}/api/v1${p}`, {
    method, headers: body ? { 'Content-Type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined,
  });
  const data = await r.json();
  if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${data.detail}`);
  return data;
}

// Registers the stack's agent and creates an experiment of a command.
export async function setupExperiment(stack, name, argv, declared = {}) {
  await api(stack, 'POST', '/agents/register', { agent_url: stack.agentUrl });
  const r = await api(stack, 'POST', '/experiments', { experiment_spec: {
    name, model: 'none', task: { name: 'run', type: 'command', params: { argv } },
    framework: { name: 'none', params: {} }, metrics: { metrics: declared },
  } });
  return r.experiment_id;
}

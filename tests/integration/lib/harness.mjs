// Starts real `stratus` processes on 127.0.0.1 (ports chosen by the OS) for integration tests,
// and stops every one of them when the test process ends.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BIN = process.env.STRATUS_BIN ?? new URL('../../../build/stratus', import.meta.url).pathname;
// Sanitized builds are several times slower: tests scale their time bounds with this.
export const SLOW = process.env.STRATUS_SANITIZED ? 4 : 1;

const live = new Set();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

function launch(args, { readyPattern = /listening on http:\/\/[^:]+:(\d+)/, env } = {}) {
  const proc = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  live.add(proc);
  const out = { stdout: '', stderr: '' };
  proc.stdout.on('data', (d) => (out.stdout += d));
  proc.stderr.on('data', (d) => (out.stderr += d));
  const exited = new Promise((resolve) =>
    proc.on('exit', (code, signal) => {
      live.delete(proc);
      resolve({ code, signal });
    }),
  );
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready in 15s: ${args.join(' ')}\n${out.stderr}`)), 15000 * SLOW);
    const check = () => {
      const m = out.stderr.match(readyPattern);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stderr.on('data', check);
    exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready: ${args.join(' ')}\n${out.stderr}`));
    });
  });
  return { proc, out, exited, ready };
}

// A `stratus mock` process. `args`: extra flags such as ['--fail-status', '500']; `port`: a
// fixed port (to restart a mock where the gateway expects it), 0 = any free port.
export async function startMock(args = [], { env, port: fixedPort = 0 } = {}) {
  const m = launch(['mock', '--port', String(fixedPort), ...args], { env });
  const port = await m.ready;
  const url = `http://127.0.0.1:${port}`;
  return {
    port,
    url,
    baseURL: `${url}/v1`,
    proc: m.proc,
    out: m.out,
    exited: m.exited,
    args,
    stats: async () => (await fetch(`${url}/mock/stats`)).json(),
    lastRequest: async () => (await fetch(`${url}/mock/last-request`)).json(),
    stop: async (signal = 'SIGTERM') => {
      m.proc.kill(signal);
      return m.exited;
    },
  };
}

export function tempFile(name, text) {
  const dir = mkdtempSync(join(tmpdir(), 'stratus-it-'));
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

// A gateway config with one alias over the given upstream base URLs, in order.
export function configYaml({ upstreams, alias = 'test-model', server = {}, providerExtra = '' }) {
  const serverLines = Object.entries(server)
    .map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`)
    .join('\n');
  const providers = upstreams
    .map(
      (u, i) => `  - name: cloud-${i}
    type: openai
    base_url: ${u}
${providerExtra}`,
    )
    .join('\n');
  const deployments = upstreams.map((_, i) => `      - {provider: cloud-${i}, model: upstream-model-${i}}`).join('\n');
  return `server:
  listen: "127.0.0.1:0"
${serverLines}
providers:
${providers}
models:
  - name: ${alias}
    deployments:
${deployments}
`;
}

// A `stratus serve` process on the given YAML config text.
export async function startGateway(yaml, args = [], { env } = {}) {
  const file = tempFile('stratus.yaml', yaml);
  const g = launch(['serve', '--config', file, '--listen', '127.0.0.1:0', ...args], { env });
  const port = await g.ready;
  const url = `http://127.0.0.1:${port}`;
  return {
    port,
    url,
    baseURL: `${url}/v1`,
    configFile: file,
    proc: g.proc,
    out: g.out,
    exited: g.exited,
    // Access-log lines written so far, parsed.
    accessLog: () =>
      g.out.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l)),
    stop: async (signal = 'SIGTERM') => {
      g.proc.kill(signal);
      return g.exited;
    },
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls `fn` until it returns a truthy value or `ms` pass.
export async function eventually(fn, ms = 3000, step = 25) {
  const end = Date.now() + ms * SLOW;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await sleep(step);
  }
  return last;
}

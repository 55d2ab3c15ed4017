// Machinery of the chaos suite (slow_chaos.test.mjs): mock "clouds", a gateway config that
// routes aliases across them, a bounded mixed load through the official openai SDK, the
// gateway's breaker states, and the summary table.
import { writeFileSync } from 'node:fs';
import OpenAI from 'openai';
import { startMock, sleep } from './harness.mjs';

// A cloud spec: mock flags (['--fail-status', '500']), or REFUSED: a port where nothing listens.
export const REFUSED = 'refused';
export const HEALTHY = [];

const MESSAGES = [{ role: 'user', content: 'Say hello' }];

// One mock per spec, named c1, c2, ... (the gateway's provider names; deployment ids "c1/m").
export async function startClouds(specs) {
  return Promise.all(
    specs.map(async (spec, i) => {
      const name = `c${i + 1}`;
      const args = spec === REFUSED ? [] : spec;
      const mock = await startMock(args);
      if (spec === REFUSED) await mock.stop();
      return { name, id: `${name}/m`, args, port: mock.port, baseURL: mock.baseURL, mock: spec === REFUSED ? null : mock };
    }),
  );
}

export async function stopClouds(clouds) {
  await Promise.all(clouds.map((c) => c.mock?.stop('SIGKILL')));
}

// Brings a killed cloud back on the port the gateway knows.
export async function restartCloud(cloud) {
  cloud.mock = await startMock(cloud.args, { port: cloud.port });
}

// Gateway YAML: one provider per cloud and one model alias per entry of `aliases`
// ({name: policy}); a policy holds the model keys (strategy, retry, breaker, timeouts, hedge),
// optionally `clouds`, the names of the clouds it routes to (default: all), and `deployment`,
// extra keys per cloud name ({c1: {weight: 1}}).
export function gatewayYaml(clouds, aliases, { healthCheck = null } = {}) {
  const lines = ['server:', '  listen: "127.0.0.1:0"', '  access_log: "off"', 'providers:'];
  for (const c of clouds) {
    const p = { name: c.name, type: 'openai', base_url: c.baseURL, ...(healthCheck ? { health_check: healthCheck } : {}) };
    lines.push(`  - ${JSON.stringify(p)}`);
  }
  lines.push('models:');
  for (const [name, { clouds: names = clouds.map((c) => c.name), deployment = {}, ...policy }] of Object.entries(aliases)) {
    lines.push(`  - name: ${name}`, '    deployments:');
    for (const n of names) lines.push(`      - ${JSON.stringify({ provider: n, model: 'm', ...deployment[n] })}`);
    for (const [k, v] of Object.entries(policy)) lines.push(`    ${k}: ${JSON.stringify(v)}`);
  }
  return lines.join('\n') + '\n';
}

export const sdk = (gw, timeoutMs) => new OpenAI({ apiKey: 'sk-chaos', baseURL: gw.baseURL, maxRetries: 0, timeout: timeoutMs });

// One chat request read to its end: a stream is iterated to its last chunk. Never throws; the
// outcome says what the client saw.
export async function oneRequest(client, model, stream) {
  const t0 = performance.now();
  const r = { stream, ok: false, ms: 0, attempts: 0, deployment: '', status: 0, error: null, text: '' };
  try {
    const { data, response } = await client.chat.completions.create({ model, messages: MESSAGES, stream }).withResponse();
    r.status = response.status;
    r.attempts = Number(response.headers.get('x-stratus-attempts') ?? 0);
    r.deployment = response.headers.get('x-stratus-deployment') ?? '';
    let finish = null;
    if (stream) {
      for await (const chunk of data) {
        r.text += chunk.choices[0]?.delta?.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
    } else {
      r.text = data.choices[0]?.message?.content ?? '';
      finish = data.choices[0]?.finish_reason;
    }
    if (!r.text) throw new Error('an answer without content');
    if (!finish) throw new Error('an answer without finish_reason');
    r.ok = true;
  } catch (e) {
    r.error = e;
    r.status = e.status ?? r.status;
  }
  r.ms = performance.now() - t0;
  return r;
}

// A bounded load: `total` requests (odd ones streamed) from `concurrency` workers; it goes on
// past `total` while `until` (a promise) is pending or `minMs` has not passed, up to `maxMs`.
// It gives up early after `maxFailures` failed requests (a broken scenario fails fast).
// `progress.done` counts finished requests while it runs.
export async function runLoad({
  client,
  model,
  total,
  concurrency = 32,
  until = null,
  minMs = 0,
  maxMs = 60000,
  maxFailures = Infinity,
  progress = {},
}) {
  const results = [];
  let pending = until !== null;
  until?.then(
    () => (pending = false),
    () => (pending = false),
  );
  const t0 = Date.now();
  progress.done = 0;
  let next = 0;
  let failures = 0;
  const more = () => {
    const elapsed = Date.now() - t0;
    return elapsed < maxMs && failures < maxFailures && (next < total || pending || elapsed < minMs);
  };
  const worker = async () => {
    while (more()) {
      const stream = next++ % 2 === 1;
      const r = await oneRequest(client, model, stream);
      results.push(r);
      if (!r.ok) failures++;
      progress.done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const during = await until; // rethrows what went wrong in it
  return { results, ms: Date.now() - t0, during };
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function summarize(results) {
  const ms = results.map((r) => r.ms).sort((a, b) => a - b);
  const failed = results.filter((r) => !r.ok);
  const attempts = results.reduce((n, r) => n + r.attempts, 0);
  const byDeployment = {};
  for (const r of results) if (r.deployment) byDeployment[r.deployment] = (byDeployment[r.deployment] ?? 0) + 1;
  return {
    requests: results.length,
    failures: failed.length,
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    max: ms.at(-1),
    attempts: results.length ? attempts / results.length : 0,
    maxAttempts: Math.max(0, ...results.map((r) => r.attempts)),
    byDeployment,
    failed,
  };
}

// The first few distinct errors, for an assertion message.
export function errorSample(results, n = 5) {
  const seen = new Map();
  for (const r of results) {
    if (r.ok) continue;
    const key = `${r.stream ? 'stream' : 'plain'} status=${r.status} ${r.error?.constructor?.name}: ${String(r.error?.message).slice(0, 200)}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return [...seen].slice(0, n).map(([k, c]) => `${c}× ${k}`).join('\n');
}

// GET /admin/deployments as a map id → deployment state; null when the gateway has no such page.
export async function deployments(gw) {
  try {
    const res = await fetch(`${gw.url}/admin/deployments`);
    if (res.status !== 200) return null;
    const body = await res.json();
    return Object.fromEntries(body.deployments.map((d) => [d.id, d]));
  } catch {
    return null;
  }
}

// Polls one deployment until `pred(state)` holds; the state that matched, or null after `ms`.
export async function waitForDeployment(gw, id, pred, ms, step = 20) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const d = (await deployments(gw))?.[id];
    if (d && pred(d)) return d;
    await sleep(step);
  }
  return null;
}

// ---- the summary table ----

const COLUMNS = [
  ['scenario', (r) => r.scenario],
  ['requests', (r) => String(r.requests)],
  ['client failures', (r) => String(r.failures)],
  ['p50 ms', (r) => fmtMs(r.p50)],
  ['p99 ms', (r) => fmtMs(r.p99)],
  ['attempts/request', (r) => (r.attempts ? r.attempts.toFixed(2) : '-')],
  ['notes', (r) => r.notes ?? ''],
];
const fmtMs = (v) => (Number.isFinite(v) ? v.toFixed(0) : '-');

export function textTable(rows) {
  const cells = [COLUMNS.map(([h]) => h), ...rows.map((r) => COLUMNS.map(([, f]) => f(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((c) => c[i].length)));
  return cells.map((c) => c.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

export function markdownTable(rows) {
  const head = `| ${COLUMNS.map(([h]) => h).join(' | ')} |`;
  const rule = `| ${COLUMNS.map(([h], i) => (i === 0 || i === COLUMNS.length - 1 ? '---' : '---:')).join(' | ')} |`;
  const body = rows.map((r) => `| ${COLUMNS.map(([, f]) => f(r).replaceAll('|', '\\|')).join(' | ')} |`);
  return [head, rule, ...body].join('\n') + '\n';
}

// Prints the table and, when CHAOS_SUMMARY names a file, writes it there as markdown.
export function reportSummary(rows, header = '') {
  console.log(`\n${header}\n${textTable(rows)}\n`);
  const file = process.env.CHAOS_SUMMARY;
  if (file) writeFileSync(file, `${header ? `${header}\n\n` : ''}${markdownTable(rows)}`);
}

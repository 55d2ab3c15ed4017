// The training run of the profile-guided build (scripts/pgo.sh): drives an instrumented stratus
// through what the gateway does most, so the compiler learns which paths are hot. Everything
// runs on 127.0.0.1 from the one binary: `stratus mock` upstreams (OpenAI, Anthropic, Bedrock
// dialects), a `stratus serve` routing to them, and a second one with governance on (master
// key, virtual key, SQLite ledger). Then both are stopped with SIGTERM, so they write their
// profiles as they exit.
//
// Usage: node scripts/pgo-train.mjs path/to/instrumented/stratus [seconds per phase, default 2]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = process.argv[2];
const seconds = Number(process.argv[3] ?? 2);
if (!bin || !(seconds > 0)) {
  console.error('usage: node scripts/pgo-train.mjs STRATUS [SECONDS]');
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const chatBody = JSON.parse(readFileSync(join(root, 'bench/load/chat.json'), 'utf8'));
const tmp = mkdtempSync(join(tmpdir(), 'stratus-pgo-'));
const children = [];

function start(name, args, env = {}) {
  const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${out}`)), 15000);
    const look = (chunk) => {
      out += chunk;
      const m = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    child.on('exit', (code) => reject(new Error(`${name} exited (${code}):\n${out}`)));
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function request(port, path, { method = 'POST', body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request(
      { host: '127.0.0.1', port, path, method, agent, headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode, text }));
      },
    );
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

// `conns` loops sending `make()`'s requests for `seconds`; counts answers by status. Any status
// outside `expected` fails the training: a profile of a broken binary would be worthless.
async function phase(label, port, conns, make, expected = [200]) {
  const until = Date.now() + seconds * 1000;
  const statuses = {};
  await Promise.all(
    Array.from({ length: conns }, async () => {
      while (Date.now() < until) {
        const { path, ...opts } = make();
        const { status } = await request(port, path, opts);
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
    }),
  );
  console.log(`pgo-train: ${label}: ${JSON.stringify(statuses)}`);
  const odd = Object.keys(statuses).filter((st) => !expected.includes(Number(st)));
  if (odd.length) throw new Error(`${label}: unexpected status ${odd.join(', ')}`);
}

const chat = (model, extra = {}) => ({ path: '/v1/chat/completions', body: { ...chatBody, model, ...extra } });

try {
  const bedrockEnv = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
  const up = await start('mock', ['mock', '--port', '0', '--workers', '1', '--name', 'upstream']);
  const anthropic = await start('anthropic mock', ['mock', '--port', '0', '--workers', '1', '--dialect', 'anthropic']);
  const bedrock = await start('bedrock mock', ['mock', '--port', '0', '--workers', '1', '--dialect', 'bedrock'], bedrockEnv);
  const providers = `providers:
  - {name: upstream, type: openai, base_url: "http://127.0.0.1:${up.port}/v1"}
  - {name: up-b, type: openai, base_url: "http://127.0.0.1:${up.port}/v1"}
  - {name: up-anthropic, type: anthropic, base_url: "http://127.0.0.1:${anthropic.port}", api_key: train-key}
  - {name: up-bedrock, type: bedrock, base_url: "http://127.0.0.1:${bedrock.port}", region: us-east-1, aws_access_key_id: ${bedrockEnv.AWS_ACCESS_KEY_ID}, aws_secret_access_key: ${bedrockEnv.AWS_SECRET_ACCESS_KEY}}
`;
  writeFileSync(
    join(tmp, 'serve.yaml'),
    `server: {listen: "127.0.0.1:0", workers: 2, access_log: ${join(tmp, 'access.log')}}
${providers}models:
  - {name: bench, deployments: [{provider: upstream, model: mock-small}]}
  - {name: bench-latency, strategy: latency, deployments: [{provider: upstream, model: mock-small}, {provider: up-b, model: mock-small}]}
  - {name: bench-least-busy, strategy: least-busy, deployments: [{provider: upstream, model: mock-small}, {provider: up-b, model: mock-small}]}
  - {name: bench-anthropic, deployments: [{provider: up-anthropic, model: claude-bench}]}
  - {name: bench-bedrock, deployments: [{provider: up-bedrock, model: "anthropic.claude-3-5-haiku-20241022-v1:0"}]}
  - {name: emb, deployments: [{provider: upstream, model: mock-embed}]}
`,
  );
  const master = `sk-train-master-${process.pid}-0123456789abcdef`;
  writeFileSync(
    join(tmp, 'gov.yaml'),
    `server: {listen: "127.0.0.1:0", workers: 2, access_log: ${join(tmp, 'gov-access.log')}}
auth: {master_key: ${master}}
store: {url: "sqlite://${join(tmp, 'ledger.db')}"}
${providers}models:
  - {name: bench, deployments: [{provider: upstream, model: mock-small, price: {input: 0.15, output: 0.6}}]}
`,
  );
  const serve = await start('serve', ['serve', '--config', join(tmp, 'serve.yaml'), '--listen', '127.0.0.1:0', '--workers', '2']);
  const gov = await start('governed serve', ['serve', '--config', join(tmp, 'gov.yaml'), '--listen', '127.0.0.1:0', '--workers', '2']);
  const made = await request(gov.port, '/admin/keys', {
    headers: { authorization: `Bearer ${master}` },
    body: { name: 'train', rpm: 1e9, tpm: 1e12, budget_usd: 1e9, budget_period: 'month' },
  });
  const key = JSON.parse(made.text).key;
  if (!key) throw new Error(`POST /admin/keys gave no key: ${made.status} ${made.text}`);

  const stream = { stream: true };
  const usage = { stream: true, stream_options: { include_usage: true } };
  for (const conns of [32, 1]) {
    await phase(`chat c${conns}`, serve.port, conns, () => chat('bench'));
    await phase(`stream c${conns}`, serve.port, conns, () => chat('bench', conns > 1 ? stream : usage));
  }
  await phase('routed', serve.port, 16, () => chat(Math.random() < 0.5 ? 'bench-latency' : 'bench-least-busy'));
  await phase('translated', serve.port, 16, () => {
    const model = Math.random() < 0.5 ? 'bench-anthropic' : 'bench-bedrock';
    return chat(model, Math.random() < 0.5 ? usage : {});
  });
  await phase('governed', gov.port, 16, () => ({
    ...chat('bench', Math.random() < 0.3 ? usage : {}),
    headers: { authorization: `Bearer ${key}` },
  }));
  await phase('other endpoints and errors', serve.port, 4, () => {
    const pick = Math.floor(Math.random() * 5);
    if (pick === 0) return { path: '/v1/embeddings', body: { model: 'emb', input: ['a', 'b'] } };
    if (pick === 1) return { path: '/v1/models', method: 'GET' };
    if (pick === 2) return chat('no-such-model');
    if (pick === 3) return { path: '/v1/chat/completions', body: '{"model":' };
    return { path: '/healthz', method: 'GET' };
  }, [200, 400, 404]);
} catch (e) {
  console.error(`pgo-train: ${e.message}`);
  process.exitCode = 1;
} finally {
  agent.destroy();
  // SIGTERM: each process drains and exits normally, which is when it writes its profile.
  await Promise.all(
    children.map(
      (c) =>
        new Promise((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.on('exit', resolve);
          c.kill('SIGTERM');
          setTimeout(() => c.kill('SIGKILL'), 10000).unref();
        }),
    ),
  );
  rmSync(tmp, { recursive: true, force: true });
}

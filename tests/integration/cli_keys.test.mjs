// `stratus keys create|list|revoke` and `stratus usage` run as real processes against a
// throwaway SQLite store (and one PostgreSQL server): the key is printed once and never listed,
// revocation shows, usage tables add up, bad flags fail clearly, and a running gateway honours
// keys the CLI creates and revokes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, configYaml, eventually, SLOW, startGateway, startMock } from './lib/harness.mjs';
import { postgresMissing, startPostgres } from './lib/postgres.mjs';

// Temp dirs of this file (configs, SQLite stores), removed when the run ends.
const dirs = [];
process.on('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(prefix = 'stratus-cli-') {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

const KEY_RE = /^sk-stratus-([0-9a-f]{8})-[0-9A-Za-z]{40}$/;

// Runs the binary to completion: { code, stdout, stderr } whatever the exit status.
function cli(args, { cwd, env } = {}) {
  return new Promise((resolve) => {
    execFile(BIN, args, { cwd, env: { ...process.env, ...env }, timeout: 30000 * SLOW }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

// A config whose store is `url` (default: a SQLite file in a fresh temp dir).
function storeConfig(url) {
  const dir = tempDir();
  const storeUrl = url ?? `sqlite://${join(dir, 'ledger.db')}`;
  const file = join(dir, 'stratus.yaml');
  writeFileSync(
    file,
    `${configYaml({ upstreams: ['http://127.0.0.1:9/v1'] })}teams:
  - {name: research, rpm: 100, budget_usd: 50, budget_period: month}
store:
  url: ${storeUrl}
`,
  );
  return { dir, file, url: storeUrl };
}

async function create(file, name, extra = []) {
  const r = await cli(['keys', 'create', '--config', file, '--name', name, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  const [first, ...rest] = r.stdout.split('\n');
  assert.match(first, KEY_RE, 'the first line of stdout is the key alone');
  assert.equal(rest.join(''), '', 'nothing but the key on stdout');
  return { key: first, id: first.match(KEY_RE)[1], stderr: r.stderr };
}

async function listJson(file) {
  const r = await cli(['keys', 'list', '--config', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).keys;
}

// The exact checks of the create → list → revoke → list cycle, for any store.
async function keyLifecycle(file) {
  const made = await create(file, 'ci-bot', [
    '--team', 'research', '--models', 'test-model', '--rpm', '60', '--tpm', '100000',
    '--budget-usd', '25', '--budget-period', 'day', '--max-task-calls', '200', '--max-task-usd', '2.5',
    '--expires', '30d',
  ]);
  assert.match(made.stderr, new RegExp(`created key ${made.id}`));

  const table = await cli(['keys', 'list', '--config', file]);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  assert.match(lines[0], /^ID\s+NAME\s+TEAM\s+MODELS\s+RPM\s+TPM\s+BUDGET\s+TASK LIMITS\s+CREATED \(UTC\)\s+EXPIRES \(UTC\)\s+STATUS$/);
  const row = lines.find((l) => l.startsWith(made.id));
  assert.ok(row, table.stdout);
  assert.match(row, /ci-bot\s+research\s+test-model\s+60\s+100000\s+\$25\.00\/day\s+200 calls, \$2\.50 .* active$/);
  const secret = made.key.split('-').pop();
  assert.ok(!table.stdout.includes(secret), 'the secret is never listed');

  const keys = await listJson(file);
  const k = keys.find((x) => x.id === made.id);
  assert.deepEqual(Object.keys(k).sort(), [
    'budget_period', 'budget_usd', 'created_ms', 'expires_ms', 'id', 'max_task_calls', 'max_task_usd',
    'models', 'name', 'revoked_ms', 'rpm', 'status', 'team', 'tpm',
  ]);
  assert.deepEqual(
    { ...k, created_ms: 0, expires_ms: 0 },
    {
      id: made.id, name: 'ci-bot', team: 'research', models: ['test-model'], rpm: 60, tpm: 100000,
      budget_usd: 25, budget_period: 'day', max_task_calls: 200, max_task_usd: 2.5,
      created_ms: 0, expires_ms: 0, revoked_ms: 0, status: 'active',
    },
  );
  assert.equal(k.expires_ms - k.created_ms, 30 * 86400000);
  assert.ok(Math.abs(k.created_ms - Date.now()) < 60000);

  const dup = await cli(['keys', 'create', '--config', file, '--name', 'ci-bot']);
  assert.notEqual(dup.code, 0);
  assert.match(dup.stderr, new RegExp(`a key named 'ci-bot' already exists \\(id ${made.id}, active\\)`));
  assert.equal(dup.stdout, '');

  const revoked = await cli(['keys', 'revoke', '--config', file, 'ci-bot']);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.equal(revoked.stdout, `revoked ${made.id} (ci-bot)\n`);
  const again = await cli(['keys', 'revoke', '--config', file, made.id]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /already revoked/);

  const afterRevoke = (await listJson(file)).find((x) => x.id === made.id);
  assert.equal(afterRevoke.status, 'revoked');
  assert.ok(afterRevoke.revoked_ms >= k.created_ms);
  const table2 = await cli(['keys', 'list', '--config', file]);
  assert.match(table2.stdout.split('\n').find((l) => l.startsWith(made.id)), / revoked$/);

  const unknown = await cli(['keys', 'revoke', '--config', file, 'nobody']);
  assert.equal(unknown.code, 1);
  assert.equal(unknown.stderr.trim().split('\n').pop(), "stratus keys revoke: no key with id or name 'nobody'");

  // The name is free again once its key is revoked.
  const second = await create(file, 'ci-bot');
  assert.notEqual(second.id, made.id);
  return { first: made, second };
}

describe('stratus keys on SQLite', () => {
  test('create → list (no secret) → revoke → list shows revoked', async () => {
    const { file } = storeConfig();
    await keyLifecycle(file);
  });

  test('create --json prints one object with the key; defaults are no limits, never expires', async () => {
    const { file } = storeConfig();
    const r = await cli(['keys', 'create', '--config', file, '--name', 'plain', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const o = JSON.parse(r.stdout);
    assert.match(o.key, KEY_RE);
    assert.equal(o.id, o.key.match(KEY_RE)[1]);
    assert.deepEqual(
      { ...o, key: '', id: '', created_ms: 0 },
      {
        key: '', id: '', name: 'plain', team: '', models: [], rpm: 0, tpm: 0, budget_usd: 0, budget_period: '',
        max_task_calls: 0, max_task_usd: 0, created_ms: 0, expires_ms: 0, revoked_ms: 0, status: 'active',
      },
    );
    assert.ok(!('hash' in o) && !('salt' in o));
  });

  test('a budget without a period is monthly; an unknown team or alias is a warning', async () => {
    const { file } = storeConfig();
    const made = await create(file, 'x', ['--budget-usd', '10', '--team', 'marketing', '--models', 'test-model,other']);
    assert.match(made.stderr, /warning: team 'marketing' is not listed under teams:/);
    assert.match(made.stderr, /warning: model 'other' matches no alias of the config/);
    const [k] = await listJson(file);
    assert.equal(k.budget_period, 'month');
    assert.equal(k.team, 'marketing');
  });

  test('keys list on a fresh store says there are none', async () => {
    const { file } = storeConfig();
    const r = await cli(['keys', 'list', '--config', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^no keys yet/);
    assert.deepEqual(await listJson(file), []);
  });

  test('usage on an empty ledger prints a zero total, as a table and as JSON', async () => {
    const { file } = storeConfig();
    const r = await cli(['usage', '--config', file]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^usage by key since \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    assert.match(lines[1], /^KEY\s+NAME\s+REQUESTS\s+PROMPT\s+CACHED\s+COMPLETION\s+COST USD$/);
    assert.match(lines.at(-1), /^total \(0 groups\)\s+0\s+0\s+0\s+0\s+0\.000000$/);

    const j = await cli(['usage', '--config', file, '--by', 'day', '--since', 'all', '--json']);
    assert.equal(j.code, 0, j.stderr);
    const o = JSON.parse(j.stdout);
    assert.equal(o.group_by, 'day');
    assert.equal(o.since_ms, 0);
    assert.deepEqual(o.rows, []);
    assert.equal(o.total.requests, 0);
    assert.equal(o.total.cost_usd, 0);

    const tasks = await cli(['usage', '--config', file, '--tasks', '--top', '10']);
    assert.equal(tasks.code, 0, tasks.stderr);
    assert.match(tasks.stdout, /^usage by task since/);
    assert.match(tasks.stdout, /\ntotal \(0 groups\)\s+0\s+0\s+0\s+0\s+0\.000000\n$/);
  });

  test('bad flags: a clear message and a non-zero exit, nothing written', async () => {
    const { file } = storeConfig();
    const cases = [
      [['keys', 'create', '--config', file, '--name', 'a', '--budget-usd', '5', '--budget-period', 'week'], /--budget-period must be day or month, not 'week'/],
      [['keys', 'create', '--config', file, '--name', 'a', '--budget-usd', '-5'], /--budget-usd needs a positive amount in US\$/],
      [['keys', 'create', '--config', file, '--name', 'a', '--budget-usd', 'lots'], /--budget-usd needs a positive amount in US\$: 'lots' is not a positive number/],
      [['keys', 'create', '--config', file, '--name', 'a', '--budget-period', 'day'], /--budget-period needs --budget-usd/],
      [['keys', 'create', '--config', file, '--name', 'a', '--rpm', 'fast'], /--rpm needs a positive whole number/],
      [['keys', 'create', '--config', file, '--name', 'a', '--max-task-calls', '0'], /--max-task-calls needs a positive whole number/],
      [['keys', 'create', '--config', file, '--name', 'a', '--expires', '3x'], /--expires: '3x' is not a duration/],
      [['keys', 'create', '--config', file], /--name is required/],
      [['keys', 'create', '--name', 'a'], /--config is required/],
      [['keys', 'create', '--config', join(tmpdir(), 'no-such-stratus.yaml'), '--name', 'a'], /File does not exist/],
      [['keys', 'revoke', '--config', file], /key is required/],
      [['keys'], /A subcommand is required/],
      [['usage', '--config', file, '--by', 'colour'], /--by must be key, team, model, provider, day or task/],
      [['usage', '--config', file, '--since', '7'], /--since: '7' is not a duration/],
      [['usage', '--config', file, '--top', 'ten'], /--top needs a positive whole number/],
      [['usage', '--config', file, '--tasks', '--by', 'team'], /--tasks is --by task; it cannot be combined with --by team/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, message, args.join(' '));
      assert.equal(r.stdout, '', args.join(' '));
    }
    assert.deepEqual(await listJson(file), [], 'no key was written');
  });

  test('an invalid config is reported with its line, exit 2', async () => {
    const { file } = storeConfig('mysql://nope');
    const r = await cli(['keys', 'list', '--config', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /stratus\.yaml:\d+:\d+: store\.url 'mysql:\/\/nope' must start with sqlite:\/\//);
  });

  test('an unset provider secret does not stop the CLI; it says so', async () => {
    const dir = tempDir();
    const file = join(dir, 'stratus.yaml');
    writeFileSync(
      file,
      configYaml({ upstreams: ['http://127.0.0.1:9/v1'], providerExtra: '    api_key: ${STRATUS_TEST_UNSET_SECRET}\n' }) +
        `store:\n  url: sqlite://${join(dir, 'x.db')}\n`,
    );
    assert.equal(process.env.STRATUS_TEST_UNSET_SECRET, undefined);
    const r = await cli(['keys', 'list', '--config', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /environment variable\(s\) STRATUS_TEST_UNSET_SECRET not set; ignored/);
  });

  test('store.url unset: sqlite://stratus.db in the current directory, like the gateway', async () => {
    const dir = tempDir();
    const elsewhere = tempDir();
    const file = join(dir, 'stratus.yaml');
    writeFileSync(file, configYaml({ upstreams: ['http://127.0.0.1:9/v1'] }));
    const made = await cli(['keys', 'create', '--config', file, '--name', 'here'], { cwd: dir });
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stderr, /creating a new store stratus\.db/);
    assert.ok(existsSync(join(dir, 'stratus.db')));
    const same = await cli(['keys', 'list', '--config', file, '--json'], { cwd: dir });
    assert.deepEqual(JSON.parse(same.stdout).keys.map((k) => k.name), ['here']);
    const other = await cli(['keys', 'list', '--config', file, '--json'], { cwd: elsewhere });
    assert.deepEqual(JSON.parse(other.stdout).keys, [], 'another directory is another store');
  });
});

describe('the CLI and a running gateway share the store', () => {
  let mock;
  let gw;
  let file;
  const MASTER = 'master-key-for-cli-tests-0123456789';
  before(async () => {
    mock = await startMock();
    const dir = tempDir('stratus-cli-gw-');
    const yaml = `${configYaml({ upstreams: [mock.baseURL] })}auth:
  master_key: ${MASTER}
teams:
  - {name: research}
store:
  url: sqlite://${join(dir, 'ledger.db')}
`;
    gw = await startGateway(yaml);
    file = gw.configFile;
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
  });

  const chat = (key) =>
    fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-stratus-task-id': 'run-1' },
      body: JSON.stringify({ model: 'test-model', messages: [{ role: 'user', content: 'hi' }] }),
    });

  test('a created key works at once, usage shows it by name, a revoked key is refused within a second', async () => {
    const made = await create(file, 'agent', ['--team', 'research', '--models', 'test-model']);
    const ok = await eventually(async () => (await chat(made.key)).status === 200, 2000);
    assert.ok(ok, 'the gateway accepts the key the CLI created');

    const flushed = await fetch(`${gw.url}/admin/flush`, { method: 'POST', headers: { authorization: `Bearer ${MASTER}` } });
    assert.equal(flushed.status, 200);
    const byKey = await cli(['usage', '--config', file, '--json']);
    assert.equal(byKey.code, 0, byKey.stderr);
    const row = JSON.parse(byKey.stdout).rows.find((r) => r.group === made.id);
    assert.ok(row, byKey.stdout);
    assert.equal(row.name, 'agent');
    assert.ok(row.requests >= 1);
    assert.ok(row.prompt_tokens > 0 && row.completion_tokens > 0, byKey.stdout);

    const table = await cli(['usage', '--config', file, '--by', 'team']);
    assert.match(table.stdout, /\nresearch\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\.\d{6}\n/);
    const tasks = await cli(['usage', '--config', file, '--tasks', '--top', '10']);
    assert.match(tasks.stdout, /\nrun-1\s+\d+/);

    const revoked = await cli(['keys', 'revoke', '--config', file, made.id]);
    assert.equal(revoked.code, 0, revoked.stderr);
    const t0 = Date.now();
    const refused = await eventually(async () => (await chat(made.key)).status === 401, 3000);
    assert.ok(refused, 'the revoked key is refused');
    assert.ok(Date.now() - t0 < 1500 * SLOW, `refused after ${Date.now() - t0} ms`);
  });
});

describe('stratus keys on PostgreSQL', () => {
  test('the same lifecycle, and usage sums the ledger', { skip: postgresMissing() }, async () => {
    const pg = await startPostgres();
    try {
      const { file } = storeConfig(pg.url);
      const { first, second } = await keyLifecycle(file);
      const hashes = (await pg.query('SELECT hash FROM keys ORDER BY created_ms')).split('\n');
      assert.equal(hashes.length, 2);
      const listed = await cli(['keys', 'list', '--config', file]);
      const listedJson = await cli(['keys', 'list', '--config', file, '--json']);
      for (const h of hashes) {
        assert.match(h, /^[0-9a-f]{64}$/);
        assert.ok(!listed.stdout.includes(h) && !listedJson.stdout.includes(h), 'the hash is never listed');
      }

      // Three tasks' events, written as the gateway would: the top 2 and the others add up.
      const now = Date.now();
      const values = [
        [first.id, 'research', 'task-a', 100, 10, 50, 0.5],
        [first.id, 'research', 'task-a', 200, 0, 50, 0.25],
        [second.id, '', 'task-b', 10, 0, 5, 1.0],
        [second.id, '', 'task-c', 1, 0, 1, 0.125],
        [second.id, '', '', 7, 0, 3, 2.0],
      ]
        .map(([key, team, task, p, c, o, cost], i) =>
          `(${now - 1000 + i}, 'r${i}', '${key}', '${team}', '${task}', 'test-model', 'cloud-0', 'upstream-model-0', 200, 1, false, ${p}, ${c}, ${o}, ${cost}, 12.5, -1)`,
        )
        .join(',');
      await pg.query(
        `INSERT INTO ledger (time_ms, request_id, key_id, team, task_id, alias, provider, deployment, status, attempts, stream, prompt_tokens, cached_tokens, completion_tokens, cost_usd, latency_ms, ttft_ms) VALUES ${values}`,
      );
      const tasks = await cli(['usage', '--config', file, '--tasks', '--top', '2']);
      assert.equal(tasks.code, 0, tasks.stderr);
      const lines = tasks.stdout.trimEnd().split('\n').slice(1);
      assert.match(lines[0], /^TASK\s+REQUESTS\s+PROMPT\s+CACHED\s+COMPLETION\s+WALL\s+COST USD$/);
      assert.match(lines[1], /^task-b\s+1\s+10\s+0\s+5\s+0ms\s+1\.000000$/);
      assert.match(lines[2], /^task-a\s+2\s+300\s+10\s+100\s+\d+ms\s+0\.750000$/);
      assert.match(lines[3], /^others \(1\)\s+1\s+1\s+0\s+1\s+0\.125000$/);
      assert.match(lines[4], /^-+$/);
      assert.match(lines[5], /^total \(3 groups\)\s+4\s+311\s+10\s+106\s+1\.875000$/);

      const byKey = JSON.parse((await cli(['usage', '--config', file, '--json'])).stdout);
      assert.deepEqual(
        byKey.rows.map((r) => [r.group, r.name, r.requests, r.cost_usd]),
        [
          [second.id, 'ci-bot', 3, 3.125],
          [first.id, 'ci-bot', 2, 0.75],
        ],
      );
      assert.equal(byKey.total.requests, 5);
      assert.equal(byKey.total.cost_usd, 3.875);
    } finally {
      await pg.stop();
    }
  });
});

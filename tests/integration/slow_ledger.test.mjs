// The usage ledger under load, on SQLite and on a real PostgreSQL: 10,000 keyed requests (plain
// and streamed, some cut by the client mid-stream, some failing over from a dead deployment)
// must each leave exactly one ledger row whose tokens and cost match what the mock reported ×
// the configured prices — also when the store goes away mid-run, when the gateway is
// SIGTERMed with requests in flight, and when both happen at once (the journal carries the
// events to the next run).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { BIN, SLOW, sleep, startGateway, startMock } from './lib/harness.mjs';
import { postgresMissing, startPostgres } from './lib/postgres.mjs';

const run = promisify(execFile);
const SCALE = process.env.STRATUS_SANITIZED ? 0.2 : 1;
const N = Math.round(10000 * SCALE); // the main run
const N_TERM = Math.round(2000 * SCALE); // the SIGTERM run
const N_DOWN = Math.round(1000 * SCALE); // the SIGTERM-while-the-store-is-down run
const CONCURRENCY = 32;
const MASTER = 'sk-master-ledger-test-0123456789';
const MOCK_TOKENS = 12;
// $ per 1M tokens, per alias: the deployment that answers. "failover"'s first deployment (dead)
// has another price, so a cost priced at the wrong deployment shows.
const PRICE = {
  fast: { input: 2, output: 8 },
  failover: { input: 3, output: 15 },
  slow: { input: 1, output: 4 },
};
const DEAD_PRICE = { input: 1000, output: 1000 };
const costOf = (alias, u) => (u.prompt_tokens * PRICE[alias].input + u.completion_tokens * PRICE[alias].output) / 1e6;
async function sqliteMissing() {
  try {
    await run('sqlite3', ['-version']);
    return false;
  } catch {
    return 'sqlite3 CLI not found';
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function config({ storeURL, journal, fast, slow, dead }) {
  const dep = (provider, model, p) => `{provider: ${provider}, model: ${model}, price: {input: ${p.input}, output: ${p.output}}}`;
  return `server:
  listen: "127.0.0.1:0"
  access_log: "off"
auth:
  master_key: ${MASTER}
store:
  url: "${storeURL}"
  journal: "${journal}"
teams:
  - {name: alpha}
  - {name: beta}
providers:
  - {name: live, type: openai, base_url: "${fast}"}
  - {name: paced, type: openai, base_url: "${slow}"}
  - {name: dead, type: openai, base_url: "${dead}"}
models:
  - name: fast
    deployments: [${dep('live', 'm-fast', PRICE.fast)}]
  - name: failover
    deployments: [${dep('dead', 'm-dead', DEAD_PRICE)}, ${dep('live', 'm-failover', PRICE.failover)}]
  - name: slow
    deployments: [${dep('paced', 'm-slow', PRICE.slow)}]
`;
}

// ---- one request, as the client saw it ----

const VARIANTS = 7; // prompt lengths: the mock's prompt count depends only on the variant
const content = (i) => `Please answer request kind ${i % VARIANTS}: ` + 'lorem ipsum dolor '.repeat(i % VARIANTS);
const maxTokens = (i) => 1 + (i % MOCK_TOKENS);

// What request i is: alias, streamed or not, asks for usage in the stream, cut by the client.
function shape(i) {
  const r = i % 20;
  if (r === 19) return { alias: 'slow', stream: true, usage: true, abort: true };
  if (r === 16) return { alias: 'slow', stream: true, usage: true, abort: false }; // long: in flight at SIGTERM
  if (r === 17 || r === 18) return { alias: 'failover', stream: r === 18, usage: true, abort: false };
  if (r >= 12) return { alias: 'fast', stream: true, usage: r % 2 === 0, abort: false };
  return { alias: 'fast', stream: false, usage: true, abort: false };
}

// Parses SSE text into the JSON chunks (no [DONE]).
function sseChunks(text) {
  const out = [];
  for (const ev of text.split('\n\n')) {
    for (const line of ev.split('\n')) {
      if (!line.startsWith('data:')) continue;
      const d = line.slice(5).trim();
      if (d && d !== '[DONE]') out.push(JSON.parse(d));
    }
  }
  return out;
}

// Sends request `i` with `key` and id `rid`; never throws. The record:
// { rid, i, key, alias, stream, abort, status (0: no answer), usage (what the client saw, or
//   null), cost (x-stratus-cost-usd), done (an answer came), error }.
async function send(gw, key, rid, i) {
  const s = shape(i);
  const rec = { rid, i, key: key.id, ...s, status: 0, usage: null, variant: i % VARIANTS, error: null, done: false };
  const body = {
    model: s.alias,
    messages: [{ role: 'user', content: content(i) }],
    max_tokens: maxTokens(i),
    ...(s.stream ? { stream: true, ...(s.usage ? { stream_options: { include_usage: true } } : {}) } : {}),
  };
  const ac = new AbortController();
  rec.t0 = performance.now();
  try {
    const r = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      // The gateway's ledger keeps its own request id (a client's x-request-id may repeat), so
      // each request is its own agent task: the ledger's task_id ties a row to its request.
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key.key}`, 'x-request-id': rid, 'x-stratus-task-id': rid },
      body: JSON.stringify(body),
      signal: ac.signal,
    });
    rec.status = r.status;
    rec.ms = performance.now() - rec.t0; // until the answer's headers
    rec.cost = r.headers.get('x-stratus-cost-usd');
    if (s.abort && r.status === 200) {
      const reader = r.body.getReader();
      await reader.read(); // the first bytes, then hang up
      ac.abort();
      rec.done = true;
      return rec;
    }
    const text = await r.text();
    if (r.status !== 200) {
      rec.error = text;
      rec.done = true;
      return rec;
    }
    if (s.stream) {
      const chunks = sseChunks(text);
      rec.usage = chunks.find((c) => c.usage)?.usage ?? null;
      if (!text.includes('data: [DONE]')) rec.error = 'stream without [DONE]';
    } else {
      rec.usage = JSON.parse(text).usage;
    }
    rec.done = true;
  } catch (e) {
    rec.error = String(e?.cause?.code ?? e);
  }
  return rec;
}

// Sends requests first..first+n-1 with `concurrency` in flight; `onProgress(sent)` is called
// after each one starts. Resolves to the records in order.
async function load(gw, keys, prefix, n, { first = 0, onProgress = () => {} } = {}) {
  const recs = new Array(n);
  let next = 0;
  const workers = Array.from({ length: CONCURRENCY }, async () => {
    while (next < n) {
      const j = next++;
      const i = first + j;
      const s = shape(i);
      // The cut streams have their own key, so the other keys' sums are exact.
      const key = s.abort ? keys.abort : i % 3 === 0 ? keys.beta : keys.alpha;
      onProgress(j + 1);
      recs[j] = await send(gw, key, `${prefix}-${i}`, i);
    }
  });
  await Promise.all(workers);
  return recs.filter(Boolean);
}

// Fills in the usage the client could not see (streams without include_usage): the mock's
// prompt count depends only on the prompt variant, learned from the answers that showed it, and
// its completion is min(its length, max_tokens) — checked on every answer that showed usage.
function completeUsage(recs, promptOf) {
  for (const r of recs) {
    if (r.status !== 200 || r.abort || !r.done || !r.usage) continue;
    assert.equal(r.usage.completion_tokens, Math.min(MOCK_TOKENS, maxTokens(r.i)), `completion tokens of ${r.rid}`);
    const known = promptOf.get(r.variant);
    if (known !== undefined) assert.equal(r.usage.prompt_tokens, known, `prompt tokens of ${r.rid}`);
    promptOf.set(r.variant, r.usage.prompt_tokens);
  }
  for (const r of recs) {
    if (r.status !== 200 || r.abort || !r.done || r.usage) continue;
    const p = promptOf.get(r.variant);
    if (p !== undefined) r.usage = { prompt_tokens: p, completion_tokens: Math.min(MOCK_TOKENS, maxTokens(r.i)), derived: true };
  }
}

// ---- the stores ----

// SQLite: read with the sqlite3 CLI; "down" = another process holds an exclusive lock (writers
// get SQLITE_BUSY once the gateway's busy timeout passes).
async function sqliteStore() {
  const dir = mkdtempSync(join(tmpdir(), 'stratus-ledger-'));
  const db = join(dir, 'ledger.db');
  let holder = null;
  return {
    name: 'sqlite',
    url: `sqlite://${db}`,
    journal: join(dir, 'ledger.journal'),
    rows: async (sql) => {
      const { stdout } = await run('sqlite3', ['-json', '-cmd', '.timeout 10000', db, sql], { maxBuffer: 256 << 20 });
      return stdout.trim() ? JSON.parse(stdout) : [];
    },
    down: async () => {
      holder = spawn('sqlite3', [db], { stdio: ['pipe', 'ignore', 'inherit'] });
      holder.stdin.write('.timeout 10000\nBEGIN EXCLUSIVE;\nSELECT 1;\n');
      await sleep(300);
    },
    up: async () => {
      const h = holder;
      holder = null;
      h.stdin.end('COMMIT;\n.quit\n');
      await new Promise((r) => h.on('exit', r));
    },
    outageMs: 7000, // longer than the gateway's 5 s busy timeout
    stop: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function postgresStore() {
  const pg = await startPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'stratus-ledger-pg-'));
  return {
    name: 'postgres',
    url: pg.url,
    journal: join(dir, 'ledger.journal'),
    // psql -At: one line per row, columns separated by '|'; the columns are named in the SELECT.
    rows: async (sql) => {
      const cols = sql
        .slice(sql.indexOf('SELECT') + 6, sql.indexOf(' FROM '))
        .split(',')
        .map((c) => c.trim().split(/\s+/).pop());
      const text = await pg.query(sql);
      if (!text) return [];
      return text.split('\n').map((line) => {
        const v = line.split('|');
        return Object.fromEntries(cols.map((c, k) => [c, /^-?\d+(\.\d+)?(e[-+]?\d+)?$/i.test(v[k]) ? Number(v[k]) : v[k]]));
      });
    },
    down: () => pg.pause(),
    up: () => pg.resume(),
    outageMs: 3000,
    stop: async () => {
      await pg.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const LEDGER_COLUMNS = 'SELECT task_id AS rid, key_id, alias, provider, status, attempts, prompt_tokens, completion_tokens, cost_usd FROM ledger';

async function admin(gw, method, path, payload) {
  const r = await fetch(`${gw.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${MASTER}` },
    body: payload ? JSON.stringify(payload) : undefined,
  });
  const text = await r.text();
  assert.equal(r.status, 200, `${method} ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

// POST /admin/flush until the writer is back on the store with nothing left in memory or in the
// journal (a flush while the store is still down journals and returns; the writer retries the
// store every 500 ms). The stats of the last flush, with wait_ms: how long that took.
async function flushToStore(gw) {
  const t0 = Date.now();
  let stats;
  for (;;) {
    stats = await admin(gw, 'POST', '/admin/flush');
    if ((stats.store_up && !stats.in_journal && !stats.pending) || Date.now() - t0 > 15000 * SLOW) break;
    await sleep(50);
  }
  return { ...stats, wait_ms: Date.now() - t0 };
}

// Every record that got an answer has its ledger row with the tokens the mock reported and
// the cost at the serving deployment's price. Returns the rows by request id.
function checkRows(store, recs, rows, what) {
  const byId = new Map(rows.map((r) => [r.rid, r]));
  let missing = [];
  let tokens = { prompt: 0, completion: 0, cost: 0 };
  let want = { prompt: 0, completion: 0, cost: 0 };
  for (const rec of recs) {
    if (!rec.done) continue; // no answer: may or may not be in the ledger
    const row = byId.get(rec.rid);
    if (!row) {
      missing.push(rec.rid);
      continue;
    }
    if (rec.abort) continue; // the gateway may record a cut stream as 499
    assert.equal(row.status, rec.status, `${what}: status of ${rec.rid}`);
    if (rec.status !== 200) continue;
    assert.ok(rec.usage, `${what}: no usage known for ${rec.rid} (${JSON.stringify(rec)})`);
    assert.equal(row.prompt_tokens, rec.usage.prompt_tokens, `${what}: prompt tokens of ${rec.rid}`);
    assert.equal(row.completion_tokens, rec.usage.completion_tokens, `${what}: completion tokens of ${rec.rid}`);
    const c = costOf(rec.alias, rec.usage);
    assert.ok(Math.abs(row.cost_usd - c) <= 1e-12, `${what}: cost of ${rec.rid}: ledger ${row.cost_usd}, want ${c}`);
    if (rec.cost != null) assert.ok(Math.abs(Number(rec.cost) - c) <= 1e-12, `${what}: x-stratus-cost-usd of ${rec.rid}: ${rec.cost}, want ${c}`);
    if (rec.alias === 'failover') assert.equal(row.provider, 'live', `${what}: ${rec.rid} served by ${row.provider}`);
    tokens.prompt += row.prompt_tokens;
    tokens.completion += row.completion_tokens;
    tokens.cost += row.cost_usd;
    want.prompt += rec.usage.prompt_tokens;
    want.completion += rec.usage.completion_tokens;
    want.cost += c;
  }
  assert.deepEqual(missing.slice(0, 10), [], `${what}: ${missing.length} answered requests have no ledger row (${store.name})`);
  assert.equal(tokens.prompt, want.prompt);
  assert.equal(tokens.completion, want.completion);
  assert.ok(Math.abs(tokens.cost - want.cost) < 1e-9, `${what}: ledger $${tokens.cost}, mocks × prices $${want.cost}`);
  return { byId, want };
}

for (const kind of ['sqlite', 'postgres']) {
  const skip = kind === 'postgres' ? postgresMissing() : false;
  describe(`ledger on ${kind}`, { skip }, () => {
    let store;
    let fast;
    let slow;
    let deadURL;
    let yamlText;
    let gw;
    let keys;
    const promptOf = new Map();
    const all = []; // every record of every phase

    const startGw = () => startGateway(yamlText);

    before(async () => {
      if (kind === 'sqlite') assert.equal(await sqliteMissing(), false, 'the sqlite3 CLI is needed to read the ledger');
      store = kind === 'sqlite' ? await sqliteStore() : await postgresStore();
      [fast, slow] = await Promise.all([
        startMock(['--tokens', String(MOCK_TOKENS)]),
        startMock(['--tokens', String(MOCK_TOKENS), '--tokens-per-sec', '50']),
      ]);
      deadURL = `http://127.0.0.1:${await freePort()}/v1`;
      yamlText = config({ storeURL: store.url, journal: store.journal, fast: fast.baseURL, slow: slow.baseURL, dead: deadURL });
      gw = await startGw();
      const mk = (name, team) => admin(gw, 'POST', '/admin/keys', { name, ...(team ? { team } : {}) });
      keys = { alpha: await mk('alpha-key', 'alpha'), beta: await mk('beta-key', 'beta'), abort: await mk('abort-key') };
    });

    after(async () => {
      await Promise.all([gw?.stop('SIGKILL'), fast?.stop(), slow?.stop()]);
      await store?.stop();
    });

    test(`${N} requests with a store outage mid-run: one row each, tokens and cost exact`, { timeout: 240000 * SLOW }, async (t) => {
      let outage = null;
      const window = {};
      const t0 = Date.now();
      const recs = await load(gw, keys, `main`, N, {
        onProgress: (sent) => {
          if (sent === Math.round(N * 0.3)) {
            outage = (async () => {
              await store.down();
              window.from = performance.now();
              await sleep(store.outageMs);
              window.to = performance.now();
              await store.up();
            })();
          }
        },
      });
      await outage;
      const seconds = (Date.now() - t0) / 1000;
      all.push(...recs);
      assert.equal(recs.length, N);
      const bad = recs.filter((r) => r.status !== 200 || r.error);
      assert.deepEqual(
        bad.slice(0, 5).map((r) => ({ rid: r.rid, status: r.status, error: r.error })),
        [],
        `${bad.length} of ${N} requests failed (${seconds.toFixed(1)} s)`,
      );
      assert.ok(recs.filter((r) => r.abort).length >= N / 25, 'too few cut streams');
      // Writing the ledger never blocks a worker: plain answers are as quick while the store is
      // down (the SQLite writer waits out a 5 s busy timeout per attempt) as before and after.
      const plain = recs.filter((r) => r.alias === 'fast' && !r.stream);
      const during = plain.filter((r) => r.t0 >= window.from && r.t0 + r.ms <= window.to).map((r) => r.ms);
      const outside = plain.filter((r) => r.t0 + r.ms < window.from || r.t0 > window.to).map((r) => r.ms);
      const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)];
      const lat = { during: during.length, p50: pct(during, 0.5), p99: pct(during, 0.99), outside: outside.length, p50_out: pct(outside, 0.5), p99_out: pct(outside, 0.99) };
      assert.ok(during.length > 100, `too few requests while the store was down: ${JSON.stringify(lat)}`);
      assert.ok(lat.p99 < 1000 * SLOW && lat.p50 < 5 * lat.p50_out + 50, `answers slowed down while the store was down: ${JSON.stringify(lat)}`);

      const stats = await flushToStore(gw);
      assert.ok(stats.wait_ms < 5000 * SLOW, `the ledger was back on the store only ${stats.wait_ms} ms after the store: ${JSON.stringify(stats)}`);
      // The outage was real: events went to the journal (or waited) and came back.
      assert.ok(
        stats.journaled > 0 && stats.replayed === stats.journaled,
        `no sign of the store outage in the flush stats: ${JSON.stringify(stats)}`,
      );
      assert.equal(stats.pending, 0, JSON.stringify(stats));
      assert.equal(stats.in_journal, 0, JSON.stringify(stats));
      assert.equal(stats.dropped, 0, JSON.stringify(stats));
      assert.equal(stats.submitted, N, JSON.stringify(stats));
      // libpq (and the GnuTLS, Kerberos and LDAP libraries it links) is loaded only by a
      // gateway whose store is PostgreSQL, which then wrote through it.
      const maps = readFileSync(`/proc/${gw.proc.pid}/maps`, 'utf8');
      assert.equal(maps.includes('/libpq.so'), kind === 'postgres', `libpq mapped in a gateway on ${kind}`);
      assert.equal(maps.includes('/libgnutls.so'), kind === 'postgres', `GnuTLS mapped in a gateway on ${kind}`);

      completeUsage(recs, promptOf);
      const rows = await store.rows(`${LEDGER_COLUMNS} WHERE task_id LIKE 'main-%'`);
      assert.equal(rows.length, N, `${rows.length} ledger rows for ${N} requests`);
      const [{ n: total }] = await store.rows(`SELECT count(*) AS n FROM ledger`);
      assert.equal(Number(total), N, 'rows other than these requests (or duplicates)');
      const { want } = checkRows(store, recs, rows, 'main run');

      // Each key's sums in the usage report equal what its requests were answered.
      const usage = await admin(gw, 'GET', '/admin/usage?group_by=key&since=1d');
      for (const k of [keys.alpha, keys.beta]) {
        const mine = recs.filter((r) => r.key === k.id);
        const row = usage.rows.find((x) => x.group === k.id);
        assert.ok(row, JSON.stringify(usage));
        assert.equal(row.requests, mine.length);
        assert.equal(row.prompt_tokens, mine.reduce((s, r) => s + r.usage.prompt_tokens, 0));
        assert.equal(row.completion_tokens, mine.reduce((s, r) => s + r.usage.completion_tokens, 0));
        const c = mine.reduce((s, r) => s + costOf(r.alias, r.usage), 0);
        assert.ok(Math.abs(row.cost_usd - c) < 1e-9, `${k.id}: report $${row.cost_usd}, want $${c}`);
      }
      const abortRow = usage.rows.find((x) => x.group === keys.abort.id);
      assert.equal(abortRow?.requests, recs.filter((r) => r.abort).length, 'cut streams in the report');
      // Fail-over: every failover request was served by the live deployment, some after a retry.
      const fo = rows.filter((r) => r.alias === 'failover');
      assert.ok(fo.length > 0 && fo.some((r) => r.attempts >= 2), 'no fail-over attempts recorded');
      const cut = {};
      for (const r of rows.filter((x) => x.key_id === keys.abort.id)) cut[r.status] = (cut[r.status] ?? 0) + 1;
      t.diagnostic(
        `${N} requests in ${seconds.toFixed(1)} s (${Math.round(N / seconds)}/s), store down ${store.outageMs} ms; ` +
          `flush stats ${JSON.stringify(stats)}; cut streams recorded with statuses ${JSON.stringify(cut)}; ` +
          `latency ms of plain answers while the store was down / otherwise: p50 ${lat.p50.toFixed(1)} / ${lat.p50_out.toFixed(1)}, ` +
          `p99 ${lat.p99.toFixed(1)} / ${lat.p99_out.toFixed(1)}`,
      );
      // The CLI reads the same store.
      const cli = await run(BIN, ['usage', '--config', gw.configFile, '--by', 'key', '--since', '1d', '--json']);
      const cliOut = JSON.parse(cli.stdout);
      assert.equal(cliOut.total?.requests, N, `stratus usage total: ${JSON.stringify(cliOut.total)}`);
      const cliRows = cliOut.rows;
      const cliAlpha = cliRows.find((x) => x.group === keys.alpha.id);
      assert.equal(cliAlpha?.requests, recs.filter((r) => r.key === keys.alpha.id).length, cli.stdout.slice(0, 500));
      const cliSum = cliRows.reduce((s, x) => s + (x.group === keys.abort.id ? 0 : x.cost_usd), 0);
      assert.ok(Math.abs(cliSum - want.cost) < 1e-8, `stratus usage says $${cliSum}, want $${want.cost}`);
    });

    test(`SIGTERM with ${CONCURRENCY} requests in flight: every answered request is in the store`, { timeout: 120000 * SLOW }, async (t) => {
      let killed = null;
      const recs = await load(gw, keys, 'term', N_TERM, {
        first: N,
        onProgress: (sent) => {
          if (sent === Math.round(N_TERM * 0.4)) killed = gw.stop('SIGTERM');
        },
      });
      const exit = await killed;
      all.push(...recs);
      assert.equal(exit.code, 0, `gateway exit after SIGTERM: ${JSON.stringify(exit)}\n${gw.out.stderr.slice(-2000)}`);
      const answered = recs.filter((r) => r.done);
      assert.ok(answered.length >= N_TERM * 0.3, `only ${answered.length} answered before the SIGTERM`);
      const statuses = {};
      for (const r of answered) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      completeUsage(recs, promptOf);
      // Straight from the database, with the gateway gone.
      const rows = await store.rows(`${LEDGER_COLUMNS} WHERE task_id LIKE 'term-%'`);
      checkRows(store, recs, rows, 'SIGTERM run');
      const sentIds = new Set(recs.map((r) => r.rid));
      assert.deepEqual(rows.filter((r) => !sentIds.has(r.rid)).slice(0, 3), [], 'rows for requests never sent');
      t.diagnostic(`SIGTERM after ${Math.round(N_TERM * 0.4)} sent: ${answered.length} answered (statuses ${JSON.stringify(statuses)}), ${rows.length} rows`);
    });

    test(`SIGTERM while the store is down: the journal carries every event to the next run`, { timeout: 120000 * SLOW }, async () => {
      gw = await startGw(); // the same store: the keys made by the first gateway still work
      await store.down();
      let recs;
      let exit;
      try {
        recs = await load(gw, keys, 'down', N_DOWN, { first: N + N_TERM });
        exit = await gw.stop('SIGTERM');
      } finally {
        await store.up();
      }
      all.push(...recs);
      assert.equal(exit.code, 0, `gateway exit after SIGTERM: ${JSON.stringify(exit)}\n${gw.out.stderr.slice(-2000)}`);
      const bad = recs.filter((r) => r.status !== 200 || r.error);
      assert.deepEqual(bad.slice(0, 3), [], `${bad.length} of ${N_DOWN} failed while the store was down`);
      gw = await startGw(); // replays the journal left by the previous run
      const stats = await flushToStore(gw);
      assert.equal(stats.in_journal, 0, JSON.stringify(stats));
      completeUsage(recs, promptOf);
      const rows = await store.rows(`${LEDGER_COLUMNS} WHERE task_id LIKE 'down-%'`);
      assert.equal(rows.length, N_DOWN, `${rows.length} rows for ${N_DOWN} requests; flush stats ${JSON.stringify(stats)}`);
      checkRows(store, recs, rows, 'store-down run');

      // Nothing lost, nothing twice, over the whole run.
      const [{ n, d, t }] = await store.rows(`SELECT count(*) AS n, count(DISTINCT request_id) AS d, count(DISTINCT task_id) AS t FROM ledger`);
      const answered = all.filter((r) => r.done).length;
      assert.equal(Number(n), Number(d), 'duplicate request ids');
      assert.equal(Number(n), Number(t), 'two rows for one request');
      assert.ok(Number(n) >= answered && Number(n) <= all.length, `${n} rows, ${answered} answered of ${all.length} sent`);
    });
  });
}

// Governance through real processes: virtual keys made with the admin API (and revoked by the
// CLI from another process), model allow-lists, RPM/TPM limits exact under concurrency, $
// budgets, agent-task limits, per-answer cost, and the usage report — on a SQLite store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { BIN, SLOW, sleep, startGateway, startMock } from './lib/harness.mjs';

const run = promisify(execFile);
const MASTER = 'sk-master-governance-test-0123456789';
const MOCK_TOKENS = 10; // the mock's completion length
// $ per 1M tokens. "pricey" costs $0.5 a token so that budgets are hit in a few requests and
// every cost is exact in binary floating point.
const PRICE = {
  small: { input: 2, output: 8 },
  other: { input: 3, output: 12 },
  pricey: { input: 500000, output: 500000 },
  limited: { input: 2, output: 8 },
};
const cost = (model, u) => (u.prompt_tokens * PRICE[model].input + u.completion_tokens * PRICE[model].output) / 1e6;

function config(mockURL, dbPath) {
  const dep = (model) =>
    `{provider: cloud, model: up-${model}, price: {input: ${PRICE[model].input}, cached_input: ${PRICE[model].input}, output: ${PRICE[model].output}}}`;
  return `server:
  listen: "127.0.0.1:0"
auth:
  master_key: ${MASTER}
store:
  url: sqlite://${dbPath}
teams:
  - {name: squad, rpm: 5}
  - {name: spenders, budget_usd: 50, budget_period: day}
providers:
  - name: cloud
    type: openai
    base_url: ${mockURL}
models:
  - name: small
    deployments: [${dep('small')}]
  - name: other
    deployments: [${dep('other')}]
  - name: pricey
    deployments: [${dep('pricey')}]
  - name: limited
    limits: {rpm: 3}
    deployments: [${dep('limited')}]
`;
}

const body = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: 'Say hello' }], ...extra });

describe('governance: keys, limits, budgets, tasks, cost and usage', () => {
  let mock;
  let gw;
  let dbPath;
  // Every request sent with each key id, for the usage report check at the end:
  // { requests, prompt_tokens, completion_tokens, cost_usd, unauthorized }.
  const sent = new Map();
  const keysMade = new Map(); // name → {key, id, ...} as POST /admin/keys answered
  const tally = (id) => {
    if (!sent.has(id)) sent.set(id, { requests: 0, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0, unauthorized: 0 });
    return sent.get(id);
  };

  // POST /v1/chat/completions with `key` (a {key,id} record, or a raw secret string, or null);
  // resolves to { status, headers, json, ms }.
  async function chat(key, payload, headers = {}) {
    const h = { 'content-type': 'application/json', ...headers };
    const secret = typeof key === 'string' ? key : key?.key;
    if (secret) h.authorization = `Bearer ${secret}`;
    const t0 = Date.now();
    const r = await fetch(`${gw.baseURL}/chat/completions`, { method: 'POST', headers: h, body: JSON.stringify(payload) });
    const text = await r.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = { unparsed: text };
    }
    if (key?.id) {
      const t = tally(key.id);
      t.requests++;
      if (r.status === 401) t.unauthorized++;
      if (r.status === 200) {
        t.prompt_tokens += json.usage.prompt_tokens;
        t.completion_tokens += json.usage.completion_tokens;
        t.cost_usd += Number(r.headers.get('x-stratus-cost-usd'));
      }
    }
    return { status: r.status, headers: r.headers, json, ms: Date.now() - t0 };
  }

  async function admin(method, path, payload, auth = MASTER) {
    const h = { 'content-type': 'application/json' };
    if (auth) h.authorization = `Bearer ${auth}`;
    const r = await fetch(`${gw.url}${path}`, { method, headers: h, body: payload ? JSON.stringify(payload) : undefined });
    const text = await r.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = { unparsed: text };
    }
    return { status: r.status, json };
  }

  async function createKey(fields) {
    const r = await admin('POST', '/admin/keys', fields);
    assert.equal(r.status, 200, `POST /admin/keys ${JSON.stringify(fields)}: ${JSON.stringify(r.json)}`);
    assert.match(r.json.key, /^sk-stratus-/, JSON.stringify(r.json));
    assert.equal(typeof r.json.id, 'string');
    keysMade.set(fields.name, r.json);
    return r.json;
  }

  function assertError(r, status, code, what) {
    assert.equal(r.status, status, `${what}: ${JSON.stringify(r.json)}`);
    assert.equal(typeof r.json.error?.message, 'string', `${what}: not an OpenAI error: ${JSON.stringify(r.json)}`);
    assert.equal(typeof r.json.error.type, 'string', `${what}: no error.type`);
    assert.equal(r.json.error.code, code, `${what}: ${JSON.stringify(r.json)}`);
  }

  before(async () => {
    mock = await startMock(['--tokens', String(MOCK_TOKENS)]);
    dbPath = join(mkdtempSync(join(tmpdir(), 'stratus-gov-')), 'gov.db');
    gw = await startGateway(config(mock.baseURL, dbPath));
  });

  after(async () => {
    await Promise.all([gw?.stop(), mock?.stop()]);
    if (dbPath) rmSync(join(dbPath, '..'), { recursive: true, force: true });
  });

  test('a request without a key, or with an unknown one, gets 401 invalid_api_key in OpenAI shape', async () => {
    assertError(await chat(null, body('small')), 401, 'invalid_api_key', 'no key');
    assertError(await chat('sk-stratus-not-a-real-key', body('small')), 401, 'invalid_api_key', 'unknown key');
    const client = new OpenAI({ apiKey: 'sk-stratus-wrong', baseURL: gw.baseURL, maxRetries: 0 });
    await assert.rejects(client.chat.completions.create(body('small')), (e) => {
      assert.ok(e instanceof OpenAI.AuthenticationError, `${e}`);
      assert.equal(e.status, 401);
      assert.equal(e.code, 'invalid_api_key');
      return true;
    });
  });

  test('a created key works through the SDK (Bearer and x-api-key); the master key works too', async () => {
    const k = await createKey({ name: 'sdk-user' });
    const client = new OpenAI({ apiKey: k.key, baseURL: gw.baseURL, maxRetries: 0 });
    const { data, response } = await client.chat.completions.create(body('small')).withResponse();
    assert.equal(response.status, 200);
    assert.equal(data.usage.completion_tokens, MOCK_TOKENS);
    const t = tally(k.id);
    t.requests++;
    t.prompt_tokens += data.usage.prompt_tokens;
    t.completion_tokens += data.usage.completion_tokens;
    t.cost_usd += Number(response.headers.get('x-stratus-cost-usd'));

    const viaHeader = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': k.key },
      body: JSON.stringify(body('small')),
    });
    const j = await viaHeader.json();
    assert.equal(viaHeader.status, 200, JSON.stringify(j));
    t.requests++;
    t.prompt_tokens += j.usage.prompt_tokens;
    t.completion_tokens += j.usage.completion_tokens;
    t.cost_usd += Number(viaHeader.headers.get('x-stratus-cost-usd'));

    const m = await chat(MASTER, body('small'));
    assert.equal(m.status, 200, JSON.stringify(m.json));

    // The list never shows a secret.
    const list = await admin('GET', '/admin/keys');
    assert.equal(list.status, 200);
    const rec = list.json.keys.find((x) => x.id === k.id);
    assert.ok(rec, JSON.stringify(list.json));
    assert.equal(rec.name, 'sdk-user');
    assert.ok(!JSON.stringify(list.json).includes(k.key), 'GET /admin/keys shows a secret');
    assert.ok(!JSON.stringify(list.json).includes('sk-stratus-'), 'GET /admin/keys shows a secret');
  });

  test('/admin/* without the master key (or with a virtual key) is 401', async () => {
    const k = await createKey({ name: 'not-admin' });
    for (const [method, path] of [
      ['GET', '/admin/keys'],
      ['POST', '/admin/keys'],
      ['GET', '/admin/usage?group_by=key'],
      ['DELETE', `/admin/keys/${k.id}`],
      ['POST', '/admin/flush'],
      ['GET', '/admin/tasks/anything'],
    ]) {
      for (const auth of [null, 'sk-wrong-master-key-0123456789', k.key]) {
        const r = await admin(method, path, method === 'POST' ? { name: 'x' } : undefined, auth);
        assert.equal(r.status, 401, `${method} ${path} with ${auth ? 'a wrong key' : 'no key'}: ${JSON.stringify(r.json)}`);
        assert.equal(typeof r.json.error?.message, 'string', `${method} ${path}: ${JSON.stringify(r.json)}`);
      }
    }
    // The key was not revoked by the refused DELETE.
    assert.equal((await chat(k, body('small'))).status, 200);
  });

  test('a key on a model it may not use gets 403 model_not_allowed', async () => {
    const k = await createKey({ name: 'only-small', models: ['small'] });
    assert.equal((await chat(k, body('small'))).status, 200);
    assertError(await chat(k, body('other')), 403, 'model_not_allowed', 'other model');
    const client = new OpenAI({ apiKey: k.key, baseURL: gw.baseURL, maxRetries: 0 });
    await assert.rejects(client.chat.completions.create(body('other')), (e) => {
      assert.ok(e instanceof OpenAI.PermissionDeniedError, `${e}`);
      assert.equal(e.code, 'model_not_allowed');
      return true;
    });
    tally(k.id).requests++;
  });

  test('RPM 60 under 100 concurrent requests: exactly 60 pass, 40 get 429 with x-ratelimit-* and retry-after', async (t) => {
    const k = await createKey({ name: 'rpm60', rpm: 60 });
    const t0 = Date.now();
    const results = await Promise.all(Array.from({ length: 100 }, () => chat(k, body('small'))));
    const burstMs = Date.now() - t0;
    const ok = results.filter((r) => r.status === 200);
    const limited = results.filter((r) => r.status === 429);
    assert.equal(ok.length + limited.length, 100, `statuses: ${JSON.stringify(results.map((r) => r.status))}`);
    // The bucket refills at 1 request a second: a burst slower than 1 s (sanitized builds) may
    // see one more pass per second it took; a normal burst takes a fraction of a second.
    const refill = Math.floor(burstMs / 1000);
    if (refill === 0) assert.deepEqual({ ok: ok.length, limited: limited.length }, { ok: 60, limited: 40 }, `statuses: ${JSON.stringify(results.map((r) => r.status))}`);
    else assert.ok(ok.length >= 60 && ok.length <= 60 + refill, `${ok.length} passed in a ${burstMs} ms burst`);
    t.diagnostic(`${ok.length} of 100 passed, ${limited.length} refused, burst ${burstMs} ms`);
    for (const r of limited) {
      assertError(r, 429, 'rate_limit_exceeded', 'over RPM');
      assert.equal(r.headers.get('x-ratelimit-limit-requests'), '60');
      assert.equal(r.headers.get('x-ratelimit-remaining-requests'), '0');
      assert.ok(r.headers.get('x-ratelimit-reset-requests'), 'no x-ratelimit-reset-requests');
      const ra = Number(r.headers.get('retry-after'));
      assert.ok(Number.isInteger(ra) && ra >= 1 && ra <= 60, `retry-after ${r.headers.get('retry-after')}`);
    }
    // Each admitted request took one request from the bucket: remaining 59, 58, ..., 0 once each.
    const remaining = ok.map((r) => Number(r.headers.get('x-ratelimit-remaining-requests'))).sort((a, b) => a - b);
    if (refill === 0) assert.deepEqual(remaining, Array.from({ length: 60 }, (_, i) => i), 'x-ratelimit-remaining-requests on the 60 answers');
    else assert.ok(remaining.every((v) => v >= 0 && v <= 59), `x-ratelimit-remaining-requests: ${remaining}`);
    for (const r of ok) assert.equal(r.headers.get('x-ratelimit-limit-requests'), '60');
  });

  test('x-ratelimit-remaining-requests decreases on sequential answers', async () => {
    const k = await createKey({ name: 'rpm10', rpm: 10 });
    const seen = [];
    for (let i = 0; i < 4; i++) {
      const r = await chat(k, body('small'));
      assert.equal(r.status, 200, JSON.stringify(r.json));
      seen.push(Number(r.headers.get('x-ratelimit-remaining-requests')));
    }
    assert.deepEqual(seen, [9, 8, 7, 6]);
  });

  test('a team RPM is shared by its keys; an alias RPM applies to the master key too', async () => {
    const a = await createKey({ name: 'squad-a', team: 'squad' });
    const b = await createKey({ name: 'squad-b', team: 'squad' });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => chat(i % 2 ? a : b, body('small'))));
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 5, `team rpm 5: ${statuses}`);
    for (const r of results.filter((x) => x.status !== 200)) assertError(r, 429, 'rate_limit_exceeded', 'team rpm');

    const m = [];
    for (let i = 0; i < 4; i++) m.push(await chat(MASTER, body('limited')));
    assert.deepEqual(
      m.map((r) => r.status),
      [200, 200, 200, 429],
      `alias rpm 3: ${JSON.stringify(m.map((r) => r.json))}`,
    );
    assertError(m[3], 429, 'rate_limit_exceeded', 'alias rpm');
  });

  test('TPM: a small tokens-per-minute limit refuses once used up, with the -tokens headers', async (t) => {
    const tpm = 200;
    const k = await createKey({ name: 'tpm200', tpm });
    const t0 = Date.now();
    let used = 0;
    let perRequest = 0;
    let refused;
    for (let i = 0; i < 40 && !refused; i++) {
      const r = await chat(k, body('small', { max_tokens: MOCK_TOKENS }));
      if (r.status === 200) {
        used += r.json.usage.total_tokens;
        perRequest = Math.max(perRequest, r.json.usage.total_tokens);
        assert.equal(r.headers.get('x-ratelimit-limit-tokens'), String(tpm));
      } else refused = r;
    }
    assert.ok(refused, `never refused after ${used} tokens with tpm ${tpm}`);
    assertError(refused, 429, 'rate_limit_exceeded', 'over TPM');
    assert.equal(refused.headers.get('x-ratelimit-limit-tokens'), String(tpm));
    assert.ok(refused.headers.get('x-ratelimit-remaining-tokens') != null, 'no x-ratelimit-remaining-tokens');
    assert.ok(refused.headers.get('x-ratelimit-reset-tokens'), 'no x-ratelimit-reset-tokens');
    assert.ok(Number(refused.headers.get('retry-after')) >= 1, `retry-after ${refused.headers.get('retry-after')}`);
    // Refill during the test: tpm/60 per second.
    const refill = Math.ceil((tpm * (Date.now() - t0)) / 60000) + 1;
    assert.ok(used <= tpm + perRequest + refill, `used ${used} tokens with tpm ${tpm} (${perRequest} per request)`);
    assert.ok(used >= tpm - perRequest, `refused early: used ${used} tokens with tpm ${tpm} (${perRequest} per request)`);
    t.diagnostic(`tpm ${tpm}: ${used} tokens answered before the refusal (${perRequest} per request)`);
  });

  test('x-stratus-cost-usd = prompt × input price + completion × output price', async () => {
    const k = await createKey({ name: 'coster' });
    for (const [model, content, max] of [
      ['small', 'hi', 3],
      ['small', 'a much longer prompt with quite a few more words in it than the other', 10],
      ['other', 'hello there', 7],
      ['pricey', 'x', 2],
    ]) {
      const r = await chat(k, { model, messages: [{ role: 'user', content }], max_tokens: max });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.usage.completion_tokens, max);
      const header = r.headers.get('x-stratus-cost-usd');
      assert.match(header ?? '', /^\d+(\.\d+)?(e-?\d+)?$/i, `x-stratus-cost-usd: ${header}`);
      const want = cost(model, r.json.usage);
      assert.ok(Math.abs(Number(header) - want) <= 1e-9 * Math.max(1, want), `${model}: header ${header}, want ${want}`);
    }
  });

  test('a budget is hit with 429 insufficient_quota and never overshot by more than one request', async (t) => {
    const budget = 200; // $; pricey = $0.5 a token, so ~20 tokens ≈ $10 a request
    const maxTokens = 10;
    const k = await createKey({ name: 'budgeted', budget_usd: budget, budget_period: 'month' });
    const burst = await Promise.all(Array.from({ length: 100 }, () => chat(k, body('pricey', { max_tokens: maxTokens }))));
    const ok = burst.filter((r) => r.status === 200);
    const refused = burst.filter((r) => r.status !== 200);
    assert.ok(ok.length > 0, 'nothing admitted');
    assert.ok(refused.length > 0, 'budget never hit');
    for (const r of refused) assertError(r, 429, 'insufficient_quota', 'over budget');
    // Then one at a time until refused: the budget ends used up to within one request.
    let seq = 0;
    for (; seq < 30; seq++) {
      const r = await chat(k, body('pricey', { max_tokens: maxTokens }));
      if (r.status !== 200) {
        assertError(r, 429, 'insufficient_quota', 'over budget (sequential)');
        break;
      }
      ok.push(r);
    }
    assert.ok(seq < 30, 'sequential requests were never refused');
    const worst = Math.max(...ok.map((r) => cost('pricey', { prompt_tokens: r.json.usage.prompt_tokens, completion_tokens: maxTokens })));
    const spentSeen = ok.reduce((s, r) => s + cost('pricey', r.json.usage), 0);
    const headerSum = ok.reduce((s, r) => s + Number(r.headers.get('x-stratus-cost-usd')), 0);
    assert.ok(Math.abs(spentSeen - headerSum) < 1e-6, `answers say $${headerSum}, usage × price = $${spentSeen}`);
    assert.ok(spentSeen <= budget + worst, `spent $${spentSeen} of a $${budget} budget (one request ≤ $${worst})`);
    assert.ok(spentSeen > budget - worst, `refused early: spent $${spentSeen} of $${budget} (one request ≤ $${worst})`);
    // The ledger agrees.
    assert.equal((await admin('POST', '/admin/flush')).status, 200);
    const usage = await admin('GET', '/admin/usage?group_by=key&since=1d');
    const row = usage.json.rows.find((x) => x.group === k.id);
    assert.ok(row, JSON.stringify(usage.json));
    assert.ok(Math.abs(row.cost_usd - spentSeen) < 1e-6, `ledger $${row.cost_usd}, answers $${spentSeen}`);
    assert.ok(row.cost_usd <= budget + worst, `ledger says $${row.cost_usd} spent of $${budget}`);
    t.diagnostic(`budget $${budget}: ${burst.length - refused.length} of 100 concurrent admitted, ${seq} more one at a time; spent $${row.cost_usd} (one request ≤ $${worst})`);
  });

  test('a budget under 100 concurrent streams: 429 insufficient_quota, the ledger never over by more than one request', async (t) => {
    const budget = 100;
    const maxTokens = 10;
    const k = await createKey({ name: 'budgeted-streams', budget_usd: budget, budget_period: 'day' });
    const tl = tally(k.id);
    const burst = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const r = await fetch(`${gw.baseURL}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${k.key}` },
          body: JSON.stringify(body('pricey', { max_tokens: maxTokens, stream: true, stream_options: { include_usage: true } })),
        });
        const text = await r.text();
        tl.requests++;
        if (r.status !== 200) return { status: r.status, json: JSON.parse(text) };
        const usage = text
          .split('\n')
          .filter((l) => l.startsWith('data: {'))
          .map((l) => JSON.parse(l.slice(6)))
          .find((c) => c.usage)?.usage;
        assert.ok(usage, `a stream without usage: ${text.slice(-300)}`);
        assert.ok(text.includes('data: [DONE]'), `a stream cut short: ${text.slice(-300)}`);
        tl.prompt_tokens += usage.prompt_tokens;
        tl.completion_tokens += usage.completion_tokens;
        tl.cost_usd += cost('pricey', usage);
        return { status: 200, usage };
      }),
    );
    const ok = burst.filter((r) => r.status === 200);
    const refused = burst.filter((r) => r.status !== 200);
    assert.ok(ok.length > 0 && refused.length > 0, `${ok.length} streams admitted of 100`);
    for (const r of refused) assertError(r, 429, 'insufficient_quota', 'stream over budget');
    const worst = Math.max(...ok.map((r) => cost('pricey', { prompt_tokens: r.usage.prompt_tokens, completion_tokens: maxTokens })));
    assert.equal((await admin('POST', '/admin/flush')).status, 200);
    const usage = await admin('GET', '/admin/usage?group_by=key&since=1d');
    const row = usage.json.rows.find((x) => x.group === k.id);
    assert.ok(row, JSON.stringify(usage.json));
    assert.equal(row.requests, 100);
    assert.ok(Math.abs(row.cost_usd - tl.cost_usd) < 1e-6, `ledger $${row.cost_usd}, streams' usage × price $${tl.cost_usd}`);
    assert.ok(row.cost_usd <= budget + worst, `streams spent $${row.cost_usd} of a $${budget} budget (one request ≤ $${worst})`);
    assert.ok(row.cost_usd > budget - worst, `refused early: $${row.cost_usd} of $${budget}`);
    t.diagnostic(`budget $${budget}: ${ok.length} of 100 streams admitted, ledger $${row.cost_usd}`);
  });

  test('a task limit: the 6th call of a 5-call task gets 429 task_budget_exceeded; GET /admin/tasks shows 5 calls', async () => {
    const k = await createKey({ name: 'agent' });
    const task = `task-${Date.now()}`;
    const h = { 'x-stratus-task-id': task, 'x-stratus-task-max-calls': '5' };
    let spent = 0;
    let prompt = 0;
    let completion = 0;
    for (let i = 0; i < 5; i++) {
      const r = await chat(k, body('small', { max_tokens: 4 + i }), h);
      assert.equal(r.status, 200, `call ${i + 1}: ${JSON.stringify(r.json)}`);
      spent += cost('small', r.json.usage);
      prompt += r.json.usage.prompt_tokens;
      completion += r.json.usage.completion_tokens;
    }
    assertError(await chat(k, body('small'), h), 429, 'task_budget_exceeded', '6th call');
    // Another task of the same key is not affected.
    assert.equal((await chat(k, body('small'), { ...h, 'x-stratus-task-id': `${task}-other` })).status, 200);
    const t = await admin('GET', `/admin/tasks/${task}`);
    assert.equal(t.status, 200, JSON.stringify(t.json));
    assert.equal(t.json.task_id, task);
    assert.equal(t.json.key_id, k.id);
    assert.equal(t.json.calls, 5, JSON.stringify(t.json));
    assert.equal(t.json.prompt_tokens, prompt, JSON.stringify(t.json));
    assert.equal(t.json.completion_tokens, completion, JSON.stringify(t.json));
    assert.ok(Math.abs(t.json.cost_usd - spent) < 1e-12, `task cost ${t.json.cost_usd}, want ${spent}`);
    assert.equal((await admin('GET', '/admin/tasks/no-such-task')).status, 404);
  });

  test('under concurrency: a 5-call task admits exactly 5 of 20; a team budget is shared by its keys', async () => {
    const k = await createKey({ name: 'agent-parallel' });
    const h = { 'x-stratus-task-id': `parallel-${Date.now()}`, 'x-stratus-task-max-calls': '5' };
    const rs = await Promise.all(Array.from({ length: 20 }, () => chat(k, body('small'), h)));
    assert.equal(rs.filter((r) => r.status === 200).length, 5, `statuses ${rs.map((r) => r.status)}`);
    for (const r of rs.filter((x) => x.status !== 200)) assertError(r, 429, 'task_budget_exceeded', 'parallel task');

    // Team "spenders": $50 a day over both keys; pricey calls cost at most $10.
    const a = await createKey({ name: 'spender-a', team: 'spenders' });
    const b = await createKey({ name: 'spender-b', team: 'spenders' });
    const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => chat(i % 2 ? a : b, body('pricey', { max_tokens: 10 }))));
    const ok = burst.filter((r) => r.status === 200);
    for (const r of burst.filter((x) => x.status !== 200)) assertError(r, 429, 'insufficient_quota', 'team budget');
    const spent = ok.reduce((sum, r) => sum + cost('pricey', r.json.usage), 0);
    assert.ok(ok.length > 0 && spent <= 50 + 10 && spent > 50 - 10, `the team spent $${spent} of $50 in ${ok.length} calls`);
  });

  test('task limits in $ (x-stratus-task-max-usd) and the key\'s --max-task-calls ceiling', async () => {
    const k = await createKey({ name: 'agent-usd' });
    // pricey: 10 prompt + at most 10 completion tokens at $0.5 = at most $10 a call.
    const h = { 'x-stratus-task-id': `usd-${Date.now()}`, 'x-stratus-task-max-usd': '15' };
    const first = await chat(k, body('pricey', { max_tokens: 10 }), h);
    assert.equal(first.status, 200, JSON.stringify(first.json));
    assertError(await chat(k, body('pricey', { max_tokens: 10 }), h), 429, 'task_budget_exceeded', 'task over $15');

    const capped = await createKey({ name: 'agent-capped', max_task_calls: 3 });
    const hc = { 'x-stratus-task-id': `capped-${Date.now()}`, 'x-stratus-task-max-calls': '5' };
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await chat(capped, body('small'), hc)).status);
    assert.deepEqual(statuses, [200, 200, 200, 429], 'the key allows 3 calls a task whatever the header asks');
    // Without the header the key's ceiling applies on its own.
    const hn = { 'x-stratus-task-id': `capped-plain-${Date.now()}` };
    const plain = [];
    for (let i = 0; i < 4; i++) plain.push(await chat(capped, body('small'), hn));
    assert.deepEqual(plain.map((r) => r.status), [200, 200, 200, 429]);
    assertError(plain[3], 429, 'task_budget_exceeded', 'over the key ceiling');
  });

  test('a key revoked with DELETE /admin/keys/{id} is refused at once', async () => {
    const k = await createKey({ name: 'short-lived' });
    assert.equal((await chat(k, body('small'))).status, 200);
    const d = await admin('DELETE', `/admin/keys/${k.id}`);
    assert.equal(d.status, 200, JSON.stringify(d.json));
    assert.equal(d.json.revoked, k.id);
    assertError(await chat(k, body('small')), 401, 'invalid_api_key', 'revoked key');
    assert.equal((await admin('DELETE', '/admin/keys/k_no_such_key')).status, 404);
    // By name too.
    const named = await createKey({ name: 'revoke-me-by-name' });
    assert.equal((await chat(named, body('small'))).status, 200);
    const byName = await admin('DELETE', '/admin/keys/revoke-me-by-name');
    assert.equal(byName.status, 200, JSON.stringify(byName.json));
    assert.equal(byName.json.revoked, named.id);
    assertError(await chat(named, body('small')), 401, 'invalid_api_key', 'key revoked by name');
    const rec = (await admin('GET', '/admin/keys')).json.keys.find((x) => x.id === k.id);
    assert.ok(rec?.revoked_ms > 0, JSON.stringify(rec));
  });

  test('a key revoked by the CLI in another process is refused within 1 s', async (t) => {
    const k = await createKey({ name: 'cli-revoked' });
    assert.equal((await chat(k, body('small'))).status, 200);
    const out = await run(BIN, ['keys', 'revoke', '--config', gw.configFile, k.id]);
    const revokedAt = Date.now();
    let refusedAfter = -1;
    while (Date.now() - revokedAt < 3000 * SLOW) {
      const r = await chat(k, body('small'));
      if (r.status === 401) {
        refusedAfter = Date.now() - revokedAt;
        assert.equal(r.json.error?.code, 'invalid_api_key');
        break;
      }
      assert.equal(r.status, 200, JSON.stringify(r.json));
      await sleep(10);
    }
    assert.ok(refusedAfter >= 0, `still accepted 3 s after \`stratus keys revoke\` (${out.stdout}${out.stderr})`);
    assert.ok(refusedAfter < 1000 * SLOW, `refused only ${refusedAfter} ms after the CLI revoked it`);
    t.diagnostic(`refused ${refusedAfter} ms after \`stratus keys revoke\` exited`);
  });

  test('GET /admin/usage?group_by=key sums match what every key was answered', async () => {
    assert.equal((await admin('POST', '/admin/flush')).status, 200);
    const usage = await admin('GET', '/admin/usage?group_by=key&since=1d');
    assert.equal(usage.status, 200, JSON.stringify(usage.json));
    assert.equal(usage.json.group_by, 'key');
    assert.ok(sent.size >= 8, `only ${sent.size} keys tallied`);
    for (const [id, want] of sent) {
      const row = usage.json.rows.find((x) => x.group === id);
      assert.ok(row, `no usage row for ${id}: ${JSON.stringify(usage.json.rows)}`);
      // Requests refused with 401 (revoked keys) may be recorded without the key: allow them.
      assert.ok(
        row.requests >= want.requests - want.unauthorized && row.requests <= want.requests,
        `${id}: ${row.requests} requests in the ledger, ${want.requests} sent (${want.unauthorized} got 401)`,
      );
      assert.equal(row.prompt_tokens, want.prompt_tokens, `${id} prompt tokens`);
      assert.equal(row.completion_tokens, want.completion_tokens, `${id} completion tokens`);
      assert.ok(Math.abs(row.cost_usd - want.cost_usd) <= 1e-9 * Math.max(1, want.cost_usd), `${id}: ledger $${row.cost_usd}, answers $${want.cost_usd}`);
    }
  });
  test('after a restart on the same store: keys, revocations and spent budgets are remembered', async () => {
    const before = (await admin('GET', '/admin/keys')).json.keys;
    const exit = await gw.stop('SIGTERM');
    assert.equal(exit.code, 0, gw.out.stderr.slice(-1000));
    gw = await startGateway(config(mock.baseURL, dbPath));
    assert.deepEqual((await admin('GET', '/admin/keys')).json.keys, before);
    // The list shows no secrets: use the ones POST /admin/keys gave this test.
    assert.equal((await chat(keysMade.get('coster'), body('small'))).status, 200, 'a key made before the restart');
    assertError(await chat(keysMade.get('short-lived'), body('small')), 401, 'invalid_api_key', 'revoked by the admin API');
    assertError(await chat(keysMade.get('cli-revoked'), body('small')), 401, 'invalid_api_key', 'revoked by the CLI');
    const spent = await chat(keysMade.get('budgeted'), body('pricey', { max_tokens: 10 }));
    assertError(spent, 429, 'insufficient_quota', 'the spent budget after the restart');
  });
});

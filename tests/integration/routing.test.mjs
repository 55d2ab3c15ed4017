// The routing model through a real gateway in front of mock clouds: strategies and tiers,
// fallbacks and context-window fallbacks, Retry-After cooldown, circuit breakers with
// /admin/deployments and a fast 503, hedging, the first-token timeout, active health checks and
// the attempts in headers and the access log. (Load and chaos: slow_chaos.test.mjs.)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import { BIN, startMock, startGateway, tempFile, eventually, SLOW } from './lib/harness.mjs';

const MESSAGES = [{ role: 'user', content: 'Say hello' }];
const DEAD = 'http://127.0.0.1:9/v1'; // nothing listens on the discard port

let one, two, slow, gw, client;

function yaml() {
  return `server:
  listen: "127.0.0.1:0"
  workers: 1
providers:
  - {name: one, type: openai, base_url: "${one.baseURL}"}
  - {name: two, type: openai, base_url: "${two.baseURL}"}
  - {name: slow, type: openai, base_url: "${slow.baseURL}"}
  - {name: dead, type: openai, base_url: "${DEAD}"}
  - name: watched
    type: openai
    base_url: "${DEAD}"
    health_check: {interval_ms: 100, timeout_ms: 300}
models:
  - name: weighted
    strategy: weighted
    deployments:
      - {provider: one, model: w, weight: 3}
      - {provider: two, model: w, weight: 1}
  - name: tiers
    breaker: {failures: 2, cooldown_ms: 60000}
    deployments:
      - {provider: dead, model: t, priority: 0}
      - {provider: one, model: t, priority: 1}
  - name: fallback-a
    deployments: [{provider: one, model: "a@mock:status=500"}]
    fallbacks: [fallback-b]
  - name: fallback-b
    deployments: [{provider: two, model: b}]
  - name: short
    deployments: [{provider: one, model: "s@mock:status=400,message=context-length"}]
    context_window_fallbacks: [long]
  - name: short-alone
    deployments: [{provider: one, model: "s@mock:status=400,message=context-length"}]
  - name: long
    deployments: [{provider: two, model: l}]
  - name: limited
    deployments:
      - {provider: one, model: "r@mock:status=429,retry-after=30"}
      - {provider: two, model: r}
  - name: alldown
    breaker: {failures: 1, cooldown_ms: 30000}
    deployments:
      - {provider: dead, model: x}
      - {provider: dead, model: y}
  - name: hedged
    hedge: {after_ms: 100}
    deployments:
      - {provider: slow, model: "h@mock:ttft-ms=3000"}
      - {provider: two, model: h}
  - name: first-token
    timeouts: {first_token_ms: 300}
    deployments:
      - {provider: slow, model: "f@mock:ttft-ms=3000"}
      - {provider: two, model: f}
  - name: stalls
    timeouts: {first_token_ms: 300}
    deployments:
      - {provider: one, model: "st@mock:hang-after-chunks=1"}
      - {provider: two, model: st}
  - name: watched
    breaker: {failures: 2, cooldown_ms: 60000}
    deployments: [{provider: watched, model: w}]
`;
}

async function chat(model, extra = {}) {
  const { data, response } = await client.chat.completions.create({ model, messages: MESSAGES, ...extra }).withResponse();
  return { data, headers: response.headers };
}

async function streamed(model) {
  const t0 = Date.now();
  const { data: stream, response } = await client.chat.completions.create({ model, messages: MESSAGES, stream: true }).withResponse();
  let text = '';
  for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
  return { text, headers: response.headers, ms: Date.now() - t0 };
}

async function deployments() {
  const r = await fetch(`${gw.url}/admin/deployments`);
  assert.equal(r.status, 200);
  const body = await r.json();
  return Object.fromEntries(body.deployments.map((d) => [d.id, d]));
}

describe('routing and resilience', () => {
  before(async () => {
    [one, two, slow] = await Promise.all([startMock(['--name', 'one']), startMock(['--name', 'two']), startMock(['--name', 'slow'])]);
    gw = await startGateway(yaml());
    client = new OpenAI({ baseURL: gw.baseURL, apiKey: 'unused', maxRetries: 0 });
  });
  after(async () => {
    await Promise.all([gw?.stop(), one?.stop(), two?.stop(), slow?.stop()]);
  });

  it('weighted: smooth round robin keeps the 3:1 ratio', async () => {
    const seen = { 'one/w': 0, 'two/w': 0 };
    for (let i = 0; i < 40; i++) seen[(await chat('weighted')).headers.get('x-stratus-deployment')]++;
    assert.deepEqual(seen, { 'one/w': 30, 'two/w': 10 });
  });

  it('tiers: the lower tier serves while the higher one is down; its breaker opens and then it is skipped', async () => {
    const first = await chat('tiers');
    assert.equal(first.headers.get('x-stratus-deployment'), 'one/t');
    assert.equal(first.headers.get('x-stratus-attempts'), '2');
    await chat('tiers'); // the second consecutive failure opens the breaker
    const d = await deployments();
    assert.equal(d['dead/t'].state, 'open');
    assert.equal(d['dead/t'].consecutive_failures, 2);
    assert.match(d['dead/t'].last_error, /dead/);
    assert.equal(d['one/t'].state, 'closed');
    const later = await chat('tiers');
    assert.equal(later.headers.get('x-stratus-attempts'), '1');
    assert.equal(later.headers.get('x-stratus-deployment'), 'one/t');
  });

  it('fallbacks: another alias answers when every deployment of this one fails', async () => {
    const r = await chat('fallback-a');
    assert.equal(r.headers.get('x-stratus-deployment'), 'two/b');
    assert.equal(r.headers.get('x-stratus-attempts'), '2');
    assert.ok(r.data.choices[0].message.content.length > 0);
  });

  it('context window fallbacks: a context-length refusal goes to the larger model, not to the client', async () => {
    const r = await chat('short');
    assert.equal(r.headers.get('x-stratus-deployment'), 'two/l');
    assert.equal(r.headers.get('x-stratus-attempts'), '2');
    // Without such a fallback the refusal is the client's answer.
    const err = await client.chat.completions.create({ model: 'short-alone', messages: MESSAGES }).then(() => null, (e) => e);
    assert.ok(err instanceof OpenAI.BadRequestError, `${err}`);
    assert.equal(err.code, 'context_length_exceeded');
    assert.equal(err.headers.get('x-stratus-attempts'), '1');
  });

  it('Retry-After: a deployment that asked for 30 s is not picked again meanwhile', async () => {
    const before = (await one.stats()).chat;
    const first = await chat('limited');
    assert.equal(first.headers.get('x-stratus-deployment'), 'two/r');
    assert.equal(first.headers.get('x-stratus-attempts'), '2');
    for (let i = 0; i < 5; i++) {
      const r = await chat('limited');
      assert.equal(r.headers.get('x-stratus-attempts'), '1');
      assert.equal(r.headers.get('x-stratus-deployment'), 'two/r');
    }
    assert.equal((await one.stats()).chat, before + 1);
    const d = await deployments();
    assert.ok(d['one/r@mock:status=429,retry-after=30'].cooldown_ms > 20000);
    assert.equal(d['one/r@mock:status=429,retry-after=30'].state, 'closed'); // busy, not broken
  });

  it('all deployments down: once the breakers are open every request gets a fast 503 with Retry-After', async () => {
    const first = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'alldown', messages: MESSAGES }),
    });
    assert.equal(first.status, 503);
    assert.equal(first.headers.get('x-stratus-attempts'), '2');
    for (let i = 0; i < 20; i++) {
      const t0 = Date.now();
      const err = await client.chat.completions.create({ model: 'alldown', messages: MESSAGES }).then(() => null, (e) => e);
      const ms = Date.now() - t0;
      assert.ok(err instanceof OpenAI.APIError, `${err}`);
      assert.equal(err.status, 503);
      assert.equal(err.headers.get('x-stratus-attempts'), '0');
      assert.match(err.message, /circuit breakers open/);
      const wait = Number(err.headers.get('retry-after'));
      assert.ok(wait >= 1 && wait <= 30, `retry-after ${wait}`);
      assert.ok(ms < 200 * SLOW, `took ${ms} ms`);
    }
  });

  it('hedging: a second attempt elsewhere wins over a slow first byte; the loser is cancelled', async () => {
    const cancelled = (await slow.stats()).cancelled;
    const r = await streamed('hedged');
    assert.equal(r.headers.get('x-stratus-deployment'), 'two/h');
    assert.equal(r.headers.get('x-stratus-attempts'), '2');
    assert.ok(r.text.length > 0);
    assert.ok(r.ms < 2000 * SLOW, `took ${r.ms} ms`);
    assert.ok(await eventually(async () => (await slow.stats()).cancelled > cancelled), 'the slow attempt was not cancelled');
    const log = await eventually(() => gw.accessLog().find((l) => l.alias === 'hedged'));
    assert.ok(log, 'no access log line');
    assert.deepEqual(
      log.tries.map((t) => [t.deployment, t.error ?? '']).sort(),
      [['slow/h@mock:ttft-ms=3000', 'hedge lost'], ['two/h', '']],
    );
  });

  it('first-token timeout: a stream with no content in time is retried elsewhere before any byte reached the client', async () => {
    const r = await streamed('first-token');
    assert.equal(r.headers.get('x-stratus-deployment'), 'two/f');
    assert.equal(r.headers.get('x-stratus-attempts'), '2');
    assert.ok(r.text.length > 0);
    assert.ok(r.ms < 2500 * SLOW, `took ${r.ms} ms`);
    const log = await eventually(() => gw.accessLog().find((l) => l.alias === 'first-token'));
    assert.match(log.tries[0].error, /first (byte|token) timeout/);
  });

  it('first-token timeout counts until the first content: a role chunk then silence is retried elsewhere', async () => {
    const r = await streamed('stalls');
    assert.equal(r.headers.get('x-stratus-deployment'), 'two/st');
    assert.equal(r.headers.get('x-stratus-attempts'), '2');
    assert.equal(r.text.split(' ').length, 12); // the whole answer, nothing from the stalled one
    const log = await eventually(() => gw.accessLog().find((l) => l.alias === 'stalls'));
    assert.match(log.tries[0].error, /first token timeout/);
  });

  it('active health checks open the breaker of a dead provider with no client traffic; /readyz names it', async () => {
    const d = await eventually(async () => {
      const all = await deployments();
      return all['watched/w'].state === 'open' ? all : null;
    });
    assert.ok(d, 'the health checks did not open the breaker');
    assert.match(d['watched/w'].last_error, /health check/);
    const ready = await fetch(`${gw.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.match((await ready.json()).unavailable_models, /watched/);
    // And a request for it is answered at once, without an attempt.
    const err = await client.chat.completions.create({ model: 'watched', messages: MESSAGES }).then(() => null, (e) => e);
    assert.equal(err.status, 503);
    assert.equal(err.headers.get('x-stratus-attempts'), '0');
  });

  it('check-config names the line of a fallback cycle, an unknown strategy and an empty deployment list', () => {
    const file = tempFile(
      'bad.yaml',
      `providers:
  - {name: p, type: openai, base_url: "http://127.0.0.1:9/v1"}
models:
  - name: a
    strategy: fastest
    deployments: [{provider: p, model: x}]
    fallbacks: [b]
  - name: b
    deployments: []
    fallbacks: [a]
`,
    );
    const r = spawnSync(BIN, ['check-config', file], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    const out = r.stdout + r.stderr;
    assert.match(out, /bad\.yaml:5:\d+: .*unknown strategy 'fastest'/);
    assert.match(out, /bad\.yaml:8:\d+: .*fallback cycle a -> b -> a/);
    assert.match(out, /bad\.yaml:9:\d+: .*empty/);
  });
});

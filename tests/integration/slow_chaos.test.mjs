// The chaos suite (ctest labels integration;slow;chaos): three mock "clouds" behind one alias,
// one of them failing in a different way per scenario, and a bounded load of plain and streamed
// chat requests at 32 concurrent through the official openai SDK (its own retries off). While
// one cloud is healthy, no client request may fail, and p99 stays bounded. Then: every cloud
// down, the retry budget, hedging, and a stream cut after its first byte. The summary table is
// printed, and written as markdown to $CHAOS_SUMMARY when set (docs/resilience.md quotes it).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import OpenAI from 'openai';
import { startGateway, sleep, SLOW } from './lib/harness.mjs';
import {
  REFUSED,
  HEALTHY,
  startClouds,
  stopClouds,
  restartCloud,
  gatewayYaml,
  sdk,
  oneRequest,
  runLoad,
  summarize,
  errorSample,
  deployments,
  waitForDeployment,
  reportSummary,
} from './lib/chaos.mjs';

// Sanitized builds are several times slower: a smaller load, the same scenarios.
const TOTAL = process.env.STRATUS_SANITIZED ? 500 : 2000;
const CONCURRENCY = 32;
const P99_BOUND_MS = 2500 * SLOW; // generous, but far below any timeout a hang would run into
const CLIENT_TIMEOUT_MS = 10000 * SLOW;
const GIVE_UP_AFTER_FAILURES = 100; // a scenario that fails this much has said enough
const HEALTH_CHECK = { interval_ms: 1000, timeout_ms: 500 };
const BREAKER = { failures: 5, failure_ratio: 0.5, min_requests: 20, window_s: 10, cooldown_ms: 1000 };

const summary = [];

// Starts the clouds and a gateway, runs `body`, and stops everything whatever happened.
async function withSetup(cloudSpecs, aliases, options, body) {
  const clouds = await startClouds(cloudSpecs);
  let gw;
  try {
    gw = await startGateway(gatewayYaml(clouds, aliases, options));
    return await body({ gw, clouds, client: sdk(gw, CLIENT_TIMEOUT_MS) });
  } finally {
    await gw?.stop();
    await stopClouds(clouds);
  }
}

// ---- 1-7: one cloud misbehaves, two are healthy: zero client failures, bounded p99 ----

// Scenario 7: kill cloud c1 once a fifth of the load is done, restart it on the same port once
// its breaker is seen open, and watch the breaker close again.
async function killAndRestart({ gw, clouds, progress }) {
  const c1 = clouds[0];
  while (progress.done < TOTAL / 5) await sleep(20);
  const before = (await deployments(gw))?.[c1.id];
  await c1.mock.stop('SIGKILL');
  const open = await waitForDeployment(gw, c1.id, (d) => d.state === 'open', 10000 * SLOW);
  await sleep(1000); // dead for a while with its breaker open
  const stillOpenWhileDead = (await deployments(gw))?.[c1.id]?.state;
  await restartCloud(c1);
  const closed = await waitForDeployment(gw, c1.id, (d) => d.state === 'closed', 15000 * SLOW);
  // ... and it takes its share of the traffic again.
  const serving = closed && (await waitForDeployment(gw, c1.id, (d) => d.requests >= closed.requests + 20, 5000 * SLOW));
  return { before, open, stillOpenWhileDead, closed, serving };
}

function checkKillAndRestart({ before, open, stillOpenWhileDead, closed, serving }) {
  assert.ok(before, 'GET /admin/deployments did not list c1/m before the kill');
  assert.ok(open, 'the breaker of the killed cloud never showed "open"');
  assert.notEqual(stillOpenWhileDead, 'closed', 'the breaker closed while the cloud was still dead');
  // It opens within its threshold, plus the requests that were in flight on it at the kill.
  const failuresToOpen = open.failures - before.failures;
  assert.ok(failuresToOpen <= BREAKER.failures + CONCURRENCY, `${failuresToOpen} failures before the breaker opened`);
  assert.ok(closed, 'the breaker did not close again after the cloud came back');
  assert.ok(serving, 'the restarted cloud got no traffic after its breaker closed');
  return `breaker open after ${failuresToOpen} failures, closed after restart`;
}

// No active health checks, except where said: the gateway learns of the fault from the load
// itself (failed attempts, retries, the breaker), which is the harder path.
const FAILOVER = [
  {
    title: 'one cloud refuses connections',
    clouds: [REFUSED, HEALTHY, HEALTHY],
    policy: { strategy: 'priority' }, // the dead cloud is the first choice of every request
  },
  {
    title: 'one cloud hangs (accepts, never answers)',
    clouds: [['--hang'], HEALTHY, HEALTHY],
    policy: { strategy: 'least-busy', timeouts: { first_token_ms: 500 } },
  },
  {
    title: 'one cloud answers 429, Retry-After: 2',
    clouds: [['--fail-status', '429', '--retry-after', '2'], HEALTHY, HEALTHY],
    policy: { strategy: 'weighted' },
  },
  {
    title: 'one cloud answers 30% 500s',
    clouds: [['--fail-status', '500', '--fail-rate', '0.3'], HEALTHY, HEALTHY],
    policy: { strategy: 'weighted' },
  },
  {
    title: 'one cloud cuts streams before the first byte, drops plain answers',
    clouds: [['--close-after-chunks', '0'], HEALTHY, HEALTHY],
    policy: { strategy: 'latency' },
  },
  {
    title: 'one cloud flaps up/down every second',
    clouds: [['--flap-ms', '1000'], HEALTHY, HEALTHY],
    policy: { strategy: 'weighted' },
    minMs: 6000, // several flaps, whatever the request rate
  },
  {
    title: 'one cloud killed mid-run and restarted',
    clouds: [HEALTHY, HEALTHY, HEALTHY],
    policy: { strategy: 'weighted' },
    healthCheck: HEALTH_CHECK, // brings the breaker back as soon as the cloud is
    during: killAndRestart,
    check: checkKillAndRestart,
  },
];

describe('chaos: fail over while one of three clouds misbehaves', { concurrency: 1 }, () => {
  after(() =>
    reportSummary(
      summary,
      `Chaos summary (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, ` +
        `${process.env.STRATUS_SANITIZED ? 'sanitized build' : 'release build'}, ${CONCURRENCY} concurrent, ` +
        `half streamed; p99 bound ${P99_BOUND_MS} ms)`,
    ),
  );

  for (const s of FAILOVER) {
    it(s.title, async () => {
      const policy = { breaker: BREAKER, ...s.policy };
      await withSetup(s.clouds, { chaos: policy }, { healthCheck: s.healthCheck }, async (ctx) => {
        const progress = {};
        const until = s.during ? s.during({ ...ctx, progress }) : null;
        const { results, during } = await runLoad({ client: ctx.client, model: 'chaos', total: TOTAL,
          concurrency: CONCURRENCY,
          until,
          minMs: s.minMs,
          maxFailures: GIVE_UP_AFTER_FAILURES,
          progress,
        });
        const sum = summarize(results);
        const served = Object.entries(sum.byDeployment)
          .sort()
          .map(([id, n]) => `${id.split('/')[0]} ${n}`)
          .join(', ');
        const row = { scenario: s.title, ...sum, notes: `served by ${served}; at most ${sum.maxAttempts} attempts` };
        summary.push(row);
        assert.equal(sum.failures, 0, `${sum.failures} of ${sum.requests} client requests failed:\n${errorSample(results)}`);
        assert.ok(sum.p99 < P99_BOUND_MS, `p99 ${sum.p99.toFixed(0)} ms ≥ ${P99_BOUND_MS} ms (max ${sum.max.toFixed(0)} ms)`);
        assert.ok(sum.requests >= TOTAL, `only ${sum.requests} requests`);
        if (s.check) row.notes += `; ${s.check(during)}`;
      });
    });
  }

  // ---- 8: every cloud down ----
  it('every cloud down: a fast 503 in OpenAI error shape, no hang', async () => {
    const policy = { strategy: 'weighted', breaker: { ...BREAKER, cooldown_ms: 60000 } }; // no probe meanwhile
    await withSetup([REFUSED, REFUSED, REFUSED], { chaos: policy }, {}, async ({ gw, clouds, client }) => {
      const FAST_MS = 1000 * SLOW;
      // Warm-up: every request fails fast; the breakers open.
      const warm = [];
      for (let i = 0; i < 60; i++) {
        warm.push(await oneRequest(client, 'chaos', i % 2 === 1));
        const d = await deployments(gw);
        if (d && clouds.every((c) => d[c.id]?.state === 'open')) break;
      }
      const d = await deployments(gw);
      assert.ok(d && clouds.every((c) => d[c.id]?.state === 'open'), `breakers not all open: ${JSON.stringify(d)}`);
      for (const r of warm) {
        assert.ok(!r.ok && r.error instanceof OpenAI.APIError && [502, 503].includes(r.status), `warm-up: ${errorSample([r])}`);
        assert.ok(r.ms < FAST_MS, `warm-up request took ${r.ms.toFixed(0)} ms`);
      }
      // Then: 503 at once, every time.
      const { results } = await runLoad({ client, model: 'chaos', total: TOTAL / 4, concurrency: CONCURRENCY });
      const sum = summarize(results);
      summary.push({ scenario: 'every cloud down (breakers open)', ...sum, failures: `${sum.failures} (all expected 503)`, notes: `max ${sum.max.toFixed(0)} ms` });
      const not503 = results.filter((r) => !(r.error instanceof OpenAI.APIError) || r.status !== 503);
      assert.equal(not503.length, 0, `answers other than a 503 APIError:\n${errorSample(not503)}`);
      assert.ok(sum.max < FAST_MS, `slowest 503 took ${sum.max.toFixed(0)} ms`);
      // The body is OpenAI's error shape.
      const res = await fetch(`${gw.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-chaos' },
        body: JSON.stringify({ model: 'chaos', messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal(res.status, 503);
      const body = await res.json();
      assert.equal(typeof body.error?.message, 'string', JSON.stringify(body));
      assert.ok(body.error.message.length > 0);
      assert.equal(typeof body.error.type, 'string', JSON.stringify(body));
      assert.ok('code' in body.error, JSON.stringify(body));
    });
  });

  // ---- 9: the retry budget ----
  it('retry budget: a dead cloud does not multiply the load', async () => {
    const retry = { attempts: 3, backoff_ms: 10, max_backoff_ms: 50, budget_ratio: 0.2, budget_min: 10, budget_window_s: 10 };
    const noBreaker = { failures: 1000000, failure_ratio: 1.0, min_requests: 1000000, window_s: 10, cooldown_ms: 1000 };
    const policy = { strategy: 'priority', retry, breaker: noBreaker };
    await withSetup([['--fail-status', '500']], { chaos: policy }, {}, async ({ clouds, client }) => {
      const before = (await clouds[0].mock.stats()).chat;
      const { results, ms } = await runLoad({ client, model: 'chaos', total: TOTAL, concurrency: CONCURRENCY });
      const upstream = (await clouds[0].mock.stats()).chat - before;
      const n = results.length;
      const extra = upstream - n;
      // Each window of budget_window_s allows ratio × its requests + budget_min; 2% slack.
      const windows = Math.ceil(ms / (retry.budget_window_s * 1000));
      const bound = retry.budget_ratio * n + retry.budget_min * windows + 0.02 * n;
      summary.push({
        scenario: 'retry budget (one cloud, 100% 500s, attempts: 3)',
        requests: n,
        failures: `${results.filter((r) => !r.ok).length} (all expected)`,
        ...pick(summarize(results), ['p50', 'p99']),
        attempts: upstream / n,
        notes: `${extra} extra upstream attempts, bound ${bound.toFixed(0)}`,
      });
      assert.ok(results.every((r) => !r.ok && r.status >= 500), `a request to a dead cloud did not fail with 5xx:\n${errorSample(results.filter((r) => r.ok))}`);
      assert.ok(extra >= retry.budget_min, `only ${extra} retries: the gateway did not retry at all`);
      assert.ok(extra <= bound, `${extra} extra attempts for ${n} requests exceed the budget (${bound.toFixed(0)})`);
    });
  });

  // ---- 10: hedging ----
  it('hedging lowers p99 when one cloud is slow to its first byte, and cancels the losers', async () => {
    // The slow cloud takes 1 request in 7: more than 1% (so it sets the unhedged p99) and less
    // than the retry budget (20%), which hedges draw from.
    const deployment = { c1: { weight: 1 }, c2: { weight: 3 }, c3: { weight: 3 } };
    const aliases = {
      plain: { strategy: 'weighted', deployment },
      hedged: { strategy: 'weighted', deployment, hedge: { after_ms: 100 } },
    };
    await withSetup([['--first-byte-ms', '1500'], HEALTHY, HEALTHY], aliases, {}, async ({ clouds, client }) => {
      const slow = clouds[0].mock;
      const plain = summarize((await runLoad({ client, model: 'plain', total: TOTAL, concurrency: CONCURRENCY, maxFailures: GIVE_UP_AFTER_FAILURES })).results);
      const s0 = await slow.stats();
      const hedgedRun = await runLoad({ client, model: 'hedged', total: TOTAL, concurrency: CONCURRENCY, maxFailures: GIVE_UP_AFTER_FAILURES });
      const hedged = summarize(hedgedRun.results);
      // Losers are cancelled at once, so they show up at the mock soon after the run.
      await sleep(300);
      const s1 = await slow.stats();
      const sent = s1.chat - s0.chat;
      const cancelled = s1.cancelled - s0.cancelled;
      summary.push({ scenario: 'slow first byte (1500 ms) on one cloud, no hedge', ...plain });
      summary.push({
        scenario: 'same, hedge after 100 ms',
        ...hedged,
        notes: `p99 ${(hedged.p99 / plain.p99).toFixed(2)}× unhedged; ${cancelled} of ${sent} slow attempts cancelled`,
      });
      assert.equal(plain.failures, 0, errorSample(plain.failed));
      assert.equal(hedged.failures, 0, errorSample(hedged.failed));
      assert.ok(plain.p99 >= 1500, `the slow cloud was not slow: unhedged p99 ${plain.p99.toFixed(0)} ms`);
      assert.ok(hedged.p99 < 0.6 * plain.p99, `hedged p99 ${hedged.p99.toFixed(0)} ms vs unhedged ${plain.p99.toFixed(0)} ms`);
      assert.ok(sent > 0 && cancelled >= 0.5 * sent, `${cancelled} of ${sent} attempts at the slow cloud were cancelled`);
    });
  });

  // ---- 11: a stream cut after its first byte ----
  it('a stream cut after its first byte ends with an OpenAI error event, not a silent truncation', async () => {
    const n = Math.max(64, TOTAL / 10);
    await withSetup([['--close-after-chunks', '3', '--tokens-per-sec', '50']], { chaos: { strategy: 'priority' } }, {}, async ({ client }) => {
      const outcomes = [];
      const worker = async () => {
        while (outcomes.length < n) {
          const o = { text: '', error: null };
          outcomes.push(o);
          const t0 = performance.now();
          try {
            const stream = await client.chat.completions.create({ model: 'chaos', stream: true, messages: [{ role: 'user', content: 'hi' }] });
            for await (const chunk of stream) o.text += chunk.choices[0]?.delta?.content ?? '';
          } catch (e) {
            o.error = e;
          }
          o.ms = performance.now() - t0;
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      const silent = outcomes.filter((o) => !o.error);
      const transport = outcomes.filter((o) => o.error && !(o.error instanceof OpenAI.APIError));
      const noContent = outcomes.filter((o) => !o.text);
      const ms = outcomes.map((o) => o.ms).sort((a, b) => a - b);
      summary.push({
        scenario: 'stream cut after its first byte (only cloud)',
        requests: outcomes.length,
        failures: `${outcomes.length - silent.length} (all expected: error event)`,
        p50: ms[Math.floor(ms.length / 2)],
        p99: ms[Math.ceil(ms.length * 0.99) - 1],
        notes: `${silent.length} silent truncations, ${transport.length} transport errors`,
      });
      assert.equal(silent.length, 0, `${silent.length} streams ended as a success without their end`);
      assert.equal(transport.length, 0, `not an error event: ${transport[0]?.error}`);
      assert.equal(noContent.length, 0, 'the first chunks did not reach the client before the error');
    });
  });
});

const pick = (o, keys) => Object.fromEntries(keys.map((k) => [k, o[k]]));

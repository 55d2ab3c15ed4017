// The mock's connection-level faults that the chaos suite builds on: --flap-ms, --first-byte-ms
// and --close-after-chunks 0 for whole (non-stream) answers. Spoken to directly, no gateway.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, eventually, sleep, SLOW } from './lib/harness.mjs';

const chat = (mock, { stream = false, headers = {}, signal } = {}) =>
  fetch(`${mock.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'm', stream, messages: [{ role: 'user', content: 'hi' }] }),
    signal,
  });

// Resolves to 'answered' (a whole 200 answer was read) or 'dropped' (the connection closed).
async function outcome(mock, opts) {
  try {
    const res = await chat(mock, opts);
    await res.text();
    return res.status === 200 ? 'answered' : `status ${res.status}`;
  } catch {
    return 'dropped';
  }
}

describe('stratus mock connection faults', () => {
  const mocks = {};
  before(async () => {
    const specs = {
      flap: ['--flap-ms', String(300 * SLOW)],
      slow: ['--first-byte-ms', '300'],
      cut0: ['--close-after-chunks', '0'],
    };
    const started = await Promise.all(Object.values(specs).map((a) => startMock(a)));
    Object.keys(specs).forEach((k, i) => (mocks[k] = started[i]));
  });
  after(async () => {
    await Promise.all(Object.values(mocks).map((m) => m.stop()));
  });

  it('--flap-ms: answers while up, drops every request while down, and back', async () => {
    const seen = [];
    const end = Date.now() + 1500 * SLOW;
    while (Date.now() < end) {
      const o = await outcome(mocks.flap);
      if (seen.at(-1) !== o) seen.push(o);
      await sleep(20);
    }
    // Periods alternate: at least up, down, up (or down, up, down) in 5 periods.
    assert.ok(seen.length >= 3, `phases seen: ${seen.join(' → ')}`);
    assert.deepEqual(new Set(seen), new Set(['answered', 'dropped']));
    const stats = await mocks.flap.stats();
    assert.ok(stats.dropped > 0, JSON.stringify(stats));
  });

  it('--first-byte-ms delays the head of plain and streamed answers alike', async () => {
    for (const stream of [false, true]) {
      const t0 = Date.now();
      const res = await chat(mocks.slow, { stream });
      const headAfter = Date.now() - t0;
      assert.equal(res.status, 200);
      assert.ok(headAfter >= 290, `stream=${stream}: head after ${headAfter} ms`);
      assert.match(await res.text(), /Hello/);
    }
    // The header overrides the flag per request.
    const t0 = Date.now();
    const res = await chat(mocks.slow, { headers: { 'x-mock-first-byte-ms': '0' } });
    await res.text();
    assert.ok(Date.now() - t0 < 250, `x-mock-first-byte-ms: 0 took ${Date.now() - t0} ms`);
  });

  it('--first-byte-ms counts a client that leaves before the head as cancelled', async () => {
    const before = (await mocks.slow.stats()).cancelled;
    await assert.rejects(chat(mocks.slow, { signal: AbortSignal.timeout(50) }));
    const after = await eventually(async () => (await mocks.slow.stats()).cancelled > before);
    assert.ok(after, 'the cancelled counter did not rise');
  });

  it('--close-after-chunks 0: streams end before any event, plain answers are dropped', async () => {
    assert.equal(await outcome(mocks.cut0), 'dropped');
    const res = await chat(mocks.cut0, { stream: true });
    assert.equal(res.status, 200);
    await assert.rejects(res.text(), 'a stream cut before its first event must not end cleanly');
    const stats = await mocks.cut0.stats();
    assert.equal(stats.dropped, 1);
    assert.equal(stats.completed_streams, 0);
  });
});

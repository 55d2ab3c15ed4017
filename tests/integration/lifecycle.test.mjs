// Process and request lifecycle: cancellation, graceful drain, reload, health, access log,
// secrets hygiene, config checking and ${ENV} interpolation.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import OpenAI from 'openai';
import { BIN, configYaml, eventually, sleep, SLOW, startGateway, startMock, tempFile } from './lib/harness.mjs';

const MSG = [{ role: 'user', content: 'hi' }];

function sdk(gw, apiKey = 'sk-test') {
  return new OpenAI({ baseURL: gw.baseURL, apiKey, maxRetries: 0, timeout: 15000 });
}

// Runs a stratus command to completion (or kills it after timeoutMs).
function run(args, { env = process.env, timeoutMs = 10000 } = {}) {
  return new Promise((resolve) => {
    const p = spawn(BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs * SLOW);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut: signal === 'SIGKILL' });
    });
  });
}

// Starts `stratus serve` with its own environment and arguments; resolves when it listens.
async function serve(args, { env = process.env } = {}) {
  const p = spawn(BIN, ['serve', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  p.stdout.on('data', (d) => (out.stdout += d));
  p.stderr.on('data', (d) => (out.stderr += d));
  const exited = new Promise((r) => p.on('exit', (code, signal) => r({ code, signal })));
  process.on('exit', () => p.kill('SIGKILL'));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready:\n${out.stderr}`)), 15000 * SLOW);
    p.stderr.on('data', () => {
      const m = out.stderr.match(/listening on http:\/\/\S+:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}:\n${out.stderr}`));
    });
  });
  return { proc: p, port, out, exited, url: `http://127.0.0.1:${port}`, baseURL: `http://127.0.0.1:${port}/v1` };
}

// True when nothing accepts TCP connections on the port.
function refused(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e) => resolve(e.code === 'ECONNREFUSED'));
  });
}

// Complete access-log lines so far (a line still being written is left out).
function logLines(gw) {
  return gw.out.stdout
    .split('\n')
    .slice(0, -1)
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

// The gateway prints its "listening" line before it installs its signal handlers (see the
// startup-signal test); tests about something else give it a moment first.
const settle = () => sleep(300 * SLOW);

const contentOf = (chunk) => chunk.choices?.[0]?.delta?.content ?? '';

async function modelIds(gw) {
  const r = await fetch(`${gw.baseURL}/models`);
  assert.equal(r.status, 200);
  return (await r.json()).data.map((m) => m.id);
}

// ---- cancellation ----

describe('client disconnect cancels the upstream request', () => {
  test('an aborted plain request cancels the hanging upstream call within 1 s (access log 499)', async () => {
    const mock = await startMock(['--hang']);
    const gw = await startGateway(configYaml({ upstreams: [mock.baseURL] }));
    try {
      const ac = new AbortController();
      // Abort 200 ms in, and only once the request is parked at the upstream (slow machines).
      const parked = sleep(200).then(() => eventually(async () => (await mock.stats()).chat >= 1, 3000));
      parked.then(() => ac.abort());
      const err = await sdk(gw)
        .chat.completions.create(
          { model: 'test-model', messages: MSG },
          { signal: ac.signal, headers: { 'x-request-id': 'it-abort-plain' } },
        )
        .then(
          () => null,
          (e) => e,
        );
      assert.ok(err instanceof OpenAI.APIUserAbortError, `expected an abort, got ${err}`);
      assert.ok(await parked, 'the request never reached the upstream');
      const stats = await eventually(async () => {
        const s = await mock.stats();
        return s.cancelled >= 1 && s;
      }, 1000);
      assert.ok(stats, `mock never saw the cancel: ${JSON.stringify(await mock.stats())}`);
      assert.equal(stats.cancelled, 1);
      assert.equal(stats.chat, 1, 'exactly one upstream attempt (no retry after the client left)');
      const line = await eventually(() => logLines(gw).find((l) => l.request_id === 'it-abort-plain'), 2000);
      assert.ok(line, `no access log line:\n${gw.out.stdout}`);
      assert.equal(line.status, 499);
    } finally {
      await Promise.all([gw.stop(), mock.stop()]);
    }
  });

  test('a stream aborted after 2 chunks cancels the upstream stream promptly; access log status 499', async () => {
    const mock = await startMock(['--tokens-per-sec', '5', '--tokens', '50']);
    const gw = await startGateway(configYaml({ upstreams: [mock.baseURL] }));
    try {
      const ac = new AbortController();
      const stream = await sdk(gw).chat.completions.create(
        { model: 'test-model', messages: MSG, stream: true },
        { signal: ac.signal, headers: { 'x-request-id': 'it-abort-stream' } },
      );
      let n = 0;
      try {
        for await (const _ of stream) {
          if (++n === 2) {
            ac.abort();
            break;
          }
        }
      } catch (e) {
        if (!(e instanceof OpenAI.APIUserAbortError)) throw e;
      }
      assert.equal(n, 2);
      const t0 = Date.now();
      const stats = await eventually(async () => {
        const s = await mock.stats();
        return s.cancelled >= 1 && s;
      }, 1000);
      assert.ok(stats, `mock never saw the cancel within 1 s: ${JSON.stringify(await mock.stats())}`);
      assert.ok(Date.now() - t0 < 1000 * SLOW, 'cancel was not prompt');
      assert.equal(stats.completed_streams, 0, 'the upstream stream ran to the end');
      const line = await eventually(() => logLines(gw).find((l) => l.request_id === 'it-abort-stream'), 2000);
      assert.ok(line, `no access log line:\n${gw.out.stdout}`);
      assert.equal(line.status, 499);
      assert.equal(line.stream, true);
      assert.equal(line.alias, 'test-model');
    } finally {
      await Promise.all([gw.stop(), mock.stop()]);
    }
  });
});

// The watch for a leaving client starts at the worker's next sweep, and is re-armed for every
// request on a connection: the second request's abort must cancel as promptly as the first's.
describe('client disconnect on a reused keep-alive connection', () => {
  test('after a slow answer on the same connection, an aborted request still cancels its upstream call', async () => {
    const mock = await startMock([]);
    const gw = await startGateway(`server:
  listen: "127.0.0.1:0"
providers:
  - {name: cloud, type: openai, base_url: "${mock.baseURL}"}
models:
  - {name: slow, deployments: [{provider: cloud, model: "m@mock:first-byte-ms=300"}]}
  - {name: hang, deployments: [{provider: cloud, model: "m@mock:hang=1"}]}
`);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const post = (model, id) => {
      const req = http.request(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'x-request-id': id },
      });
      req.end(JSON.stringify({ model, messages: MSG }));
      return req;
    };
    try {
      const first = await new Promise((resolve, reject) => {
        post('slow', 'it-keepalive-1')
          .on('response', (res) => {
            const port = res.socket.localPort;
            let body = '';
            res.on('data', (d) => (body += d));
            res.on('end', () => resolve({ status: res.statusCode, port, body }));
          })
          .on('error', reject);
      });
      assert.equal(first.status, 200, first.body);
      const second = post('hang', 'it-keepalive-2');
      second.on('error', () => {});
      const port = await new Promise((resolve) => second.on('socket', (s) => resolve(s.localPort)));
      assert.equal(port, first.port, 'the second request did not reuse the connection');
      const parked = await eventually(async () => (await mock.stats()).chat >= 2, 3000);
      assert.ok(parked, 'the second request never reached the upstream');
      second.destroy();
      const stats = await eventually(async () => {
        const s = await mock.stats();
        return s.cancelled >= 1 && s;
      }, 1000);
      assert.ok(stats, `mock never saw the cancel within 1 s: ${JSON.stringify(await mock.stats())}`);
      const line = await eventually(() => logLines(gw).find((l) => l.request_id === 'it-keepalive-2'), 2000);
      assert.ok(line, `no access log line:\n${gw.out.stdout}`);
      assert.equal(line.status, 499);
    } finally {
      agent.destroy();
      await Promise.all([gw.stop(), mock.stop()]);
    }
  });
});

// ---- SIGTERM ----

describe('SIGTERM', () => {
  test('drains an in-flight stream to its normal end, refuses new connections, exits 0', async () => {
    const mock = await startMock(['--tokens-per-sec', '10', '--tokens', '20']);
    const gw = await startGateway(configYaml({ upstreams: [mock.baseURL] }));
    await settle();
    try {
      const stream = await sdk(gw).chat.completions.create({ model: 'test-model', messages: MSG, stream: true });
      let text = '';
      let tokens = 0;
      let finish = null;
      let signalled = false;
      let streamDone = false;
      let refusedWhileStreaming = null;
      let streamError = null;
      try {
        for await (const chunk of stream) {
          const c = contentOf(chunk);
          if (c) tokens++;
          text += c;
          finish = chunk.choices?.[0]?.finish_reason ?? finish;
          if (!signalled) {
            signalled = true;
            gw.proc.kill('SIGTERM');
            // While the stream goes on, the listener must go away.
            eventually(() => refused(gw.port), 1500, 20).then((r) => (refusedWhileStreaming = r && !streamDone));
          }
        }
      } catch (e) {
        streamError = e;
      }
      streamDone = true;
      if (streamError) {
        const ex = await Promise.race([gw.exited, sleep(2000).then(() => 'still running')]);
        assert.fail(
          `stream failed after ${tokens} tokens: ${streamError} (${streamError.cause ?? ''}); ` +
            `gateway: ${JSON.stringify(ex)}\n${gw.out.stderr}`,
        );
      }
      assert.equal(tokens, 20, `stream cut short: ${JSON.stringify(text)}`);
      assert.equal(finish, 'stop');
      assert.match(text, /^Hello from the Stratus mock/);
      const { code, signal } = await Promise.race([gw.exited, sleep(5000 * SLOW).then(() => ({ code: 'still running' }))]);
      assert.equal(signal, null);
      assert.equal(code, 0, gw.out.stderr);
      await eventually(() => refusedWhileStreaming !== null, 1000);
      assert.equal(refusedWhileStreaming, true, 'new connections were still accepted during the drain');
      assert.equal(await refused(gw.port), true);
    } finally {
      await Promise.all([gw.stop('SIGKILL'), mock.stop()]);
    }
  });

  test('server.drain_timeout_ms 500 cuts a 10 s stream: the process exits within ~2 s', async () => {
    const mock = await startMock(['--tokens-per-sec', '2', '--tokens', '20']);
    const gw = await startGateway(configYaml({ upstreams: [mock.baseURL], server: { drain_timeout_ms: 500 } }));
    await settle();
    try {
      const stream = await sdk(gw).chat.completions.create({ model: 'test-model', messages: MSG, stream: true });
      let tokens = 0;
      let t0 = 0;
      const consumed = (async () => {
        for await (const chunk of stream) {
          if (contentOf(chunk)) tokens++;
          if (!t0) {
            t0 = Date.now();
            gw.proc.kill('SIGTERM');
          }
        }
      })().catch((e) => e);
      const res = await Promise.race([gw.exited, sleep(4000 * SLOW).then(() => null)]);
      assert.ok(res, 'still running 4 s after SIGTERM');
      const took = Date.now() - t0;
      assert.ok(took < 2000 * SLOW, `exited ${took} ms after SIGTERM`);
      assert.ok(took >= 400, `exited after ${took} ms: did not wait for the drain timeout`);
      assert.deepEqual(res, { code: 0, signal: null }, gw.out.stderr);
      await consumed;
      assert.ok(tokens < 20, 'the 10 s stream completed?');
    } finally {
      await Promise.all([gw.stop('SIGKILL'), mock.stop()]);
    }
  });

  test('signals sent right after the "listening" line are handled (SIGHUP reloads, SIGTERM drains), not fatal', async () => {
    const mock = await startMock();
    const file = tempFile('stratus.yaml', configYaml({ upstreams: [mock.baseURL] }));
    try {
      for (const sig of ['SIGHUP', 'SIGHUP', 'SIGHUP', 'SIGTERM', 'SIGTERM']) {
        const p = spawn(BIN, ['serve', '--config', file, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        p.stderr.on('data', (d) => {
          err += d;
          // A supervisor reacting to the readiness line, as fast as it can.
          if (!p.signalled && /listening on/.test(err)) {
            p.signalled = true;
            p.kill(sig);
          }
        });
        const exit = new Promise((r) => p.on('exit', (code, signal) => r({ code, signal })));
        if (sig === 'SIGHUP') {
          const r = await Promise.race([exit, sleep(500 * SLOW).then(() => null)]);
          p.kill('SIGKILL');
          assert.equal(r, null, `SIGHUP right after start killed the gateway: ${JSON.stringify(r)}\n${err}`);
        } else {
          const r = await Promise.race([exit, sleep(3000 * SLOW).then(() => null)]);
          p.kill('SIGKILL');
          assert.deepEqual(r, { code: 0, signal: null }, `SIGTERM right after start: ${JSON.stringify(r)}\n${err}`);
        }
      }
    } finally {
      await mock.stop();
    }
  });

  test('SIGTERM with no requests in flight exits 0 promptly, idle keep-alive connections included', async () => {
    const mock = await startMock();
    const gw = await startGateway(configYaml({ upstreams: [mock.baseURL] }));
    await settle();
    try {
      // Leaves an idle keep-alive connection in fetch's pool.
      assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
      const t0 = Date.now();
      gw.proc.kill('SIGTERM');
      const res = await Promise.race([gw.exited, sleep(3000 * SLOW).then(() => null)]);
      assert.ok(res, 'an idle connection held up the drain');
      assert.ok(Date.now() - t0 < 1500 * SLOW);
      assert.deepEqual(res, { code: 0, signal: null });
    } finally {
      await Promise.all([gw.stop('SIGKILL'), mock.stop()]);
    }
  });
});

// ---- reload ----

describe('config reload', () => {
  let mock;
  before(async () => {
    mock = await startMock(['--tokens-per-sec', '10', '--tokens', '10']);
  });
  after(() => mock?.stop());

  test('SIGHUP picks up a new alias; a stream started before the reload completes', async () => {
    const gw = await startGateway(configYaml({ upstreams: [mock.baseURL], alias: 'alpha' }));
    await settle();
    try {
      assert.deepEqual(await modelIds(gw), ['alpha']);
      const client = sdk(gw);
      const stream = await client.chat.completions.create({ model: 'alpha', messages: MSG, stream: true });
      let tokens = 0;
      let finish = null;
      let reloaded = false;
      for await (const chunk of stream) {
        if (contentOf(chunk)) tokens++;
        finish = chunk.choices?.[0]?.finish_reason ?? finish;
        if (!reloaded) {
          reloaded = true;
          writeFileSync(gw.configFile, configYaml({ upstreams: [mock.baseURL], alias: 'beta' }));
          gw.proc.kill('SIGHUP');
          const ids = await eventually(async () => {
            const ids = await modelIds(gw);
            return ids.includes('beta') && ids;
          }, 2000);
          assert.deepEqual(ids, ['beta'], 'reload did not apply');
        }
      }
      assert.equal(tokens, 10, 'the in-flight stream was cut by the reload');
      assert.equal(finish, 'stop');
      const ok = await client.chat.completions.create({ model: 'beta', messages: MSG });
      assert.equal(ok.choices[0].finish_reason, 'stop');
      const gone = await client.chat.completions.create({ model: 'alpha', messages: MSG }).then(
        () => null,
        (e) => e,
      );
      assert.equal(gone?.status, 404);
      assert.match(gw.out.stderr, /config reloaded/);
      assert.equal(gw.proc.exitCode, null);
    } finally {
      await gw.stop();
    }
  });

  test('POST /admin/reload from loopback applies at once; an invalid config is a 400 and the old one keeps serving', async () => {
    const gw = await startGateway(configYaml({ upstreams: [mock.baseURL], alias: 'alpha' }));
    await settle();
    try {
      writeFileSync(gw.configFile, configYaml({ upstreams: [mock.baseURL], alias: 'gamma' }));
      const r = await fetch(`${gw.url}/admin/reload`, { method: 'POST' });
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), { status: 'reloaded' });
      assert.deepEqual(await modelIds(gw), ['gamma']);

      writeFileSync(gw.configFile, configYaml({ upstreams: [mock.baseURL], alias: 'delta' }) + 'bogus_top_level: 1\n');
      const bad = await fetch(`${gw.url}/admin/reload`, { method: 'POST' });
      assert.equal(bad.status, 400);
      assert.match(bad.headers.get('content-type') ?? '', /application\/json/);
      const body = await bad.json();
      assert.equal(body.error.type, 'invalid_request_error');
      assert.ok(body.error.message.includes(`${gw.configFile}:`), body.error.message);
      assert.match(body.error.message, /:\d+:\d+: unknown key 'bogus_top_level'/);

      assert.deepEqual(await modelIds(gw), ['gamma'], 'a failed reload changed the models');
      const ok = await sdk(gw).chat.completions.create({ model: 'gamma', messages: MSG });
      assert.equal(ok.object, 'chat.completion');

      // The same through SIGHUP: logged, not applied.
      gw.proc.kill('SIGHUP');
      assert.ok(await eventually(() => /config not reloaded/.test(gw.out.stderr), 2000), gw.out.stderr);
      assert.deepEqual(await modelIds(gw), ['gamma']);
      assert.equal(gw.proc.exitCode, null);

      const get = await fetch(`${gw.url}/admin/reload`);
      assert.equal(get.status, 405);
      assert.equal(get.headers.get('allow'), 'POST');
    } finally {
      await gw.stop();
    }
  });

  test('/admin/reload answers 403 to a client that is not on loopback', async (t) => {
    const lan = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    if (!lan) return t.skip('no non-loopback IPv4 address');
    const file = tempFile('stratus.yaml', configYaml({ upstreams: [mock.baseURL] }).replace('127.0.0.1:0', '0.0.0.0:0'));
    const gw = await serve(['--config', file]);
    try {
      const r = await fetch(`http://${lan}:${gw.port}/admin/reload`, { method: 'POST' });
      assert.equal(r.status, 403);
      assert.equal((await r.json()).error.type, 'permission_error');
      const lo = await fetch(`${gw.url}/admin/reload`, { method: 'POST' });
      assert.equal(lo.status, 200);
    } finally {
      gw.proc.kill('SIGKILL');
    }
  });

  test('/admin/reload on a dual-stack [::] listener treats 127.0.0.1 as loopback', async (t) => {
    const v6 = Object.values(networkInterfaces())
      .flat()
      .some((a) => a?.address === '::1');
    if (!v6) return t.skip('no IPv6 loopback');
    const file = tempFile('stratus.yaml', configYaml({ upstreams: [mock.baseURL] }).replace('"127.0.0.1:0"', '"[::]:0"'));
    const gw = await serve(['--config', file]);
    try {
      const r6 = await fetch(`http://[::1]:${gw.port}/admin/reload`, { method: 'POST' });
      assert.equal(r6.status, 200, 'from ::1');
      const v4 = await fetch(`http://127.0.0.1:${gw.port}/admin/reload`, { method: 'POST' });
      assert.equal(v4.status, 200, `from 127.0.0.1 (seen as ::ffff:127.0.0.1): ${await v4.text()}`);
    } finally {
      gw.proc.kill('SIGKILL');
    }
  });
});

// ---- health, access log, secrets ----

describe('health and access log', () => {
  test('/healthz and /readyz are 200 while the upstream is up', async () => {
    const mock = await startMock();
    const gw = await startGateway(configYaml({ upstreams: [mock.baseURL] }));
    try {
      const h = await fetch(`${gw.url}/healthz`);
      assert.equal(h.status, 200);
      assert.deepEqual(await h.json(), { status: 'ok' });
      const r = await fetch(`${gw.url}/readyz`);
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), { status: 'ready' });
    } finally {
      await Promise.all([gw.stop(), mock.stop()]);
    }
  });

  test('/readyz turns 503 naming the alias once its only upstream keeps failing; /healthz stays 200', async () => {
    const dead = await new Promise((resolve) => {
      const srv = net.createServer();
      srv.listen(0, '127.0.0.1', () => {
        const { port } = srv.address();
        srv.close(() => resolve(port));
      });
    });
    const gw = await startGateway(configYaml({ upstreams: [`http://127.0.0.1:${dead}/v1`] }));
    try {
      assert.equal((await fetch(`${gw.url}/readyz`)).status, 200, 'ready before any failure');
      for (let i = 0; i < 3; i++) {
        const err = await sdk(gw)
          .chat.completions.create({ model: 'test-model', messages: MSG })
          .then(
            () => null,
            (e) => e,
          );
        assert.ok(err?.status >= 500, `expected a 5xx, got ${err}`);
      }
      const r = await fetch(`${gw.url}/readyz`);
      assert.equal(r.status, 503);
      assert.match(JSON.stringify(await r.json()), /test-model/);
      assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
    } finally {
      await gw.stop();
    }
  });

  test('one JSON access-log line per request on stdout with ids, route, status, timings and usage', async () => {
    const mock = await startMock(['--tokens', '7']);
    const gw = await startGateway(configYaml({ upstreams: [mock.baseURL] }));
    try {
      const client = sdk(gw);
      const h = (id) => ({ headers: { 'x-request-id': id } });
      const plain = await client.chat.completions.create({ model: 'test-model', messages: MSG }, h('al-plain'));
      // Streams are read to the very end with fetch: the SDK hangs up right after [DONE], which
      // races the gateway's end of the response (see the test on [DONE] below).
      const streamed = async (id, extra) => {
        const r = await fetch(`${gw.baseURL}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-request-id': id },
          body: JSON.stringify({ model: 'test-model', messages: MSG, stream: true, ...extra }),
        });
        assert.equal(r.status, 200);
        const text = await r.text();
        assert.match(text, /data: \[DONE\]/);
        return text;
      };
      const withUsage = await streamed('al-stream-usage', { stream_options: { include_usage: true } });
      assert.match(withUsage, /"usage":\{"prompt_tokens"/, 'usage chunk asked for but not relayed');
      const noUsage = await streamed('al-stream', {});
      assert.doesNotMatch(noUsage, /"usage"/, 'usage chunk relayed although the client did not ask');
      await client.embeddings.create({ model: 'test-model', input: 'abc' }, h('al-emb'));
      await client.chat.completions.create({ model: 'nope', messages: MSG }, h('al-404')).catch(() => {});
      // Without a client id, the gateway makes one and returns it.
      const raw = await client.chat.completions.create({ model: 'test-model', messages: MSG }).withResponse();
      const genId = raw.response.headers.get('x-request-id');
      assert.ok(genId, 'no x-request-id on the response');

      const ids = ['al-plain', 'al-stream-usage', 'al-stream', 'al-emb', 'al-404', genId];
      const lines = await eventually(() => {
        const l = logLines(gw);
        return ids.every((id) => l.some((x) => x.request_id === id)) && l;
      }, 2000);
      assert.ok(lines, `missing access log lines:\n${gw.out.stdout}`);
      for (const id of ids) {
        assert.equal(lines.filter((l) => l.request_id === id).length, 1, `${id} logged more than once`);
      }
      // Nothing but JSON lines on stdout.
      for (const l of gw.out.stdout.split('\n').slice(0, -1)) assert.doesNotThrow(() => JSON.parse(l), l);

      const by = Object.fromEntries(lines.map((l) => [l.request_id, l]));
      for (const id of ['al-plain', 'al-stream-usage', 'al-stream', genId]) {
        const l = by[id];
        assert.equal(l.status, 200, id);
        assert.equal(l.alias, 'test-model', id);
        assert.equal(l.deployment, 'cloud-0/upstream-model-0', id);
        assert.equal(l.path, '/v1/chat/completions', id);
        assert.equal(typeof l.latency_ms, 'number', id);
        assert.equal(typeof l.ttfb_ms, 'number', id);
        assert.ok(l.ttfb_ms >= 0 && l.ttfb_ms <= l.latency_ms, `${id}: ttfb ${l.ttfb_ms} > latency ${l.latency_ms}`);
        assert.equal(l.completion_tokens, 7, `${id}: ${JSON.stringify(l)}`);
        assert.ok(l.prompt_tokens > 0, id);
        assert.equal(l.total_tokens, l.prompt_tokens + l.completion_tokens, id);
      }
      assert.equal(by['al-plain'].prompt_tokens, plain.usage.prompt_tokens);
      assert.equal(by['al-stream'].stream, true);
      assert.equal(by['al-plain'].stream, false);
      assert.equal(by['al-emb'].status, 200);
      assert.equal(by['al-emb'].path, '/v1/embeddings');
      assert.ok(by['al-emb'].prompt_tokens > 0, JSON.stringify(by['al-emb']));
      assert.equal(by['al-404'].status, 404);
      assert.equal(by['al-404'].alias, 'nope');
      assert.equal(typeof by['al-404'].latency_ms, 'number');
    } finally {
      await Promise.all([gw.stop(), mock.stop()]);
    }
  });

  test('a stream read to [DONE] by the SDK is logged 200, even when the upstream ends its body late', async () => {
    // An upstream that sends everything up to [DONE], then closes its response 1.5 s later. The
    // SDK stops reading at [DONE] and hangs up: the client got the whole answer.
    const ev = (o) => `data: ${JSON.stringify(o)}\n\n`;
    const up = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const base = { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm' };
        res.write(ev({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' }, finish_reason: null }] }));
        res.write(ev({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }));
        res.write(ev({ ...base, choices: [], usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } }));
        res.write('data: [DONE]\n\n');
        setTimeout(() => res.end(), 1500);
      });
    });
    await new Promise((r) => up.listen(0, '127.0.0.1', r));
    const gw = await startGateway(configYaml({ upstreams: [`http://127.0.0.1:${up.address().port}/v1`] }));
    try {
      const s = await sdk(gw).chat.completions.create(
        { model: 'test-model', messages: MSG, stream: true },
        { headers: { 'x-request-id': 'done-early' } },
      );
      let text = '';
      for await (const c of s) text += contentOf(c);
      assert.equal(text, 'Hi');
      const line = await eventually(() => logLines(gw).find((l) => l.request_id === 'done-early'), 3000);
      assert.ok(line, gw.out.stdout);
      assert.equal(line.status, 200, `complete stream logged as ${JSON.stringify(line)}`);
      assert.equal(line.error, undefined);
      assert.equal(line.total_tokens, 6);
    } finally {
      await gw.stop();
      up.closeAllConnections();
      up.close();
    }
  });

  test('secrets never appear in stdout/stderr: provider api_key and client Authorization', async () => {
    const PROVIDER = 'sk-provider-SECRET';
    const CLIENT = 'sk-client-SECRET';
    const mock = await startMock();
    const yaml = configYaml({ upstreams: [mock.baseURL], providerExtra: `    api_key: ${PROVIDER}\n` });
    const gw = await startGateway(yaml);
    await settle();
    try {
      const client = sdk(gw, CLIENT);
      const seen = [];
      const res = await client.chat.completions.create({ model: 'test-model', messages: MSG }).withResponse();
      seen.push(JSON.stringify([...res.response.headers]), JSON.stringify(res.data));
      const last = await mock.lastRequest();
      assert.equal(
        last.headers.authorization,
        `<redacted:${`Bearer ${PROVIDER}`.length} bytes>`,
        'upstream must get the provider key, not the client key',
      );
      const st = await client.chat.completions.create({ model: 'test-model', messages: MSG, stream: true });
      for await (const c of st) seen.push(JSON.stringify(c));
      await client.embeddings.create({ model: 'test-model', input: 'x' });
      for (const [model, headers] of [
        ['nope', {}],
        ['test-model', { 'x-mock-status': '401' }],
        ['test-model', { 'x-mock-status': '500' }],
      ]) {
        const e = await client.chat.completions.create({ model, messages: MSG }, { headers }).catch((x) => x);
        seen.push(String(e?.message), JSON.stringify(e?.error ?? null));
      }
      // Failed reloads print config problems: a typo'd key next to the secret must not echo it.
      writeFileSync(gw.configFile, yaml.replace('api_key:', 'api_keys:'));
      const bad = await fetch(`${gw.url}/admin/reload`, { method: 'POST' });
      assert.equal(bad.status, 400);
      seen.push(await bad.text());
      gw.proc.kill('SIGHUP');
      await eventually(() => /config not reloaded/.test(gw.out.stderr), 2000);
      writeFileSync(gw.configFile, yaml);
      assert.equal((await fetch(`${gw.url}/admin/reload`, { method: 'POST' })).status, 200);

      await eventually(() => logLines(gw).length >= 6, 2000);
      const { code } = await gw.stop();
      assert.equal(code, 0);
      const all = gw.out.stdout + gw.out.stderr;
      assert.ok(all.length > 0);
      for (const s of [PROVIDER, CLIENT]) {
        assert.ok(!all.includes(s), `${s} leaked into the gateway output:\n${all}`);
        for (const x of seen) assert.ok(!x.includes(s), `${s} leaked to the client: ${x}`);
      }
    } finally {
      await Promise.all([gw.stop(), mock.stop()]);
    }
  });
});

// ---- config checking and ${ENV} ----

describe('config checking', () => {
  const BAD = `server:
  listen: "127.0.0.1:0"
  bogus_key: 1
providers:
  - name: p1
    type: openai
    base_url: "ftp://nope"
models:
  - name: a
    deployments:
      - {provider: p1, model: m}
  - name: a
    deployments:
      - {provider: nope, model: m}
`;

  test('check-config on a bad file exits 1 and prints every problem as file:LINE:COL:', async () => {
    const file = tempFile('bad.yaml', BAD);
    const r = await run(['check-config', file]);
    assert.equal(r.code, 1, r.stderr);
    const problems = r.stderr.split('\n').filter((l) => l.startsWith(`${file}:`));
    for (const p of problems) assert.match(p, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: \\S`));
    const want = [
      [3, 3, /unknown key 'bogus_key'/],
      [7, 15, /base_url 'ftp:\/\/nope'/],
      [12, 11, /duplicate model 'a'/],
      [14, 20, /unknown provider 'nope'/],
    ];
    for (const [line, col, re] of want) {
      const p = problems.find((x) => x.startsWith(`${file}:${line}:${col}: `));
      assert.ok(p, `no problem at ${line}:${col} in:\n${r.stderr}`);
      assert.match(p, re);
    }
    assert.equal(problems.length, 4, r.stderr);
  });

  test('check-config on a good file exits 0', async () => {
    const file = tempFile('good.yaml', configYaml({ upstreams: ['http://127.0.0.1:9/v1'] }));
    const r = await run(['check-config', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /OK/);
    assert.equal(r.stderr, '');
  });

  test('serve --config bad.yaml exits non-zero with the problems on stderr and never listens', async () => {
    const file = tempFile('bad.yaml', BAD);
    const r = await run(['serve', '--config', file], { timeoutMs: 5000 });
    assert.equal(r.timedOut, false, 'serve kept running on a bad config');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:3: unknown key 'bogus_key'`));
    assert.match(r.stderr, /:14:20: unknown provider 'nope'/);
    assert.doesNotMatch(r.stderr, /listening/);
  });

  const ENV_YAML = (base) => `server:
  listen: "127.0.0.1:0"
providers:
  - name: cloud-0
    type: openai
    base_url: ${base}
    api_key: \${STRATUS_IT_KEY}
    headers:
      X-Tenant: "tenant-\${STRATUS_IT_TENANT}"
      X-Literal: "$\${NOT_A_VAR}"
models:
  - name: test-model
    deployments:
      - {provider: cloud-0, model: m}
`;

  test('${ENV} interpolation: the upstream receives the key and headers from the environment', async () => {
    const mock = await startMock();
    const key = 'sk-env-0123456789abcdef';
    const file = tempFile('env.yaml', ENV_YAML(mock.baseURL));
    const gw = await serve(['--config', file, '--listen', '127.0.0.1:0'], {
      env: { ...process.env, STRATUS_IT_KEY: key, STRATUS_IT_TENANT: 'acme' },
    });
    try {
      const ok = await sdk(gw).chat.completions.create({ model: 'test-model', messages: MSG });
      assert.equal(ok.object, 'chat.completion');
      const last = await mock.lastRequest();
      assert.equal(last.headers.authorization, `<redacted:${`Bearer ${key}`.length} bytes>`);
      assert.equal(last.headers['x-tenant'], 'tenant-acme');
      assert.equal(last.headers['x-literal'], '${NOT_A_VAR}');
    } finally {
      gw.proc.kill('SIGKILL');
      await mock.stop();
    }
  });

  test('${ENV} interpolation: a missing variable makes serve refuse, naming it', async () => {
    const file = tempFile('env.yaml', ENV_YAML('http://127.0.0.1:9/v1'));
    const env = { ...process.env, STRATUS_IT_TENANT: 'acme' };
    delete env.STRATUS_IT_KEY;
    const r = await run(['serve', '--config', file, '--listen', '127.0.0.1:0'], { env, timeoutMs: 5000 });
    assert.equal(r.timedOut, false, 'serve started without the variable');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /STRATUS_IT_KEY/);
    assert.match(r.stderr, /:7:\d+: .*not set/);
    assert.doesNotMatch(r.stderr, /listening/);
  });
});

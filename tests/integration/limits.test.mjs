// Protocol-level limits of the gateway's HTTP server: body and header sizes, slow clients,
// the connection cap, malformed input, Expect: 100-continue and keep-alive.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import OpenAI from 'openai';
import { configYaml, eventually, sleep, SLOW, startGateway, startMock } from './lib/harness.mjs';

const CHAT = { model: 'test-model', messages: [{ role: 'user', content: 'hi' }] };

// ---- raw socket helpers ----

function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

// Everything the server sends until it closes the connection, and when that happened.
function untilClosed(sock, timeoutMs = 10000) {
  const t0 = Date.now();
  const chunks = [];
  sock.on('data', (d) => chunks.push(d));
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ closed: false, ms: Date.now() - t0, data: Buffer.concat(chunks) }), timeoutMs);
    sock.on('error', () => {}); // a reset still counts as closed
    sock.once('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, ms: Date.now() - t0, data: Buffer.concat(chunks) });
    });
  });
}

// Reads complete HTTP/1.1 responses (content-length or chunked) off one socket, in order.
class ResponseReader {
  constructor(sock) {
    this.buf = Buffer.alloc(0);
    this.waiters = [];
    this.closed = false;
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }
  wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  async more() {
    if (this.closed) throw new Error(`connection closed; unparsed: ${JSON.stringify(this.buf.toString('latin1'))}`);
    await new Promise((r) => this.waiters.push(r));
  }
  // One response head (status line + headers), consumed from the buffer.
  async head() {
    let end;
    while ((end = this.buf.indexOf('\r\n\r\n')) < 0) await this.more();
    const text = this.buf.subarray(0, end).toString('latin1');
    this.buf = this.buf.subarray(end + 4);
    const [statusLine, ...lines] = text.split('\r\n');
    const status = Number(statusLine.split(' ')[1]);
    const headers = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    return { statusLine, status, headers };
  }
  async take(n) {
    while (this.buf.length < n) await this.more();
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  async line() {
    let end;
    while ((end = this.buf.indexOf('\r\n')) < 0) await this.more();
    const l = this.buf.subarray(0, end).toString('latin1');
    this.buf = this.buf.subarray(end + 2);
    return l;
  }
  async response() {
    const h = await this.head();
    let body;
    if (h.headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      const parts = [];
      for (;;) {
        const size = parseInt(await this.line(), 16);
        if (size === 0) {
          while ((await this.line()) !== '');
          break;
        }
        parts.push(await this.take(size));
        await this.take(2);
      }
      body = Buffer.concat(parts);
    } else {
      body = await this.take(Number(h.headers['content-length'] ?? 0));
    }
    return { ...h, body: body.toString('utf8') };
  }
}

function chatRequestBytes(body, extra = '') {
  const b = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return Buffer.concat([
    Buffer.from(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${b.length}\r\n${extra}\r\n`,
    ),
    b,
  ]);
}

// An OpenAI-shaped error body: {"error": {"message": string, "type": string, ...}}.
function assertOpenAIError(text, what = '') {
  let v;
  assert.doesNotThrow(() => (v = JSON.parse(text)), `${what}: body is not JSON: ${text}`);
  assert.equal(typeof v.error, 'object', `${what}: no error object: ${text}`);
  assert.equal(typeof v.error.message, 'string', `${what}: no error.message: ${text}`);
  assert.ok(v.error.message.length > 0, `${what}: empty message`);
  assert.equal(typeof v.error.type, 'string', `${what}: no error.type: ${text}`);
  assert.ok('code' in v.error && 'param' in v.error, `${what}: code/param missing: ${text}`);
  return v.error;
}

async function assertHealthy(gw) {
  assert.equal(gw.proc.exitCode, null, `gateway exited:\n${gw.out.stderr}`);
  const r = await fetch(`${gw.url}/healthz`);
  assert.equal(r.status, 200);
}

// ---- fixtures ----

let mock;
let small; // max_body_bytes 1024, max_header_bytes 2048, header_timeout_ms 800
let open; // defaults, except a short idle timeout

before(async () => {
  mock = await startMock();
  [small, open] = await Promise.all([
    startGateway(
      configYaml({
        upstreams: [mock.baseURL],
        server: { max_body_bytes: 1024, max_header_bytes: 2048, header_timeout_ms: 800, access_log: 'off' },
      }),
    ),
    startGateway(configYaml({ upstreams: [mock.baseURL], server: { idle_timeout_ms: 1500, access_log: 'off' } })),
  ]);
});

after(async () => {
  await Promise.all([small?.stop(), open?.stop(), mock?.stop()]);
});

// ---- body and header size ----

describe('request size limits', () => {
  test('a body over max_body_bytes gets 413 in the OpenAI error shape, then the server still serves', async () => {
    const body = JSON.stringify({ ...CHAT, pad: 'x'.repeat(2000) });
    const r = await fetch(`${small.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    assert.equal(r.status, 413);
    assert.match(r.headers.get('content-type') ?? '', /application\/json/);
    assertOpenAIError(await r.text(), '413');

    const client = new OpenAI({ baseURL: small.baseURL, apiKey: 'k', maxRetries: 0 });
    const ok = await client.chat.completions.create(CHAT);
    assert.equal(ok.object, 'chat.completion');
    await assertHealthy(small);
  });

  test('max_body_bytes is exact: a body of 1024 bytes passes, 1025 bytes is 413', async () => {
    const base = JSON.stringify(CHAT);
    const at = (n) => base.slice(0, -1) + ',"pad":"' + 'x'.repeat(n - base.length - 9) + '"}';
    assert.equal(at(1024).length, 1024);
    assert.equal(at(1025).length, 1025);
    const post = (body) =>
      fetch(`${small.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const a = await post(at(1024));
    assert.equal(a.status, 200, await a.text());
    const b = await post(at(1025));
    assert.equal(b.status, 413);
    assertOpenAIError(await b.text(), '413 at 1025');
  });

  test('a chunked body that grows past max_body_bytes gets 413', async () => {
    const { status, body } = await new Promise((resolve, reject) => {
      const req = http.request(
        `${small.baseURL}/chat/completions`,
        { method: 'POST', headers: { 'content-type': 'application/json' }, agent: false },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode, body: text }));
        },
      );
      req.on('error', reject);
      // No Content-Length: node sends Transfer-Encoding: chunked.
      for (let i = 0; i < 8; i++) req.write('{"pad":"' + 'y'.repeat(300) + '",');
      req.end('}');
    });
    assert.equal(status, 413);
    assertOpenAIError(body, 'chunked 413');
    await assertHealthy(small);
  });

  test('a chunked body sent in pieces is put together whole, and the upstream gets it', async () => {
    const pieces = ['{"model":"test-model",', '"messages":[{"role":"user",', '"content":"chunk', 'ed ok"}],', '"x_new_param":7}'];
    const { status, body } = await new Promise((resolve, reject) => {
      const req = http.request(
        `${open.baseURL}/chat/completions`,
        { method: 'POST', headers: { 'content-type': 'application/json', 'X-Mixed-Case': 'Kept' }, agent: false },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode, body: text }));
        },
      );
      req.on('error', reject);
      // No Content-Length: node sends Transfer-Encoding: chunked, one chunk per write.
      (async () => {
        for (const p of pieces.slice(0, -1)) {
          req.write(p);
          await new Promise((r) => setTimeout(r, 20));
        }
        req.end(pieces.at(-1));
      })();
    });
    assert.equal(status, 200, body);
    assert.equal(JSON.parse(body).object, 'chat.completion');
    const seen = await mock.lastRequest();
    const sent = JSON.parse(seen.body);
    assert.equal(sent.messages[0].content, 'chunked ok');
    assert.equal(sent.x_new_param, 7);
  });

  test('headers over max_header_bytes get 431', async () => {
    const r = await fetch(`${small.url}/healthz`, { headers: { 'x-big': 'a'.repeat(4096) } });
    assert.equal(r.status, 431);
    assertOpenAIError(await r.text(), '431');
    await assertHealthy(small);
  });

  test('many small headers adding up past max_header_bytes also get 431', async () => {
    const headers = {};
    for (let i = 0; i < 64; i++) headers[`x-h-${i}`] = 'v'.repeat(60);
    const r = await fetch(`${small.url}/healthz`, { headers });
    assert.equal(r.status, 431);
    assertOpenAIError(await r.text(), '431 many');
  });
});

// ---- slow clients ----

describe('slow clients (header_timeout_ms 800)', () => {
  const lo = 500;
  const hi = 3000 * SLOW;

  test('slowloris: a partial request that never completes is closed after the header timeout', async () => {
    const s = await connect(small.port);
    s.write('POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: app');
    const r = await untilClosed(s, hi + 2000);
    assert.ok(r.closed, 'server never closed the half-sent request');
    assert.ok(r.ms >= lo && r.ms <= hi, `closed after ${r.ms} ms, expected ${lo}..${hi}`);
  });

  test('slowloris: a request trickled one byte every 100 ms is closed after the header timeout', async () => {
    const s = await connect(small.port);
    const text = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n' + 'X-Slow: ' + 'z'.repeat(1000);
    let i = 0;
    const timer = setInterval(() => {
      if (!s.destroyed && i < text.length) s.write(text[i++]);
    }, 100);
    const r = await untilClosed(s, hi + 2000);
    clearInterval(timer);
    assert.ok(r.closed, 'server never closed the trickling connection');
    assert.ok(r.ms >= lo && r.ms <= hi, `closed after ${r.ms} ms, expected ${lo}..${hi}`);
  });

  test('a connection that sends nothing is closed after the header timeout', async () => {
    const s = await connect(small.port);
    const r = await untilClosed(s, hi + 2000);
    assert.ok(r.closed, 'server never closed the silent connection');
    assert.ok(r.ms >= lo && r.ms <= hi, `closed after ${r.ms} ms, expected ${lo}..${hi}`);
    const text = r.data.toString('latin1');
    assert.ok(text === '' || /^HTTP\/1\.1 408 /.test(text), `unexpected bytes: ${JSON.stringify(text)}`);
  });

  test('an idle keep-alive connection is closed after idle_timeout_ms (1500)', async () => {
    const s = await connect(open.port);
    const rr = new ResponseReader(s);
    s.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const res = await rr.response();
    assert.equal(res.status, 200);
    const t0 = Date.now();
    const closed = await eventually(() => rr.closed, 6000, 20);
    const ms = Date.now() - t0;
    assert.ok(closed, 'idle keep-alive connection never closed');
    assert.ok(ms >= 1000 && ms <= 4000 * SLOW, `idle connection closed after ${ms} ms, expected ~1500`);
  });
});

// ---- connection cap ----

describe('max_connections', () => {
  let capped;
  before(async () => {
    capped = await startGateway(
      configYaml({ upstreams: [mock.baseURL], server: { max_connections: 3, header_timeout_ms: 10000, access_log: 'off' } }),
    );
  });
  after(() => capped?.stop());

  // Opens 3 connections that each sent half a request, runs fn, then closes them.
  async function withFullHouse(fn) {
    // Connections closed by the previous test are released by the server asynchronously:
    // wait until it serves again before filling it up.
    assert.ok(await serves(), 'gateway does not serve before filling it up');
    const idle = [];
    try {
      for (let i = 0; i < 3; i++) {
        const s = await connect(capped.port);
        idle.push(s);
        // One full exchange proves the server accepted and counted the connection ...
        const rr = new ResponseReader(s);
        s.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
        assert.equal((await rr.response()).status, 200, `connection ${i + 1} of 3 was not served`);
        // ... then it starts a request it never finishes.
        s.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      }
      await sleep(50);
      await fn();
    } finally {
      for (const s of idle) s.destroy();
    }
  }
  // One request on a fresh connection that is closed afterwards, so that it does not itself
  // hold one of the 3 slots (fetch would keep its connection in a pool).
  const getOnce = (path) =>
    new Promise((resolve) => {
      const req = http.get(`${capped.url}${path}`, { agent: false, timeout: 3000 }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode, text }));
        res.on('error', (e) => resolve({ status: 'error', text: String(e) }));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => resolve({ status: 'error', text: String(e) }));
    });
  const serves = () => eventually(async () => (await getOnce('/healthz')).status === 200, 3000);

  test('with 3 connections open, a 4th gets a well-formed 503 OpenAI-shaped error and is closed', async () => {
    assert.ok(await serves(), 'gateway does not serve before the test');
    await withFullHouse(async () => {
      const s4 = await connect(capped.port);
      const r4 = await untilClosed(s4, 5000);
      assert.ok(r4.closed, 'the 4th connection was kept open');
      const text = r4.data.toString('utf8');
      assert.match(text, /^HTTP\/1\.1 503 /, text);
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      assertOpenAIError(body, '503');
      const cl = Number(/content-length:\s*(\d+)/i.exec(text)?.[1]);
      assert.equal(Buffer.byteLength(body), cl, `Content-Length ${cl} does not match the ${Buffer.byteLength(body)}-byte body: ${body}`);
    });
  });

  test('with 3 connections open, an SDK / fetch client gets the 503 (not a hang or a broken response)', async () => {
    assert.ok(await serves(), 'gateway does not serve before the test');
    await withFullHouse(async () => {
      const r = await fetch(`${capped.url}/healthz`, { signal: AbortSignal.timeout(3000) });
      assert.equal(r.status, 503);
      assertOpenAIError(await r.text(), '503 via fetch');

      const client = new OpenAI({ baseURL: capped.baseURL, apiKey: 'k', maxRetries: 0, timeout: 3000 });
      const err = await client.chat.completions.create(CHAT).then(
        () => null,
        (e) => e,
      );
      assert.ok(err instanceof OpenAI.APIError, `expected an APIError, got ${err}`);
      assert.equal(err.status, 503, `SDK saw: ${err}`);
    });
  });

  test('closing connections frees their slots', async () => {
    await withFullHouse(async () => {
      const r = await getOnce('/healthz');
      assert.notEqual(r.status, 200, 'a 4th connection was served although 3 were open');
    });
    assert.ok(await serves(), 'closed connections did not free their slots');
  });
});

// ---- malformed input ----

describe('malformed input', () => {
  const cases = {
    'binary garbage': Buffer.from([0x00, 0x01, 0xff, 0xfe, 0x13, 0x37, 0x0d, 0x0a, 0x0d, 0x0a]),
    'text garbage': Buffer.from('this is not http at all\r\n\r\n'),
    'bad method token': Buffer.from('G@T /healthz HTTP/1.1\r\nHost: x\r\n\r\n'),
    'missing version': Buffer.from('GET /healthz\r\nHost: x\r\n\r\n'),
    'bad version': Buffer.from('GET /healthz HTTX/1.1\r\nHost: x\r\n\r\n'),
    'header without colon': Buffer.from('GET /healthz HTTP/1.1\r\nHost x\r\n\r\n'),
    'bad content-length': Buffer.from('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'),
    'two content-lengths': Buffer.from('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}'),
    'bad chunk size': Buffer.from('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'),
  };
  for (const [name, bytes] of Object.entries(cases)) {
    test(`${name} → 400 JSON error, process alive`, async () => {
      const s = await connect(open.port);
      const done = untilClosed(s, 5000);
      s.write(bytes);
      const r = await done;
      assert.ok(r.closed, 'connection left open after a malformed request');
      const text = r.data.toString('utf8');
      assert.match(text, /^HTTP\/1\.1 400 /, `got: ${JSON.stringify(text)}`);
      assertOpenAIError(text.slice(text.indexOf('\r\n\r\n') + 4), name);
      await assertHealthy(open);
    });
  }

  test('100 concurrent junk requests all get 4xx JSON errors and the process stays alive', async () => {
    const rnd = (n) => Buffer.from(Array.from({ length: n }, () => Math.floor(Math.random() * 256)));
    const bodies = [
      () => rnd(64 + Math.floor(Math.random() * 2000)),
      () => '['.repeat(10000),
      () => '{"a":'.repeat(10000),
      () => JSON.stringify({ model: 'test-model', messages: [] }).slice(0, -2) + '['.repeat(10000),
      () =>
        Buffer.concat([
          Buffer.from('{"model":"test-model","messages":[{"role":"user","content":"'),
          Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1, 0xed, 0xa0, 0x80]),
          Buffer.from('"}]}'),
        ]),
      () => Buffer.concat([Buffer.from('{"model":"'), Buffer.from([0xc0, 0xaf, 0xf8]), Buffer.from('","messages":[{"role":"user"}]}')]),
      () => '',
      () => 'null',
      () => '[]',
      () => '{"model":5,"messages":[{"role":"user","content":"x"}]}',
      () => '{"model":"test-model","messages":"nope"}',
      () => '{"model":"test-model","messages":[1,2,3]}',
      () => '{"model":"test-model","messages":[{"role":"user","content":"x"}],"stream":"yes"}',
      () => '{"model":"no-such-model","messages":[{"role":"user","content":"x"}]}',
      () => '{"model":"test-model","messages":[{"role":"user","content":"x"}]',
    ];
    const paths = ['/v1/chat/completions', '/v1/embeddings'];
    const reqs = Array.from({ length: 100 }, (_, i) => {
      const body = bodies[i % bodies.length]();
      const path = paths[Math.floor(i / bodies.length) % paths.length];
      return fetch(`${open.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(
        async (r) => ({ i, path, status: r.status, type: r.headers.get('content-type'), text: await r.text() }),
      );
    });
    const results = await Promise.all(reqs);
    for (const r of results) {
      const what = `#${r.i} ${r.path} body kind ${r.i % bodies.length}`;
      assert.ok(r.status >= 400 && r.status < 500, `${what}: status ${r.status}: ${r.text.slice(0, 200)}`);
      assert.match(r.type ?? '', /application\/json/, what);
      assertOpenAIError(r.text, what);
    }
    await assertHealthy(open);
  });
});

// ---- Expect, keep-alive, pipelining ----

describe('connection reuse', () => {
  test('Expect: 100-continue: the server says 100 Continue before the body is sent, then answers', async () => {
    const s = await connect(open.port);
    const rr = new ResponseReader(s);
    const body = Buffer.from(JSON.stringify(CHAT));
    s.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`,
    );
    const cont = await Promise.race([rr.head(), sleep(2000).then(() => null)]);
    assert.ok(cont, 'no interim response within 2 s (curl would wait 1 s and then send anyway)');
    assert.equal(cont.status, 100, cont.statusLine);
    s.write(body);
    const res = await rr.response();
    assert.equal(res.status, 200, res.body);
    assert.equal(JSON.parse(res.body).object, 'chat.completion');
    s.destroy();
  });

  test('Expect: 100-continue with a body over the limit gets 413 without sending the body', async () => {
    const s = await connect(small.port);
    const done = untilClosed(s, 5000);
    s.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: 100000\r\nExpect: 100-continue\r\n\r\n`,
    );
    const r = await done;
    const text = r.data.toString('utf8');
    assert.match(text, /^HTTP\/1\.1 413 /, JSON.stringify(text.slice(0, 200)));
  });

  test('keep-alive: 50 sequential requests over one raw socket all succeed', async () => {
    const s = await connect(open.port);
    const rr = new ResponseReader(s);
    for (let i = 0; i < 50; i++) {
      const body = { ...CHAT, messages: [{ role: 'user', content: `request ${i}` }] };
      s.write(chatRequestBytes(body, `X-Request-Id: ka-${i}\r\n`));
      const res = await rr.response();
      assert.equal(res.status, 200, `request ${i}: ${res.body}`);
      assert.equal(res.headers['x-request-id'], `ka-${i}`);
      assert.notEqual(res.headers.connection?.toLowerCase(), 'close', `request ${i} closed the connection`);
      assert.equal(JSON.parse(res.body).object, 'chat.completion');
    }
    assert.equal(rr.closed, false);
    s.destroy();
  });

  test('keep-alive: 50 sequential requests through one http.Agent keepAlive socket', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const ports = new Set();
    try {
      for (let i = 0; i < 50; i++) {
        const { status, port, body } = await new Promise((resolve, reject) => {
          const req = http.request(
            `${open.baseURL}/chat/completions`,
            { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
            (res) => {
              let text = '';
              res.on('data', (d) => (text += d));
              res.on('end', () => resolve({ status: res.statusCode, port: res.socket?.localPort ?? req.socket.localPort, body: text }));
            },
          );
          req.on('error', reject);
          req.end(JSON.stringify(CHAT));
        });
        assert.equal(status, 200, body);
        ports.add(port);
      }
    } finally {
      agent.destroy();
    }
    assert.equal(ports.size, 1, `used ${ports.size} connections`);
  });

  test('pipelined requests in one write are answered in order', async () => {
    const s = await connect(open.port);
    const rr = new ResponseReader(s);
    s.write(
      Buffer.concat([
        chatRequestBytes(CHAT, 'X-Request-Id: pipe-1\r\n'),
        Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'),
        chatRequestBytes(CHAT, 'X-Request-Id: pipe-3\r\n'),
      ]),
    );
    const a = await rr.response();
    const b = await rr.response();
    const c = await rr.response();
    assert.deepEqual([a.status, b.status, c.status], [200, 200, 200]);
    assert.equal(a.headers['x-request-id'], 'pipe-1');
    assert.equal(JSON.parse(b.body).status, 'ok');
    assert.equal(c.headers['x-request-id'], 'pipe-3');
    s.destroy();
  });
});

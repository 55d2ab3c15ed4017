// Every failure a client can see, in OpenAI's error shape, and ordered fallback across
// deployments: real gateways in front of mock providers that fail on purpose.
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMock, startGateway, configYaml, SLOW } from './lib/harness.mjs';

const MESSAGES = [{ role: 'user', content: 'Say hello' }];
const WORDS = ['Hello', 'from', 'the', 'Stratus', 'mock', 'provider.', 'This', 'answer', 'is', 'simulated', 'token', 'by'];
const FULL_TEXT = WORDS.join(' '); // the mock's default 12-token answer

// A gateway config with named providers and several aliases.
// providers: {name: {url, extra?}}; models: {alias: [[provider, model], ...]}
function multiYaml(providers, models) {
  const p = Object.entries(providers)
    .map(
      ([name, { url, extra = '' }]) => `  - name: ${name}
    type: openai
    base_url: ${url}
${extra}`,
    )
    .join('\n');
  const m = Object.entries(models)
    .map(
      ([alias, deps]) => `  - name: ${alias}
    deployments:
${deps.map(([prov, model]) => `      - {provider: ${prov}, model: ${model}}`).join('\n')}`,
    )
    .join('\n');
  return `server:
  listen: "127.0.0.1:0"
providers:
${p}
models:
${m}
`;
}

// Asserts OpenAI's error shape and returns the inner error object.
function assertErrorShape(body) {
  assert.equal(typeof body, 'object');
  assert.ok(body !== null && typeof body.error === 'object' && body.error !== null, `no error object: ${JSON.stringify(body)}`);
  for (const k of ['message', 'type', 'param', 'code']) {
    assert.ok(Object.hasOwn(body.error, k), `error.${k} missing: ${JSON.stringify(body)}`);
  }
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0);
  assert.equal(typeof body.error.type, 'string');
  return body.error;
}

async function post(url, body, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    assert.fail(`status ${res.status}: body is not JSON: ${text}`);
  }
  return { res, json };
}

// Runs `fn`, failing with a clear message (and calling `onLate`) when it takes longer than `ms`.
async function within(ms, what, fn, onLate = () => {}) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => {
      onLate();
      reject(new Error(`${what}: nothing happened within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([fn(), late]);
  } finally {
    clearTimeout(timer);
  }
}

// Runs `fn` and returns what it threw; fails when it did not throw.
async function thrown(fn) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  assert.fail('expected an error');
}

describe('errors and fallback', () => {
  const mocks = {};
  let deadPort;
  let gw; // the main gateway with one alias per scenario
  let hangGw; // a gateway with a 300 ms first-byte timeout in front of a hanging provider
  let client;
  const aliases = [
    'ok-model',
    'fail500-model',
    'dead-model',
    'ratelimited-model',
    'rejects-model',
    'fallback-dead',
    'fallback-503',
    'all-fail',
    'stream-fallback',
    'stream-cut',
    'stream-stall-fallback',
    'stream-stall',
  ];

  before(async () => {
    const specs = {
      ok: [],
      fail500: ['--fail-status', '500'],
      fail503: ['--fail-status', '503'],
      hang: ['--hang'],
      r429: ['--fail-status', '429', '--retry-after', '7'],
      r400: ['--fail-status', '400'],
      cut0: ['--close-after-chunks', '0'],
      cutMid: ['--close-after-chunks', '3', '--tokens-per-sec', '50'],
      stall0: ['--hang-after-chunks', '0'],
      stallMid: ['--hang-after-chunks', '3', '--tokens-per-sec', '50'],
      dead: [],
    };
    const started = await Promise.all(Object.values(specs).map((a) => startMock(a)));
    Object.keys(specs).forEach((k, i) => (mocks[k] = started[i]));
    // A port nobody listens on any more: connections to it are refused.
    deadPort = mocks.dead.port;
    await mocks.dead.stop();
    delete mocks.dead;
    const deadURL = `http://127.0.0.1:${deadPort}/v1`;

    const providers = {
      'cloud-ok': { url: mocks.ok.baseURL },
      'cloud-fail500': { url: mocks.fail500.baseURL },
      'cloud-fail503': { url: mocks.fail503.baseURL },
      'cloud-dead': { url: deadURL },
      'cloud-429': { url: mocks.r429.baseURL },
      'cloud-400': { url: mocks.r400.baseURL },
      'cloud-cut0': { url: mocks.cut0.baseURL },
      'cloud-cutmid': { url: mocks.cutMid.baseURL },
      'cloud-stall0': { url: mocks.stall0.baseURL, extra: '    timeouts: {idle_ms: 300}' },
      'cloud-stallmid': { url: mocks.stallMid.baseURL, extra: '    timeouts: {idle_ms: 300}' },
    };
    const models = {
      'ok-model': [['cloud-ok', 'm-ok']],
      'fail500-model': [['cloud-fail500', 'm-500']],
      'dead-model': [['cloud-dead', 'm-dead']],
      'ratelimited-model': [['cloud-429', 'm-429']],
      'rejects-model': [['cloud-400', 'm-400']],
      'fallback-dead': [
        ['cloud-dead', 'm-dead'],
        ['cloud-ok', 'm-ok'],
      ],
      'fallback-503': [
        ['cloud-fail503', 'm-503'],
        ['cloud-ok', 'm-ok'],
      ],
      'all-fail': [
        ['cloud-fail500', 'm-500'],
        ['cloud-fail503', 'm-503'],
      ],
      'stream-fallback': [
        ['cloud-cut0', 'm-cut0'],
        ['cloud-ok', 'm-ok'],
      ],
      'stream-cut': [
        ['cloud-cutmid', 'm-cutmid'],
        ['cloud-ok', 'm-ok'],
      ],
      'stream-stall-fallback': [
        ['cloud-stall0', 'm-stall0'],
        ['cloud-ok', 'm-ok'],
      ],
      'stream-stall': [
        ['cloud-stallmid', 'm-stallmid'],
        ['cloud-ok', 'm-ok'],
      ],
    };
    [gw, hangGw] = await Promise.all([
      startGateway(multiYaml(providers, models)),
      startGateway(
        configYaml({ upstreams: [mocks.hang.baseURL], alias: 'hang-model', providerExtra: '    timeouts: {first_byte_ms: 300}' }),
      ),
    ]);
    client = new OpenAI({ apiKey: 'sk-test', baseURL: gw.baseURL, maxRetries: 0, timeout: 10000 * SLOW });
  });

  after(async () => {
    await Promise.all([gw?.stop(), hangGw?.stop(), ...Object.values(mocks).map((m) => m.stop())]);
  });

  // Whatever went wrong, the gateways keep running and answering.
  afterEach(async () => {
    for (const g of [gw, hangGw]) {
      assert.equal(g.proc.exitCode, null, `gateway exited: ${g.out.stderr}`);
      assert.equal(g.proc.signalCode, null, `gateway killed: ${g.out.stderr}`);
      const res = await fetch(`${g.url}/healthz`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: 'ok' });
    }
  });

  const chatURL = () => `${gw.baseURL}/chat/completions`;

  describe('request validation (400)', () => {
    it('rejects invalid JSON', async () => {
      const { res, json } = await post(chatURL(), '{"model": "ok-model", "messages": [');
      assert.equal(res.status, 400);
      const e = assertErrorShape(json);
      assert.equal(e.type, 'invalid_request_error');
      assert.match(e.message, /JSON/);
      assert.ok(res.headers.get('x-request-id'));
    });

    it('rejects a missing model', async () => {
      const { res, json } = await post(chatURL(), { messages: MESSAGES });
      assert.equal(res.status, 400);
      const e = assertErrorShape(json);
      assert.equal(e.type, 'invalid_request_error');
      assert.equal(e.param, 'model');
      assert.match(e.message, /model/);
    });

    it('rejects a model that is not a string', async () => {
      const { res, json } = await post(chatURL(), { model: 42, messages: MESSAGES });
      assert.equal(res.status, 400);
      const e = assertErrorShape(json);
      assert.equal(e.type, 'invalid_request_error');
      assert.equal(e.param, 'model');
    });

    it('rejects missing messages', async () => {
      const { res, json } = await post(chatURL(), { model: 'ok-model' });
      assert.equal(res.status, 400);
      const e = assertErrorShape(json);
      assert.equal(e.type, 'invalid_request_error');
      assert.equal(e.param, 'messages');
      assert.match(e.message, /messages/);
    });

    it('rejects messages that are not an array', async () => {
      const { res, json } = await post(chatURL(), { model: 'ok-model', messages: 'hello' });
      assert.equal(res.status, 400);
      const e = assertErrorShape(json);
      assert.equal(e.type, 'invalid_request_error');
      assert.equal(e.param, 'messages');
    });

    it('does not reach any provider for an invalid request', async () => {
      const before = (await mocks.ok.stats()).requests;
      const { res } = await post(chatURL(), { model: 'ok-model', messages: {} });
      assert.equal(res.status, 400);
      assert.equal((await mocks.ok.stats()).requests, before + 1); // only the stats call itself
    });
  });

  describe('routing errors', () => {
    it('404 for an unknown model, listing the known aliases (SDK NotFoundError)', async () => {
      const err = await thrown(() => client.chat.completions.create({ model: 'no-such-model', messages: MESSAGES }));
      assert.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 404);
      assert.equal(err.code, 'model_not_found');
      assert.equal(err.param, 'model');
      assert.match(err.message, /no-such-model/);
      for (const a of aliases) assert.ok(err.message.includes(a), `alias ${a} not listed: ${err.message}`);
      const { res, json } = await post(chatURL(), { model: 'no-such-model', messages: MESSAGES });
      assert.equal(res.status, 404);
      const e = assertErrorShape(json);
      assert.equal(e.code, 'model_not_found');
      assert.equal(e.type, 'invalid_request_error');
    });

    it('404 for an unknown path', async () => {
      const res = await fetch(`${gw.url}/v1/no/such/path`);
      assert.equal(res.status, 404);
      const e = assertErrorShape(await res.json());
      assert.match(e.message, /\/v1\/no\/such\/path/);
    });

    it('405 for the wrong method, with Allow', async () => {
      const res = await fetch(chatURL());
      assert.equal(res.status, 405);
      assert.equal(res.headers.get('allow'), 'POST');
      const e = assertErrorShape(await res.json());
      assert.equal(e.type, 'invalid_request_error');
      assert.match(e.message, /GET/);
    });
  });

  describe('upstream failures', () => {
    it('502 when the only upstream answers 500 twice (one retry after a backoff), naming the provider', async () => {
      const before = (await mocks.fail500.stats()).failures;
      const err = await thrown(() => client.chat.completions.create({ model: 'fail500-model', messages: MESSAGES }));
      assert.ok(err instanceof OpenAI.InternalServerError, `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 502);
      assert.match(err.message, /cloud-fail500/);
      assert.match(err.message, /500/);
      assert.match(err.message, /after 2 attempt\(s\)/);
      assert.equal(err.headers.get('x-stratus-attempts'), '2');
      assert.equal((await mocks.fail500.stats()).failures, before + 2);
      const { res, json } = await post(chatURL(), { model: 'fail500-model', messages: MESSAGES });
      assert.equal(res.status, 502);
      const e = assertErrorShape(json);
      assert.equal(e.type, 'server_error');
    });

    it('504 when the upstream hangs past the first-byte timeout', async () => {
      const t0 = Date.now();
      const { res, json } = await post(`${hangGw.baseURL}/chat/completions`, { model: 'hang-model', messages: MESSAGES });
      const took = Date.now() - t0;
      assert.equal(res.status, 504);
      const e = assertErrorShape(json);
      assert.equal(e.type, 'timeout_error');
      assert.match(e.message, /timeout/);
      assert.ok(took >= 250, `answered after ${took} ms, before the 300 ms timeout`);
      assert.ok(took < 3000 * SLOW, `took ${took} ms for a 300 ms timeout`);
      // The hung request reached the provider.
      assert.ok((await mocks.hang.stats()).chat >= 1);
    });

    // No deployment can be reached: the service is unavailable (not a bad answer from upstream).
    it('503 when the upstream refuses connections', async () => {
      const err = await thrown(() => client.chat.completions.create({ model: 'dead-model', messages: MESSAGES }));
      assert.ok(err instanceof OpenAI.APIError);
      assert.equal(err.status, 503);
      assert.match(err.message, /failed after 2 attempt\(s\)/);
      assert.match(err.message, /dead/);
      const { res, json } = await post(chatURL(), { model: 'dead-model', messages: MESSAGES });
      assert.equal(res.status, 503);
      assert.equal(assertErrorShape(json).type, 'server_error');
    });

    it('passes an upstream 429 through with Retry-After', async () => {
      const err = await thrown(() => client.chat.completions.create({ model: 'ratelimited-model', messages: MESSAGES }));
      assert.ok(err instanceof OpenAI.RateLimitError, `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 429);
      assert.equal(err.headers.get('retry-after'), '7');
      assert.equal(err.code, 'rate_limit_exceeded');
      assert.equal(err.headers.get('x-stratus-provider'), 'cloud-429');
      // Within its Retry-After the deployment is not asked again: the gateway answers itself.
      const before = (await mocks.r429.stats()).chat;
      const { res, json } = await post(chatURL(), { model: 'ratelimited-model', messages: MESSAGES });
      assert.equal(res.status, 429);
      const wait = Number(res.headers.get('retry-after'));
      assert.ok(wait >= 1 && wait <= 7, `retry-after ${wait}`);
      assert.equal(assertErrorShape(json).code, 'rate_limit_exceeded');
      assert.equal(res.headers.get('x-stratus-attempts'), '0');
      assert.equal((await mocks.r429.stats()).chat, before);
    });

    it('passes an upstream 400 through with its body', async () => {
      const { res, json } = await post(chatURL(), { model: 'rejects-model', messages: MESSAGES });
      assert.equal(res.status, 400);
      const e = assertErrorShape(json);
      assert.deepEqual(json, {
        error: { message: 'Invalid request (injected by stratus mock).', type: 'invalid_request_error', param: null, code: null },
      });
      assert.equal(e.type, 'invalid_request_error');
      const err = await thrown(() => client.chat.completions.create({ model: 'rejects-model', messages: MESSAGES }));
      assert.ok(err instanceof OpenAI.BadRequestError);
      assert.match(err.message, /injected by stratus mock/);
    });
  });

  describe('fallback', () => {
    it('tries the next deployment when the first refuses connections', async () => {
      const { data, response } = await client.chat.completions
        .create({ model: 'fallback-dead', messages: MESSAGES })
        .withResponse();
      assert.equal(response.status, 200);
      assert.equal(data.choices[0].message.content, FULL_TEXT);
      assert.equal(response.headers.get('x-stratus-deployment'), 'cloud-ok/m-ok');
      assert.equal(response.headers.get('x-stratus-provider'), 'cloud-ok');
      assert.equal(response.headers.get('x-stratus-attempts'), '2');
      assert.equal(JSON.parse((await mocks.ok.lastRequest()).body).model, 'm-ok');
    });

    it('tries the next deployment when the first answers 503', async () => {
      const before = (await mocks.fail503.stats()).failures;
      const { data, response } = await client.chat.completions
        .create({ model: 'fallback-503', messages: MESSAGES })
        .withResponse();
      assert.equal(response.status, 200);
      assert.equal(data.choices[0].message.content, FULL_TEXT);
      assert.equal(response.headers.get('x-stratus-deployment'), 'cloud-ok/m-ok');
      assert.equal(response.headers.get('x-stratus-attempts'), '2');
      assert.equal((await mocks.fail503.stats()).failures, before + 1);
    });

    // The last deployment answered 503 (overloaded): the client sees that status, so it backs
    // off, with a message naming every attempt.
    it('every deployment fails: the last error kind decides the status (503 overloaded)', async () => {
      const { res, json } = await post(chatURL(), { model: 'all-fail', messages: MESSAGES });
      assert.equal(res.status, 503);
      const e = assertErrorShape(json);
      assert.match(e.message, /^Model `[^`]+` failed after 2 attempt\(s\)/);
      assert.match(e.message, /all-fail/);
      const err = await thrown(() => client.chat.completions.create({ model: 'all-fail', messages: MESSAGES }));
      assert.equal(err.status, 503);
      assert.match(err.message, /failed after 2 attempt\(s\)/);
    });

    // The first deployment sends its response head and then fails: the client gets the whole
    // stream from the second one.
    async function expectStreamFromSecond(model, first) {
      const before = (await first.stats()).streams;
      const okBefore = (await mocks.ok.stats()).streams;
      const controller = new AbortController();
      const { text, finish, response } = await within(
        2500 * SLOW,
        `stream of ${model}`,
        async () => {
          const { data: stream, response } = await client.chat.completions
            .create({ model, messages: MESSAGES, stream: true }, { signal: controller.signal })
            .withResponse();
          let text = '';
          let finish = null;
          for await (const chunk of stream) {
            text += chunk.choices[0]?.delta?.content ?? '';
            finish = chunk.choices[0]?.finish_reason ?? finish;
          }
          return { text, finish, response };
        },
        () => controller.abort(),
      );
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('x-stratus-deployment'), 'cloud-ok/m-ok');
      assert.equal(response.headers.get('x-stratus-attempts'), '2');
      assert.equal(text, FULL_TEXT);
      assert.equal(finish, 'stop');
      assert.equal((await first.stats()).streams, before + 1); // the first one was tried
      assert.equal((await mocks.ok.stats()).streams, okBefore + 1);
    }

    // The first deployment fails after some chunks reached the client: the client sees those
    // chunks, then an OpenAI-shaped error event; no other deployment is tried.
    async function expectStreamError(model, type) {
      const okBefore = (await mocks.ok.stats()).chat;
      const controller = new AbortController();
      const chunks = [];
      const err = await within(
        2500 * SLOW,
        `stream of ${model}`,
        () =>
          thrown(async () => {
            const stream = await client.chat.completions.create(
              { model, messages: MESSAGES, stream: true },
              { signal: controller.signal },
            );
            for await (const chunk of stream) chunks.push(chunk);
          }),
        () => controller.abort(),
      );
      assert.ok(err instanceof OpenAI.APIError, `got ${err?.constructor?.name}: ${err}`);
      assert.ok(!(err instanceof OpenAI.APIUserAbortError), 'the test aborted the stream');
      assert.ok(chunks.length >= 1, 'no chunk before the error');
      assert.ok(chunks.length < 14, `the whole stream arrived (${chunks.length} chunks)`);
      assert.equal(chunks[0].choices[0].delta.role, 'assistant');
      assert.ok(err.error && typeof err.error === 'object', 'no error object in the event');
      for (const k of ['message', 'type', 'param', 'code']) assert.ok(Object.hasOwn(err.error, k), `error.${k} missing`);
      assert.equal(err.error.type, type);
      // Once bytes reached the client, no other deployment is tried.
      assert.equal((await mocks.ok.stats()).chat, okBefore);
    }

    it('serves a stream from the second deployment when the first closes before the first event', async () => {
      await expectStreamFromSecond('stream-fallback', mocks.cut0);
    });

    it('serves a stream from the second deployment when the first stalls before the first event', async () => {
      await expectStreamFromSecond('stream-stall-fallback', mocks.stall0);
    });

    it('sends an error event when the upstream closes the stream after the first byte', async () => {
      await expectStreamError('stream-cut', 'server_error');
    });

    it('sends an error event when the upstream stalls after the first byte', async () => {
      await expectStreamError('stream-stall', 'timeout_error');
    });
  });
});

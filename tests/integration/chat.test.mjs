// The happy path through the official OpenAI SDK: plain and streamed chat, embeddings and the
// model list, against a real gateway in front of real mock providers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMock, startGateway, configYaml, SLOW } from './lib/harness.mjs';

const CLIENT_KEY = 'sk-client-secret-that-must-stay-here';
const PROVIDER_AUTH = 'Bearer sk-provider-123';
const MESSAGES = [{ role: 'user', content: 'Say hello' }];

// The mock's answer for n tokens (its fixed word list, see src/mock/mock.cpp).
const WORDS = ['Hello', 'from', 'the', 'Stratus', 'mock', 'provider.', 'This', 'answer', 'is', 'simulated', 'token', 'by'];
const mockText = (n) => WORDS.slice(0, n).join(' ');

describe('chat, streaming, embeddings and models through the SDK', () => {
  let fast; // default mock: 12 tokens, answered at once
  let slow; // paced mock: 10 tokens at 20 tokens/s
  let gw;
  let client;

  before(async () => {
    [fast, slow] = await Promise.all([startMock(), startMock(['--tokens-per-sec', '20', '--tokens', '10'])]);
    // Providers cloud-0 (fast) and cloud-1 (slow), both with a provider key; three aliases.
    const base = configYaml({ upstreams: [fast.baseURL, slow.baseURL], providerExtra: '    api_key: sk-provider-123' });
    const yaml =
      base.slice(0, base.indexOf('models:')) +
      `models:
  - name: test-model
    deployments:
      - {provider: cloud-0, model: upstream-model-0}
  - name: slow-model
    deployments:
      - {provider: cloud-1, model: upstream-model-1}
  - name: embed-model
    deployments:
      - {provider: cloud-0, model: text-embedding-upstream}
`;
    gw = await startGateway(yaml);
    client = new OpenAI({ apiKey: CLIENT_KEY, baseURL: gw.baseURL, maxRetries: 0, timeout: 10000 * SLOW });
  });

  after(async () => {
    await Promise.all([gw?.stop(), fast?.stop(), slow?.stop()]);
  });

  const lastBody = async (mock) => JSON.parse((await mock.lastRequest()).body);

  it('answers a plain chat completion with content, usage and routing headers', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'test-model', messages: MESSAGES })
      .withResponse();
    assert.equal(response.status, 200);
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.choices.length, 1);
    assert.equal(data.choices[0].message.role, 'assistant');
    assert.equal(data.choices[0].message.content, mockText(12));
    assert.equal(data.choices[0].finish_reason, 'stop');
    assert.equal(data.usage.completion_tokens, 12);
    assert.ok(data.usage.prompt_tokens > 0);
    assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + data.usage.completion_tokens);
    assert.equal(response.headers.get('x-stratus-provider'), 'cloud-0');
    assert.equal(response.headers.get('x-stratus-deployment'), 'cloud-0/upstream-model-0');
    assert.equal(response.headers.get('x-stratus-attempts'), '1');
    const rid = response.headers.get('x-request-id');
    assert.match(rid ?? '', /^req_[0-9a-f]+/);
    // The gateway's own id went upstream too.
    const last = await fast.lastRequest();
    assert.equal(last.headers['x-request-id'], rid);
  });

  it('echoes a client x-request-id and forwards it upstream', async () => {
    const rid = 'it-client-request-4711';
    const { response } = await client.chat.completions
      .create({ model: 'test-model', messages: MESSAGES }, { headers: { 'x-request-id': rid } })
      .withResponse();
    assert.equal(response.headers.get('x-request-id'), rid);
    const last = await fast.lastRequest();
    assert.equal(last.headers['x-request-id'], rid);
  });

  it('rewrites the model upstream and forwards unknown fields untouched', async () => {
    const metadata = { team: 'search', ticket: 'ABC-1' };
    const future = { a: 1, nested: { list: [1, 'two', null, true] } };
    await client.chat.completions.create({
      model: 'test-model',
      messages: MESSAGES,
      metadata,
      some_future_param: future,
      temperature: 0.25,
    });
    const last = await fast.lastRequest();
    assert.equal(last.method, 'POST');
    assert.equal(last.target, '/v1/chat/completions');
    const body = JSON.parse(last.body);
    assert.equal(body.model, 'upstream-model-0');
    assert.deepEqual(body.some_future_param, future);
    assert.deepEqual(body.metadata, metadata);
    assert.equal(body.temperature, 0.25);
    assert.deepEqual(body.messages, MESSAGES);
  });

  it('sends the provider key upstream, never the client Authorization', async () => {
    await client.chat.completions.create({ model: 'test-model', messages: MESSAGES });
    const last = await fast.lastRequest();
    assert.ok(PROVIDER_AUTH.length !== `Bearer ${CLIENT_KEY}`.length);
    assert.equal(last.headers.authorization, `<redacted:${PROVIDER_AUTH.length} bytes>`);
    assert.ok(!JSON.stringify(last).includes(CLIENT_KEY), 'the client key leaked upstream');
  });

  it('streams chunks as they are produced, not in one piece', async () => {
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'slow-model', messages: MESSAGES, stream: true })
      .withResponse();
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(response.headers.get('x-stratus-deployment'), 'cloud-1/upstream-model-1');
    const times = [];
    let text = '';
    let finish = null;
    for await (const chunk of stream) {
      times.push(Date.now());
      assert.equal(chunk.object, 'chat.completion.chunk');
      for (const c of chunk.choices) {
        text += c.delta?.content ?? '';
        if (c.finish_reason) finish = c.finish_reason;
      }
    }
    assert.equal(text, mockText(10));
    assert.equal(finish, 'stop');
    assert.ok(times.length >= 10, `only ${times.length} chunks`);
    const spread = times.at(-1) - times[0];
    assert.ok(spread >= 300, `chunks arrived within ${spread} ms: buffered, not streamed`);
    const distinct = new Set(times).size;
    assert.ok(distinct >= 5, `only ${distinct} distinct arrival times`);
  });

  it('delivers the usage chunk when the client asks for it', async () => {
    const stream = await client.chat.completions.create({
      model: 'slow-model',
      messages: MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage?.completion_tokens, 10);
    assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + 10);
    // Only the final chunk carries usage.
    assert.equal(chunks.filter((c) => c.usage).length, 1);
    const body = await lastBody(slow);
    assert.equal(body.stream_options?.include_usage, true);
    assert.equal(body.model, 'upstream-model-1');
  });

  it('asks upstream for usage itself but hides it from a client that did not ask', async () => {
    const stream = await client.chat.completions.create({ model: 'slow-model', messages: MESSAGES, stream: true });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk); // ends normally
    assert.ok(chunks.length >= 11, `only ${chunks.length} chunks`);
    for (const c of chunks) {
      assert.ok(c.usage === undefined || c.usage === null, `usage reached the client: ${JSON.stringify(c)}`);
      assert.ok(c.choices.length >= 1, `a chunk with no choices reached the client: ${JSON.stringify(c)}`);
    }
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
    const body = await lastBody(slow);
    assert.equal(body.stream, true);
    assert.equal(body.stream_options?.include_usage, true);
  });

  it('ends a fast (unpaced) stream normally with all content', async () => {
    const stream = await client.chat.completions.create({ model: 'test-model', messages: MESSAGES, stream: true });
    let text = '';
    let n = 0;
    for await (const chunk of stream) {
      n++;
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    assert.equal(text, mockText(12));
    assert.equal(n, 14); // role chunk + 12 tokens + finish chunk; the usage chunk is hidden
  });

  it('returns embeddings the SDK decodes from base64: 1536 dims, deterministic', async () => {
    const { data: a, response } = await client.embeddings
      .create({ model: 'embed-model', input: 'the quick brown fox' })
      .withResponse();
    assert.equal(response.headers.get('x-stratus-deployment'), 'cloud-0/text-embedding-upstream');
    const sent = await lastBody(fast);
    assert.equal(sent.encoding_format, 'base64');
    assert.equal(sent.model, 'text-embedding-upstream');
    assert.equal(a.object, 'list');
    assert.equal(a.data.length, 1);
    const v = a.data[0].embedding;
    assert.ok(Array.isArray(v), 'the SDK did not decode the embedding');
    assert.equal(v.length, 1536);
    assert.ok(v.every((x) => Number.isFinite(x)));
    const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    assert.ok(Math.abs(norm - 1) < 1e-3, `norm ${norm}`);
    assert.ok(a.usage.prompt_tokens > 0);

    const again = await client.embeddings.create({ model: 'embed-model', input: 'the quick brown fox' });
    assert.deepEqual(again.data[0].embedding, v);
    const other = await client.embeddings.create({ model: 'embed-model', input: 'a different text' });
    assert.notDeepEqual(other.data[0].embedding, v);
  });

  it('honours dimensions and batches', async () => {
    const r = await client.embeddings.create({ model: 'embed-model', input: ['one', 'two'], dimensions: 8 });
    assert.equal(r.data.length, 2);
    assert.deepEqual(
      r.data.map((d) => d.index),
      [0, 1],
    );
    for (const d of r.data) assert.equal(d.embedding.length, 8);
    assert.notDeepEqual(r.data[0].embedding, r.data[1].embedding);
    assert.equal((await lastBody(fast)).dimensions, 8);
  });

  it('returns float embeddings equal to the decoded base64 ones', async () => {
    const input = 'float please';
    const f = await client.embeddings.create({ model: 'embed-model', input, encoding_format: 'float' });
    assert.equal((await lastBody(fast)).encoding_format, 'float');
    const v = f.data[0].embedding;
    assert.ok(Array.isArray(v));
    assert.equal(v.length, 1536);
    assert.equal(typeof v[0], 'number');
    const b = await client.embeddings.create({ model: 'embed-model', input });
    const w = b.data[0].embedding;
    assert.equal(w.length, 1536);
    for (let i = 0; i < v.length; i++) assert.ok(Math.abs(v[i] - w[i]) < 1e-6, `dim ${i}: ${v[i]} vs ${w[i]}`);
  });

  it('lists the configured aliases', async () => {
    const page = await client.models.list();
    const ids = [];
    for await (const m of page) ids.push(m.id);
    assert.deepEqual(ids, ['test-model', 'slow-model', 'embed-model']);
    for (const m of page.data) {
      assert.equal(m.object, 'model');
      assert.equal(typeof m.owned_by, 'string');
    }
  });
});

// One conformance suite for every provider: the official `openai` SDK talks to the gateway,
// the gateway talks to `stratus mock --dialect <provider>` in that provider's native protocol.
// The same scenarios run for each provider in PROVIDERS: add a provider there and it is tested.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startGateway, startMock } from './lib/harness.mjs';

const SYSTEM = 'You are terse.';
const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { query: { type: 'string' }, n: { type: 'integer' } }, required: ['query'] },
  },
};

const text = (c) => (typeof c === 'string' ? c : Array.isArray(c) ? c.map((p) => p.text ?? '').join('') : '');

const AWS_KEY_ID = 'AKIDEXAMPLE';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';

// How each provider is configured, and where its native request carries the system prompt.
export const PROVIDERS = [
  {
    type: 'openai',
    provider: (url) => ({ base_url: `${url}/v1`, api_key: 'sk-test' }),
    system: (body) => text(body.messages.find((m) => m.role === 'system')?.content),
    embeddings: true,
  },
  {
    type: 'azure',
    provider: (url) => ({ base_url: url, api_key: 'azure-key', api_version: '2024-10-21' }),
    system: (body) => text(body.messages.find((m) => m.role === 'system')?.content),
    path: /^\/openai\/deployments\/[^/]+\/chat\/completions\?api-version=2024-10-21$/,
    embeddings: true,
    codes: { 400: 'content_filter' },  // the mock's Azure 400 is a content-filter refusal
  },
  {
    type: 'gemini',
    provider: (url) => ({ base_url: url, api_key: 'gemini-key' }),
    system: (body) => text(body.systemInstruction?.parts),
    path: /^\/v1beta\/models\/[^/:]+:(generateContent|streamGenerateContent\?alt=sse)$/,
    embeddings: true, // embedContent reports no token counts: the gateway estimates them
  },
  {
    type: 'vertex',
    provider: (url) => ({ base_url: url, api_key: 'ya29.vertex-token', project: 'my-project', region: 'us-central1' }),
    system: (body) => text(body.systemInstruction?.parts),
    path: /^\/v1\/projects\/my-project\/locations\/us-central1\/publishers\/google\/models\/[^/:]+:generateContent$/,
    embeddings: true,
  },
  {
    type: 'anthropic',
    provider: (url) => ({ base_url: url, api_key: 'sk-ant-test' }),
    system: (body) => body.system,
    path: /^\/v1\/messages$/,
    // Anthropic's own overload status, 529, reaches clients as 503.
    errors: () => [...ERRORS.filter((e) => e.status !== 503), { status: 529, cls: OpenAI.InternalServerError, expect: 503 }],
  },
  {
    type: 'bedrock',
    provider: (url) => ({ base_url: url, region: 'us-east-1', aws_access_key_id: AWS_KEY_ID, aws_secret_access_key: AWS_SECRET }),
    // The mock verifies SigV4 with the pair in these variables.
    mockEnv: { AWS_ACCESS_KEY_ID: AWS_KEY_ID, AWS_SECRET_ACCESS_KEY: AWS_SECRET },
    system: (body) => body.system[0].text,
    path: /^\/model\/model-a\/converse$/,
    embeddings: true,
    // Converse models do not embed: embeddings go to a Cohere model through InvokeModel.
    embeddingsModel: 'cohere.embed-english-v3',
  },
];

const ERRORS = [
  { status: 400, cls: OpenAI.BadRequestError },
  { status: 401, cls: OpenAI.AuthenticationError },
  { status: 403, cls: OpenAI.PermissionDeniedError },
  { status: 404, cls: OpenAI.NotFoundError },
  { status: 429, cls: OpenAI.RateLimitError, retryAfter: '3' },
  { status: 503, cls: OpenAI.InternalServerError },
];
// The prompt does not fit: every provider says so in its own words; clients get OpenAI's code.
const CONTEXT_LENGTH = { status: 400, cls: OpenAI.BadRequestError, code: 'context_length_exceeded', message: 'context-length' };

const errorsOf = (p) => [...(p.errors ? p.errors() : ERRORS), CONTEXT_LENGTH];
const errorAlias = (e) => (e.message ? `e${e.status}-${e.message}` : `e${e.status}`);

function configFor(p, mockUrl, model) {
  const provider = { name: 'cloud', type: p.type, ...p.provider(mockUrl) };
  const aliases = {
    ok: model,
    tools2: `${model}@mock:tool-calls=2`,
    cached: `${model}@mock:cached-tokens=5`,
    cut: `${model}@mock:close-after-chunks=3`,
    broken: `${model}@mock:error-after-chunks=3`,
    ...(p.embeddingsModel ? { emb: p.embeddingsModel } : {}),
    ...Object.fromEntries(
      errorsOf(p).map((e) => [errorAlias(e), `${model}@mock:status=${e.status},retry-after=3${e.message ? `,message=${e.message}` : ''}`]),
    ),
  };
  const lines = ['server:', '  listen: "127.0.0.1:0"', '  access_log: "off"', 'providers:', '  - ' + JSON.stringify(provider), 'models:'];
  for (const [alias, m] of Object.entries(aliases)) {
    lines.push(`  - name: ${alias}`, '    deployments:', `      - {provider: cloud, model: ${JSON.stringify(m)}}`);
  }
  return lines.join('\n') + '\n';
}

for (const p of PROVIDERS) {
  describe(`conformance: ${p.type}`, () => {
    let mock;
    let gw;
    let client;
    before(async () => {
      mock = await startMock(['--dialect', p.dialect ?? p.type, ...(p.mockArgs ?? [])], { env: p.mockEnv });
      gw = await startGateway(configFor(p, mock.url, p.model ?? 'model-a'), [], { env: p.env });
      client = new OpenAI({ baseURL: gw.baseURL, apiKey: 'client-key', maxRetries: 0, timeout: 10000 });
    });
    after(async () => {
      await gw?.stop();
      await mock?.stop();
    });

    const lastNative = async () => {
      const r = await mock.lastRequest();
      return { ...r, json: JSON.parse(r.body) };
    };

    test('text: content, finish_reason stop, usage adds up, routing headers', async () => {
      const { data, response } = await client.chat.completions
        .create({ model: 'ok', messages: [{ role: 'user', content: 'Say hello' }] })
        .withResponse();
      assert.equal(data.object, 'chat.completion');
      assert.match(data.choices[0].message.content, /Hello from the Stratus mock/);
      assert.equal(data.choices[0].finish_reason, 'stop');
      assert.ok(data.usage.prompt_tokens > 0, JSON.stringify(data.usage));
      assert.ok(data.usage.completion_tokens > 0);
      assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + data.usage.completion_tokens);
      assert.equal(response.headers.get('x-stratus-provider'), 'cloud');
      if (p.path) assert.match((await mock.lastRequest()).target, p.path);
    });

    test('multi-turn with a system prompt: the provider gets the system prompt in its own field', async () => {
      const r = await client.chat.completions.create({
        model: 'ok',
        messages: [
          { role: 'system', content: SYSTEM },
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello.' },
          { role: 'user', content: 'And again?' },
        ],
      });
      assert.match(r.choices[0].message.content, /Hello/);
      assert.equal(p.system((await lastNative()).json), SYSTEM);
    });

    test('max_tokens: a cut answer says finish_reason length', async () => {
      const r = await client.chat.completions.create({ model: 'ok', max_tokens: 3, messages: [{ role: 'user', content: 'Hi' }] });
      assert.equal(r.choices[0].finish_reason, 'length');
      assert.equal(r.usage.completion_tokens, 3);
    });

    test('stream: same text as the plain answer, usage only when asked', async () => {
      const plain = await client.chat.completions.create({ model: 'ok', messages: [{ role: 'user', content: 'Hi' }] });
      for (const include_usage of [true, false]) {
        const stream = await client.chat.completions.create({
          model: 'ok',
          stream: true,
          stream_options: { include_usage },
          messages: [{ role: 'user', content: 'Hi' }],
        });
        let content = '';
        let finish = null;
        let usage = null;
        let chunks = 0;
        for await (const chunk of stream) {
          chunks++;
          // Every chunk a client sees has a choice, except the final usage chunk.
          if (!chunk.usage) assert.equal(chunk.choices.length, 1, JSON.stringify(chunk));
          if (chunk.usage) usage = chunk.usage;
          for (const c of chunk.choices) {
            content += c.delta?.content ?? '';
            if (c.finish_reason) finish = c.finish_reason;
          }
        }
        assert.ok(chunks > 3, `only ${chunks} chunks`);
        assert.equal(content, plain.choices[0].message.content);
        assert.equal(finish, 'stop');
        if (include_usage) {
          assert.ok(usage, 'no usage chunk although include_usage was set');
          assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
          assert.equal(usage.completion_tokens, plain.usage.completion_tokens);
        } else {
          assert.equal(usage, null, 'usage chunk sent although include_usage was not set');
        }
      }
    });

    test('cached prompt tokens reach usage.prompt_tokens_details, streamed and not', async () => {
      const r = await client.chat.completions.create({ model: 'cached', messages: [{ role: 'user', content: 'Say hello to everyone here' }] });
      assert.equal(r.usage.prompt_tokens_details?.cached_tokens, 5, JSON.stringify(r.usage));
      assert.ok(r.usage.prompt_tokens >= 5);
      const stream = await client.chat.completions.create({
        model: 'cached',
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: 'Say hello to everyone here' }],
      });
      let usage = null;
      for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
      assert.equal(usage?.prompt_tokens_details?.cached_tokens, 5, JSON.stringify(usage));
      assert.equal(usage.prompt_tokens, r.usage.prompt_tokens);
    });

    test('tools: a tool call with an id, the name and JSON arguments', async () => {
      const r = await client.chat.completions.create({
        model: 'ok',
        tools: [WEATHER_TOOL],
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
      });
      const choice = r.choices[0];
      assert.equal(choice.finish_reason, 'tool_calls');
      assert.equal(choice.message.tool_calls.length, 1);
      const call = choice.message.tool_calls[0];
      assert.ok(call.id, 'tool call without id');
      assert.equal(call.type, 'function');
      assert.equal(call.function.name, 'get_weather');
      assert.equal(JSON.parse(call.function.arguments).query, 'weather in Paris');
    });

    test('tools, streamed and parallel: deltas assemble into two calls with indexes 0 and 1', async () => {
      const stream = await client.chat.completions.create({
        model: 'tools2',
        stream: true,
        tools: [WEATHER_TOOL],
        messages: [{ role: 'user', content: 'Weather in Paris, twice?' }],
      });
      const calls = [];
      let finish = null;
      for await (const chunk of stream) {
        for (const c of chunk.choices) {
          if (c.finish_reason) finish = c.finish_reason;
          for (const d of c.delta?.tool_calls ?? []) {
            calls[d.index] ??= { id: '', name: '', args: '' };
            if (d.id) calls[d.index].id = d.id;
            if (d.function?.name) calls[d.index].name += d.function.name;
            calls[d.index].args += d.function?.arguments ?? '';
          }
        }
      }
      assert.equal(finish, 'tool_calls');
      assert.equal(calls.length, 2, JSON.stringify(calls));
      assert.notEqual(calls[0].id, calls[1].id);
      for (const [i, c] of calls.entries()) {
        assert.ok(c.id, `call ${i} has no id`);
        assert.equal(c.name, 'get_weather');
        assert.deepEqual(JSON.parse(c.args), { query: 'weather in Paris', n: i + 1 });
      }
    });

    test('tool results go back to the provider and the model answers in text', async () => {
      const first = await client.chat.completions.create({
        model: 'tools2',
        tools: [WEATHER_TOOL],
        messages: [{ role: 'user', content: 'Weather in Paris, twice?' }],
      });
      const calls = first.choices[0].message.tool_calls;
      assert.equal(calls.length, 2);
      const r = await client.chat.completions.create({
        model: 'ok',
        tools: [WEATHER_TOOL],
        messages: [
          { role: 'user', content: 'Weather in Paris, twice?' },
          first.choices[0].message,
          ...calls.map((c, i) => ({ role: 'tool', tool_call_id: c.id, content: JSON.stringify({ temp: 20 + i }) })),
        ],
      });
      assert.equal(r.choices[0].finish_reason, 'stop');
      assert.match(r.choices[0].message.content, /Hello/);
      const native = JSON.stringify((await lastNative()).json);
      assert.match(native, /temp.{0,6}21/, `the second tool result is missing upstream: ${native}`);
    });

    for (const e of errorsOf(p)) {
      test(`provider error ${e.status}${e.message ? ` (${e.message})` : ''} → ${e.cls.name} ${e.expect ?? e.status}, OpenAI-shaped`, async () => {
        const err = await client.chat.completions.create({ model: errorAlias(e), messages: [{ role: 'user', content: 'Hi' }] }).then(
          () => null,
          (x) => x,
        );
        assert.ok(err instanceof e.cls, `got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.status, e.expect ?? e.status);
        assert.equal(typeof err.error?.message, 'string');
        assert.equal(err.headers.get('x-stratus-provider'), 'cloud');
        if (e.retryAfter) assert.equal(err.headers.get('retry-after'), e.retryAfter);
        if (e.code) assert.equal(err.code, e.code, err.message);
        else if (p.codes?.[e.status]) assert.equal(err.code, p.codes[e.status]);
      });
    }

    test('a stream that breaks off before its end is an error, never a silent success', async () => {
      for (const alias of ['cut', 'broken']) {
        let content = '';
        // Broken before any content: the gateway retries and finally answers with an error
        // status; broken after content reached the client: the stream ends with an error event.
        const err = await (async () => {
          const stream = await client.chat.completions.create({ model: alias, stream: true, messages: [{ role: 'user', content: 'Hi' }] });
          for await (const chunk of stream) content += chunk.choices[0]?.delta?.content ?? '';
        })().then(
          () => null,
          (x) => x,
        );
        assert.ok(err, `${alias}: the stream ended without an error after ${JSON.stringify(content)}`);
      }
    });

    if (p.embeddings) {
      test('embeddings: vectors in input order, usage', async () => {
        const r = await client.embeddings.create({ model: p.embeddingsModel ? 'emb' : 'ok', input: ['alpha', 'beta'], encoding_format: 'float' });
        assert.equal(r.data.length, 2);
        assert.equal(r.data[0].index, 0);
        assert.ok(r.data[0].embedding.length > 0);
        assert.notDeepEqual(r.data[0].embedding, r.data[1].embedding);
        assert.ok(r.usage.prompt_tokens > 0, 'no usage: nothing to account for');
      });
    }
  });
}

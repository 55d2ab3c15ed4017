// The official Anthropic SDK against `stratus mock --dialect anthropic`: the mock must speak the
// Messages API well enough that the SDK's own parsing (plain, streamed, errors) accepts it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startMock, SLOW } from './lib/harness.mjs';

// The mock's answer for n tokens (its fixed word list, see src/mock/mock.cpp).
const WORDS = ['Hello', 'from', 'the', 'Stratus', 'mock', 'provider.', 'This', 'answer', 'is', 'simulated', 'token', 'by'];
const mockText = (n) => WORDS.slice(0, n).join(' ');

const MESSAGES = [{ role: 'user', content: 'Say hello' }];
const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: { type: 'object', properties: { query: { type: 'string' } } },
};

describe('Anthropic SDK against the mock Anthropic dialect', () => {
  let mock;
  let client;

  before(async () => {
    mock = await startMock(['--dialect', 'anthropic', '--tokens', '6']);
    client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: mock.url, maxRetries: 0, timeout: 10000 * SLOW });
  });

  after(async () => {
    await mock?.stop();
  });

  it('creates a text message with usage', async () => {
    const msg = await client.messages.create({ model: 'claude-mock', max_tokens: 100, system: 'Be brief.', messages: MESSAGES });
    assert.equal(msg.type, 'message');
    assert.equal(msg.role, 'assistant');
    assert.equal(msg.model, 'claude-mock');
    assert.match(msg.id, /^msg_/);
    assert.deepEqual(msg.content, [{ type: 'text', text: mockText(6) }]);
    assert.equal(msg.stop_reason, 'end_turn');
    assert.equal(msg.usage.output_tokens, 6);
    assert.ok(msg.usage.input_tokens > 0);
    // What the SDK sent, as the mock saw it: this SDK major speaks API version 2026-10-21 and
    // sends the key as a bearer token (the mock takes that or x-api-key, like Anthropic).
    const last = await mock.lastRequest();
    assert.equal(last.target, '/v1/messages');
    assert.equal(last.headers['anthropic-version'], '2026-10-21');
    assert.match(last.headers.authorization, /^<redacted/);
    assert.equal(JSON.parse(last.body).system, 'Be brief.');
  });

  it('stops at max_tokens with stop_reason max_tokens', async () => {
    const msg = await client.messages.create({ model: 'claude-mock', max_tokens: 2, messages: MESSAGES });
    assert.deepEqual(msg.content, [{ type: 'text', text: mockText(2) }]);
    assert.equal(msg.stop_reason, 'max_tokens');
  });

  it('answers with tool_use blocks when tools are offered, then text after the tool result', async () => {
    const first = await client.messages.create({
      model: 'claude-mock',
      max_tokens: 100,
      tools: [WEATHER_TOOL],
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });
    assert.equal(first.stop_reason, 'tool_use');
    assert.equal(first.content.length, 1);
    const use = first.content[0];
    assert.equal(use.type, 'tool_use');
    assert.equal(use.name, 'get_weather');
    assert.deepEqual(use.input, { query: 'weather in Paris', n: 1 });

    const second = await client.messages.create({
      model: 'claude-mock',
      max_tokens: 100,
      tools: [WEATHER_TOOL],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18C and sunny' }] },
      ],
    });
    assert.equal(second.stop_reason, 'end_turn');
    assert.equal(second.content[0].type, 'text');
    assert.equal(second.content[0].text, mockText(6));
  });

  it('streams text deltas and a final message with usage', async () => {
    const stream = client.messages.stream({ model: 'claude-mock', max_tokens: 100, messages: MESSAGES });
    const deltas = [];
    stream.on('text', (t) => deltas.push(t));
    const final = await stream.finalMessage();
    assert.equal(deltas.length, 6);
    assert.equal(deltas.join(''), mockText(6));
    assert.deepEqual(final.content, [{ type: 'text', text: mockText(6) }]);
    assert.equal(final.stop_reason, 'end_turn');
    assert.equal(final.usage.output_tokens, 6);
    assert.ok(final.usage.input_tokens > 0);
  });

  it('streams tool use: the SDK assembles input_json_delta pieces into the input object', async () => {
    const stream = client.messages.stream(
      { model: 'claude-mock', max_tokens: 100, tools: [WEATHER_TOOL], messages: [{ role: 'user', content: 'Weather?' }] },
      { headers: { 'x-mock-tool-calls': '2' } },
    );
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, 'tool_use');
    assert.deepEqual(
      final.content.map((b) => [b.type, b.name, b.input]),
      [
        ['tool_use', 'get_weather', { query: 'weather in Paris', n: 1 }],
        ['tool_use', 'get_weather', { query: 'weather in Paris', n: 2 }],
      ],
    );
  });

  it('reports cache reads in usage', async () => {
    const msg = await client.messages.create(
      { model: 'claude-mock', max_tokens: 100, messages: [{ role: 'user', content: 'x'.repeat(400) }] },
      { headers: { 'x-mock-cached-tokens': '64' } },
    );
    assert.equal(msg.usage.cache_read_input_tokens, 64);
    assert.ok(msg.usage.input_tokens > 0);
  });

  const statusCases = [
    [429, Anthropic.RateLimitError, 'rate_limit_error'],
    [529, Anthropic.OverloadedError, 'overloaded_error'],
    [400, Anthropic.BadRequestError, 'invalid_request_error'],
    [500, Anthropic.InternalServerError, 'api_error'],
  ];
  for (const [status, ErrorClass, type] of statusCases) {
    it(`x-mock-status ${status} → ${ErrorClass.name} (${type})`, async () => {
      await assert.rejects(
        client.messages.create({ model: 'claude-mock', max_tokens: 100, messages: MESSAGES }, { headers: { 'x-mock-status': String(status) } }),
        (err) => {
          assert.ok(err instanceof ErrorClass, `${err?.constructor?.name}: ${err?.message}`);
          assert.equal(err.status, status);
          assert.equal(err.type, type);
          return true;
        },
      );
    });
  }

  it('keeps Retry-After on a 429', async () => {
    await assert.rejects(
      client.messages.create(
        { model: 'claude-mock', max_tokens: 100, messages: MESSAGES },
        { headers: { 'x-mock-status': '429', 'x-mock-retry-after': '7' } },
      ),
      (err) => err instanceof Anthropic.RateLimitError && err.headers.get('retry-after') === '7',
    );
  });

  it('rejects a request without max_tokens the way Anthropic does', async () => {
    const res = await fetch(`${mock.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-mock', messages: MESSAGES }),
    });
    assert.equal(res.status, 400);
    assert.deepEqual((await res.json()).error, { type: 'invalid_request_error', message: 'max_tokens: Field required' });
  });

  it('refuses temperature under API version 2026-10-21, accepts it under 2023-06-01', async () => {
    const params = { model: 'claude-mock', max_tokens: 10, temperature: 0.5, messages: MESSAGES };
    await assert.rejects(client.messages.create(params), (err) => {
      assert.ok(err instanceof Anthropic.BadRequestError, `${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.apiMessage, 'temperature: Extra inputs are not permitted');
      return true;
    });
    const msg = await client.messages.create(params, { headers: { 'anthropic-version': '2023-06-01' } });
    assert.equal(msg.stop_reason, 'end_turn');
  });

  it('rejects a missing API key with 401 authentication_error', async () => {
    const res = await fetch(`${mock.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-mock', max_tokens: 10, messages: MESSAGES }),
    });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error.type, 'authentication_error');
  });

  it('surfaces a mid-stream error event as an overloaded_error APIError', async () => {
    const stream = client.messages.stream(
      { model: 'claude-mock', max_tokens: 100, messages: MESSAGES },
      { headers: { 'x-mock-error-after-chunks': '4' } },
    );
    const deltas = [];
    stream.on('text', (t) => deltas.push(t));
    await assert.rejects(stream.finalMessage(), (err) => {
      assert.ok(err instanceof Anthropic.APIError, `${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.type, 'overloaded_error');
      return true;
    });
    // message_start, content_block_start, ping, then one text delta before the error.
    assert.deepEqual(deltas, [WORDS[0]]);
  });
});

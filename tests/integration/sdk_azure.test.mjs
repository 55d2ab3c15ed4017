// The mock's Azure OpenAI dialect is faithful enough for the official `AzureOpenAI` client:
// deployment URLs with api-version, the api-key header, the first stream chunk that only holds
// prompt_filter_results, and Azure's error bodies (content filter, string codes).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AzureOpenAI, OpenAI } from 'openai';
import { startMock } from './lib/harness.mjs';

describe('AzureOpenAI SDK against stratus mock --dialect azure', () => {
  let mock;
  let client;
  before(async () => {
    mock = await startMock(['--dialect', 'azure']);
    client = new AzureOpenAI({ endpoint: mock.url, apiKey: 'azure-key', apiVersion: '2024-10-21', deployment: 'gpt-4o-dep', maxRetries: 0 });
  });
  after(() => mock?.stop());

  test('chat completion on the deployment URL with the api-key header', async () => {
    const r = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
    assert.match(r.choices[0].message.content, /Hello/);
    const last = await mock.lastRequest();
    assert.equal(last.target, '/openai/deployments/gpt-4o-dep/chat/completions?api-version=2024-10-21');
    assert.match(last.headers['api-key'], /redacted/);
  });

  test('stream: the SDK reads past the prompt_filter_results chunk', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Hi' }] });
    let content = '';
    let first = null;
    for await (const chunk of stream) {
      first ??= chunk;
      content += chunk.choices[0]?.delta?.content ?? '';
    }
    assert.deepEqual(first.choices, []);
    assert.ok(first.prompt_filter_results, 'no prompt_filter_results chunk');
    assert.match(content, /Hello from the Stratus mock/);
  });

  test('missing key → 401', async () => {
    const res = await fetch(`${mock.url}/openai/deployments/d/chat/completions?api-version=2024-10-21`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }),
    });
    assert.equal(res.status, 401);
  });

  test('errors: content filter 400 and a string-coded 429', async () => {
    const filtered = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-mock-status': '400' } })
      .catch((e) => e);
    assert.ok(filtered instanceof OpenAI.BadRequestError, `got ${filtered}`);
    assert.equal(filtered.code, 'content_filter');
    const limited = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-mock-status': '429', 'x-mock-retry-after': '4' } })
      .catch((e) => e);
    assert.ok(limited instanceof OpenAI.RateLimitError, `got ${limited}`);
    assert.equal(limited.code, '429');
    assert.equal(limited.headers.get('retry-after'), '4');
  });
});

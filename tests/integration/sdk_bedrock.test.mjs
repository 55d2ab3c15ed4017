// The mock's Bedrock dialect is faithful enough for the official AWS SDK
// (@aws-sdk/client-bedrock-runtime): SigV4 verified on every request, Converse and ConverseStream
// (binary event-stream frames), InvokeModel embeddings, Bedrock's modeled errors and the
// signature errors of AWS's front end.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startMock } from './lib/harness.mjs';

const MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const KEY_ID = 'AKIDEXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const TOOL = {
  toolSpec: {
    name: 'get_weather',
    description: 'Current weather for a city',
    inputSchema: { json: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] } },
  },
};
const hi = [{ role: 'user', content: [{ text: 'Hi' }] }];

// HTTP/1.1: the SDK's default handler for this service speaks HTTP/2 only.
function clientFor(url, accessKeyId = KEY_ID, secretAccessKey = SECRET) {
  return new BedrockRuntimeClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler(),
  });
}

const fails = (promise) => promise.then(() => assert.fail('the call succeeded'), (e) => e);

describe('AWS SDK (client-bedrock-runtime) against stratus mock --dialect bedrock', () => {
  let mock;
  let client;
  before(async () => {
    // The mock's key pair comes from the standard variables; an empty env gives the default pair.
    mock = await startMock(['--dialect', 'bedrock'], { env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' } });
    client = clientFor(mock.url);
  });
  after(() => mock?.stop());

  test('Converse: text, stop reason, usage; the model id is percent-encoded in the path', async () => {
    const r = await client.send(new ConverseCommand({ modelId: MODEL, system: [{ text: 'You are terse.' }], messages: hi }));
    assert.equal(r.output.message.role, 'assistant');
    assert.match(r.output.message.content[0].text, /^Hello from the Stratus mock/);
    assert.equal(r.stopReason, 'end_turn');
    assert.ok(r.usage.inputTokens > 0);
    assert.equal(r.usage.totalTokens, r.usage.inputTokens + r.usage.outputTokens);
    const last = await mock.lastRequest();
    assert.equal(last.target, '/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse');
    assert.match(last.headers.authorization, /redacted/);
    assert.match(last.headers['x-amz-date'], /^\d{8}T\d{6}Z$/);
    assert.deepEqual(JSON.parse(last.body).system, [{ text: 'You are terse.' }]);
  });

  test('Converse: maxTokens cuts the answer (stopReason max_tokens)', async () => {
    const r = await client.send(new ConverseCommand({ modelId: MODEL, messages: hi, inferenceConfig: { maxTokens: 3 } }));
    assert.equal(r.stopReason, 'max_tokens');
    assert.equal(r.usage.outputTokens, 3);
  });

  test('Converse: tool use, then the tool result gets a text answer', async () => {
    const ask = [{ role: 'user', content: [{ text: 'Weather in Paris?' }] }];
    const r = await client.send(new ConverseCommand({ modelId: MODEL, messages: ask, toolConfig: { tools: [TOOL] } }));
    assert.equal(r.stopReason, 'tool_use');
    const use = r.output.message.content.find((b) => b.toolUse).toolUse;
    assert.ok(use.toolUseId);
    assert.equal(use.name, 'get_weather');
    assert.equal(use.input.query, 'weather in Paris');
    const answer = await client.send(
      new ConverseCommand({
        modelId: MODEL,
        toolConfig: { tools: [TOOL] },
        messages: [
          ...ask,
          r.output.message,
          { role: 'user', content: [{ toolResult: { toolUseId: use.toolUseId, content: [{ json: { temp: 21 } }] } }] },
        ],
      }),
    );
    assert.equal(answer.stopReason, 'end_turn');
    assert.match(answer.output.message.content[0].text, /Hello/);
  });

  test('Converse: the mock validates like Bedrock (ValidationException)', async () => {
    const e = await fails(
      client.send(new ConverseCommand({ modelId: MODEL, messages: [...hi, { role: 'user', content: [{ text: 'again' }] }] })),
    );
    assert.equal(e.name, 'ValidationException');
    assert.equal(e.$metadata.httpStatusCode, 400);
    assert.match(e.message, /alternate between user and assistant/);
  });

  test('ConverseStream: text deltas arrive in order, then messageStop and metadata usage', async () => {
    const plain = await client.send(new ConverseCommand({ modelId: MODEL, messages: hi }));
    const r = await client.send(new ConverseStreamCommand({ modelId: MODEL, messages: hi }));
    const kinds = [];
    let text = '';
    let usage = null;
    let stop = null;
    for await (const ev of r.stream) {
      const kind = Object.keys(ev).find((k) => ev[k] !== undefined);
      kinds.push(kind);
      if (ev.contentBlockDelta) text += ev.contentBlockDelta.delta.text ?? '';
      if (ev.messageStop) stop = ev.messageStop.stopReason;
      if (ev.metadata) usage = ev.metadata.usage;
    }
    assert.equal(kinds[0], 'messageStart');
    assert.deepEqual(kinds.slice(-2), ['messageStop', 'metadata']);
    assert.ok(kinds.filter((k) => k === 'contentBlockDelta').length > 3, kinds.join(','));
    assert.equal(text, plain.output.message.content[0].text);
    assert.equal(stop, 'end_turn');
    assert.equal(usage.outputTokens, plain.usage.outputTokens);
    assert.equal(usage.totalTokens, usage.inputTokens + usage.outputTokens);
    assert.equal((await mock.lastRequest()).target, '/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream');
  });

  test('ConverseStream: two tool calls, each input streamed as JSON pieces', async () => {
    const r = await client.send(
      new ConverseStreamCommand({ modelId: `${MODEL}@mock:tool-calls=2`, messages: hi, toolConfig: { tools: [TOOL] } }),
    );
    const blocks = {};
    let stop = null;
    for await (const ev of r.stream) {
      if (ev.contentBlockStart?.start?.toolUse) blocks[ev.contentBlockStart.contentBlockIndex] = { ...ev.contentBlockStart.start.toolUse, input: '' };
      if (ev.contentBlockDelta?.delta?.toolUse) blocks[ev.contentBlockDelta.contentBlockIndex].input += ev.contentBlockDelta.delta.toolUse.input;
      if (ev.messageStop) stop = ev.messageStop.stopReason;
    }
    const calls = Object.values(blocks);
    assert.equal(stop, 'tool_use');
    assert.equal(calls.length, 2);
    assert.notEqual(calls[0].toolUseId, calls[1].toolUseId);
    calls.forEach((c, i) => assert.deepEqual(JSON.parse(c.input), { query: 'weather in Paris', n: i + 1 }));
  });

  test('ConverseStream: an error in the middle of the stream is an exception event', async () => {
    const r = await client.send(new ConverseStreamCommand({ modelId: `${MODEL}@mock:error-after-chunks=3`, messages: hi }));
    let events = 0;
    const e = await fails(
      (async () => {
        for await (const _ of r.stream) events++;
      })(),
    );
    assert.equal(events, 3);
    assert.equal(e.name, 'ServiceUnavailableException');
  });

  for (const [status, name] of [
    [400, 'ValidationException'],
    [403, 'AccessDeniedException'],
    [404, 'ResourceNotFoundException'],
    [429, 'ThrottlingException'],
    [500, 'InternalServerException'],
    [503, 'ServiceUnavailableException'],
  ]) {
    test(`model id with @mock:status=${status} → ${name}`, async () => {
      const e = await fails(client.send(new ConverseCommand({ modelId: `${MODEL}@mock:status=${status}`, messages: hi })));
      assert.equal(e.name, name);
      assert.equal(e.$metadata.httpStatusCode, status);
      assert.match(e.message, /injected by stratus mock/);
    });
  }

  test('a wrong secret → InvalidSignatureException; an unknown key → UnrecognizedClientException', async () => {
    const wrong = await fails(clientFor(mock.url, KEY_ID, 'not-the-secret').send(new ConverseCommand({ modelId: MODEL, messages: hi })));
    assert.equal(wrong.name, 'InvalidSignatureException');
    assert.equal(wrong.$metadata.httpStatusCode, 403);
    assert.match(wrong.message, /The request signature we calculated does not match the signature you provided/);
    const unknown = await fails(clientFor(mock.url, 'AKIDNOBODY', SECRET).send(new ConverseCommand({ modelId: MODEL, messages: hi })));
    assert.equal(unknown.name, 'UnrecognizedClientException');
    assert.match(unknown.message, /security token included in the request is invalid/);
  });

  test('InvokeModel embeddings: Titan (one input) and Cohere (several)', async () => {
    const decode = (r) => JSON.parse(new TextDecoder().decode(r.body));
    const titan = await client.send(
      new InvokeModelCommand({ modelId: 'amazon.titan-embed-text-v2:0', contentType: 'application/json', body: JSON.stringify({ inputText: 'hello', dimensions: 256 }) }),
    );
    const t = decode(titan);
    assert.equal(t.embedding.length, 256);
    assert.ok(t.inputTextTokenCount > 0);
    const cohere = await client.send(
      new InvokeModelCommand({
        modelId: 'cohere.embed-english-v3',
        contentType: 'application/json',
        body: JSON.stringify({ texts: ['alpha', 'beta'], input_type: 'search_document' }),
      }),
    );
    const c = decode(cohere);
    assert.equal(c.embeddings.length, 2);
    assert.notDeepEqual(c.embeddings[0], c.embeddings[1]);
  });
});

describe('stratus mock --dialect bedrock takes its key pair from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY', () => {
  let mock;
  before(async () => {
    mock = await startMock(['--dialect', 'bedrock'], { env: { AWS_ACCESS_KEY_ID: 'AKIDMOCKTEST', AWS_SECRET_ACCESS_KEY: 'mock/secret+key' } });
  });
  after(() => mock?.stop());

  test('that pair signs; the default pair is unknown', async () => {
    const r = await clientFor(mock.url, 'AKIDMOCKTEST', 'mock/secret+key').send(new ConverseCommand({ modelId: MODEL, messages: hi }));
    assert.equal(r.stopReason, 'end_turn');
    const e = await fails(clientFor(mock.url).send(new ConverseCommand({ modelId: MODEL, messages: hi })));
    assert.equal(e.name, 'UnrecognizedClientException');
  });
});

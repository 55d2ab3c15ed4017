// The official Google Gen AI SDK (@google/genai, pinned in package.json) against
// `stratus mock --dialect gemini`: the mock must be a Gemini API (and Vertex AI) that the real
// client accepts — generateContent, function calls, streams, embeddings, errors, credentials.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GoogleGenAI, ApiError } from '@google/genai';
import { startMock } from './lib/harness.mjs';

const MODEL = 'gemini-2.0-flash';
const API_KEY = 'test-gemini-key';
// The mock's answer for n tokens (its fixed word list, see src/mock/mock.cpp).
const WORDS = ['Hello', 'from', 'the', 'Stratus', 'mock', 'provider.', 'This', 'answer', 'is', 'simulated', 'token', 'by'];
const mockText = (n) => WORDS.slice(0, n).join(' ');

const WEATHER_TOOL = {
  functionDeclarations: [
    {
      name: 'get_weather',
      description: 'Current weather for a city',
      parameters: { type: 'OBJECT', properties: { city: { type: 'STRING' } }, required: ['city'] },
    },
  ],
};

// A Vertex AI credential without Google Cloud: any object with getRequestHeaders().
const fakeVertexAuth = (token = 'ya29.test-token') => ({
  getRequestHeaders: async () => new Headers(token ? { authorization: `Bearer ${token}` } : {}),
});

describe('@google/genai SDK against stratus mock --dialect gemini', () => {
  let mock;
  // v1beta, the version the gateway's gemini adapter uses (this SDK defaults to v1).
  const gemini = (headers = {}, apiKey = API_KEY) =>
    new GoogleGenAI({ apiKey, apiVersion: 'v1beta', httpOptions: { baseUrl: mock.url, headers } });
  const vertex = (token) =>
    new GoogleGenAI({
      vertexai: true,
      project: 'my-project',
      location: 'us-central1',
      httpOptions: { baseUrl: mock.url },
      googleAuthOptions: { authClient: fakeVertexAuth(token) },
    });

  before(async () => {
    mock = await startMock(['--dialect', 'gemini']);
  });

  after(async () => {
    await mock?.stop();
  });

  it('generateContent answers text with usage metadata', async () => {
    const res = await gemini().models.generateContent({
      model: MODEL,
      contents: 'Say hello',
      config: { systemInstruction: 'Be brief.', temperature: 0.2, maxOutputTokens: 100 },
    });
    assert.equal(res.text, mockText(12));
    assert.equal(res.candidates[0].finishReason, 'STOP');
    assert.equal(res.usageMetadata.candidatesTokenCount, 12);
    assert.ok(res.usageMetadata.promptTokenCount > 0);
    assert.equal(res.usageMetadata.totalTokenCount, res.usageMetadata.promptTokenCount + 12);
    assert.equal(res.modelVersion, MODEL);

    const last = await mock.lastRequest();
    assert.equal(last.target, `/v1beta/models/${MODEL}:generateContent`);
    assert.match(last.headers['x-goog-api-key'], /^<redacted:/);
    const body = JSON.parse(last.body);
    assert.deepEqual(body.contents, [{ role: 'user', parts: [{ text: 'Say hello' }] }]);
    assert.equal(body.generationConfig.maxOutputTokens, 100);
  });

  it('maxOutputTokens below the answer length ends with MAX_TOKENS', async () => {
    const res = await gemini().models.generateContent({
      model: MODEL,
      contents: 'Say hello',
      config: { maxOutputTokens: 3 },
    });
    assert.equal(res.text, mockText(3));
    assert.equal(res.candidates[0].finishReason, 'MAX_TOKENS');
  });

  it('offers tools: a function call, then text once the function answered', async () => {
    const ai = gemini();
    const first = await ai.models.generateContent({
      model: MODEL,
      contents: 'What is the weather in Paris?',
      config: { tools: [WEATHER_TOOL] },
    });
    assert.equal(first.functionCalls.length, 1);
    assert.equal(first.functionCalls[0].name, 'get_weather');
    assert.deepEqual(first.functionCalls[0].args, { query: 'weather in Paris', n: 1 });

    const second = await ai.models.generateContent({
      model: MODEL,
      contents: [
        { role: 'user', parts: [{ text: 'What is the weather in Paris?' }] },
        first.candidates[0].content,
        { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temp: 21 } } }] },
      ],
      config: { tools: [WEATHER_TOOL] },
    });
    assert.equal(second.functionCalls, undefined);
    assert.equal(second.text, mockText(12));
  });

  it('generateContentStream delivers the chunks and the final usage', async () => {
    const stream = await gemini({ 'x-mock-tokens-per-sec': '200' }).models.generateContentStream({
      model: MODEL,
      contents: 'Say hello',
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.equal(chunks.length, 12);
    assert.equal(chunks.map((c) => c.text).join(''), mockText(12));
    const final = chunks.at(-1);
    assert.equal(final.candidates[0].finishReason, 'STOP');
    assert.equal(final.usageMetadata.candidatesTokenCount, 12);
    assert.ok(final.usageMetadata.promptTokenCount > 0);
    assert.equal(chunks[0].candidates[0].finishReason, undefined);
    assert.equal((await mock.lastRequest()).target, `/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`);
  });

  it('a streamed function call arrives whole', async () => {
    const stream = await gemini({ 'x-mock-tool-calls': '2' }).models.generateContentStream({
      model: MODEL,
      contents: 'Weather in Paris and Rome?',
      config: { tools: [WEATHER_TOOL] },
    });
    const calls = [];
    for await (const chunk of stream) calls.push(...(chunk.functionCalls ?? []));
    assert.deepEqual(
      calls.map((c) => [c.name, c.args.n]),
      [
        ['get_weather', 1],
        ['get_weather', 2],
      ],
    );
  });

  it('an error in the middle of a stream reaches the SDK as an ApiError', async () => {
    const stream = await gemini({ 'x-mock-error-after-chunks': '3', 'x-mock-tokens-per-sec': '50' }).models.generateContentStream({
      model: MODEL,
      contents: 'Say hello',
    });
    const texts = [];
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) texts.push(chunk.text);
      })(),
      (err) => err instanceof ApiError && err.status === 503,
    );
    assert.deepEqual(texts, WORDS.slice(0, 3).map((w, i) => (i ? ` ${w}` : w)));
  });

  for (const [status, rpc] of [
    [400, 'INVALID_ARGUMENT'],
    [401, 'UNAUTHENTICATED'],
    [403, 'PERMISSION_DENIED'],
    [404, 'NOT_FOUND'],
    [429, 'RESOURCE_EXHAUSTED'],
    [500, 'INTERNAL'],
    [503, 'UNAVAILABLE'],
  ]) {
    it(`x-mock-status ${status} is an ApiError with status ${status} (${rpc})`, async () => {
      await assert.rejects(
        gemini({ 'x-mock-status': String(status) }).models.generateContent({ model: MODEL, contents: 'Hi' }),
        (err) => {
          assert.ok(err instanceof ApiError, String(err));
          assert.equal(err.status, status);
          const body = JSON.parse(err.message);
          assert.equal(body.error.code, status);
          assert.equal(body.error.status, rpc);
          if (status === 429) assert.equal(body.error.details.at(-1).retryDelay, '1s');
          return true;
        },
      );
    });
  }

  it('a request without an API key is refused like Google does (403)', async () => {
    const warn = console.warn;
    console.warn = () => {}; // the SDK warns about the missing key
    try {
      await assert.rejects(gemini({}, '').models.generateContent({ model: MODEL, contents: 'Hi' }), (err) => {
        assert.equal(err.status, 403);
        assert.equal(JSON.parse(err.message).error.status, 'PERMISSION_DENIED');
        return true;
      });
    } finally {
      console.warn = warn;
    }
  });

  it('embedContent: one and several inputs', async () => {
    const ai = gemini();
    const one = await ai.models.embedContent({ model: 'text-embedding-004', contents: 'hello' });
    assert.equal(one.embeddings.length, 1);
    assert.equal(one.embeddings[0].values.length, 768);
    const many = await ai.models.embedContent({
      model: 'text-embedding-004',
      contents: ['a', 'b', 'c'],
      config: { outputDimensionality: 8 },
    });
    assert.equal(many.embeddings.length, 3);
    assert.equal(many.embeddings[2].values.length, 8);
    assert.match((await mock.lastRequest()).target, /^\/v1beta\/models\/text-embedding-004:(batchEmbedContents|embedContent)/);
  });

  it('lists models', async () => {
    const pager = await gemini().models.list();
    const names = [];
    for await (const m of pager) names.push(m.name);
    assert.ok(names.includes(`models/${MODEL}`), names.join(','));
  });

  describe('Vertex AI mode (vertexai: true, project and location, custom baseUrl)', () => {
    it('generateContent goes to the publisher model path with a bearer token', async () => {
      const res = await vertex().models.generateContent({ model: MODEL, contents: 'Say hello' });
      assert.equal(res.text, mockText(12));
      assert.equal(res.usageMetadata.candidatesTokenCount, 12);
      const last = await mock.lastRequest();
      assert.equal(
        last.target,
        `/v1beta1/projects/my-project/locations/us-central1/publishers/google/models/${MODEL}:generateContent`,
      );
      assert.match(last.headers.authorization, /^<redacted:/);
    });

    it('streams', async () => {
      const stream = await vertex().models.generateContentStream({ model: MODEL, contents: 'Say hello' });
      let text = '';
      let usage;
      for await (const chunk of stream) {
        text += chunk.text ?? '';
        usage = chunk.usageMetadata ?? usage;
      }
      assert.equal(text, mockText(12));
      assert.equal(usage.candidatesTokenCount, 12);
    });

    it('embeddings through :predict', async () => {
      const res = await vertex().models.embedContent({ model: 'text-embedding-005', contents: ['a', 'b'] });
      assert.equal(res.embeddings.length, 2);
      assert.equal(res.embeddings[0].values.length, 768);
      assert.match((await mock.lastRequest()).target, /publishers\/google\/models\/text-embedding-005:predict$/);
    });

    it('without a bearer token: 401 UNAUTHENTICATED', async () => {
      await assert.rejects(vertex('').models.generateContent({ model: MODEL, contents: 'Hi' }), (err) => {
        assert.equal(err.status, 401);
        assert.equal(JSON.parse(err.message).error.status, 'UNAUTHENTICATED');
        return true;
      });
    });
  });
});

#!/usr/bin/env node
// Time to first body byte of a streamed chat completion, one keep-alive connection, sequential.
// No dependencies. Prints one JSON line: {"n","p50_us","p99_us",...,"errors","statuses"}.
//
// Also reported: the time to the response headers and to the end of the stream.
// Usage: node ttfb.mjs --url http://127.0.0.1:PORT/v1/chat/completions [--n 500] [--warmup 50]
//          [--body chat.json] [--header "Name: value"]... [--label text] [--timeout-ms 5000]
// The body file's "stream":false is turned into "stream":true. The clock starts right before the
// request is written and stops at the first chunk of the response body (not the headers): for an
// SSE stream that is the first event the client could show.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const args = { n: 500, warmup: 50, headers: {}, label: '', timeoutMs: 5000 };
args.body = join(dirname(fileURLToPath(import.meta.url)), 'chat.json');
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const v = () => {
    if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
    return argv[++i];
  };
  if (a === '--url') args.url = v();
  else if (a === '--n') args.n = Number(v());
  else if (a === '--warmup') args.warmup = Number(v());
  else if (a === '--body') args.body = v();
  else if (a === '--label') args.label = v();
  else if (a === '--timeout-ms') args.timeoutMs = Number(v());
  else if (a === '--header') {
    const h = v();
    const c = h.indexOf(':');
    if (c <= 0) throw new Error(`bad header: ${h}`);
    args.headers[h.slice(0, c).trim()] = h.slice(c + 1).trim();
  } else throw new Error(`unknown argument: ${a}`);
}
if (!args.url) throw new Error('--url is required');

const url = new URL(args.url);
const body = Buffer.from(readFileSync(args.body, 'utf8').trim().replace('"stream":false', '"stream":true'));
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const headers = {
  'Content-Type': 'application/json',
  Accept: 'text/event-stream',
  'Content-Length': body.length,
  ...args.headers,
};

// One request; resolves with {status, ttfbNs, totalNs, ok} once the whole body has been read.
function once() {
  return new Promise((resolve) => {
    let t0 = 0n;
    let first = 0n;
    let head = 0n;
    const req = http.request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', agent, headers },
      (res) => {
        head = process.hrtime.bigint();
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          if (first === 0n) first = process.hrtime.bigint();
          if (text.length < 65536) text += chunk;
        });
        res.on('end', () => {
          const end = process.hrtime.bigint();
          const ok = res.statusCode === 200 && text.includes('data: [DONE]');
          resolve({ status: res.statusCode, ttfbNs: (first || end) - t0, headNs: head - t0, totalNs: end - t0, ok });
        });
        res.on('error', () => resolve({ status: res.statusCode, ok: false }));
      },
    );
    req.setTimeout(args.timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, ok: false, error: e.message }));
    t0 = process.hrtime.bigint();
    req.end(body);
  });
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

const deadline = Date.now() + Math.max(60000, args.n * 200);
const ttfb = [];
const total = [];
const head = [];
const statuses = {};
let errors = 0;
for (let i = 0; i < args.warmup + args.n && Date.now() < deadline; i++) {
  const r = await once();
  if (i < args.warmup) continue;
  statuses[r.status] = (statuses[r.status] || 0) + 1;
  if (!r.ok) {
    errors++;
    continue;
  }
  ttfb.push(Number(r.ttfbNs) / 1000);
  total.push(Number(r.totalNs) / 1000);
  head.push(Number(r.headNs) / 1000);
}
agent.destroy();
ttfb.sort((a, b) => a - b);
total.sort((a, b) => a - b);
head.sort((a, b) => a - b);
const out = {
  label: args.label,
  n: ttfb.length,
  errors,
  statuses,
  p50_us: ttfb.length ? Math.round(pct(ttfb, 50)) : null,
  p99_us: ttfb.length ? Math.round(pct(ttfb, 99)) : null,
  headers_p50_us: head.length ? Math.round(pct(head, 50)) : null,
  headers_p99_us: head.length ? Math.round(pct(head, 99)) : null,
  total_p50_us: total.length ? Math.round(pct(total, 50)) : null,
  total_p99_us: total.length ? Math.round(pct(total, 99)) : null,
};
process.stdout.write(`TTFBJSON ${JSON.stringify(out)}\n`);

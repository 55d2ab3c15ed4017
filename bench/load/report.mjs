#!/usr/bin/env node
// Turns the JSON lines collected by bench/load/run.sh into the markdown report.
// Usage: node report.mjs results.jsonl > latest.md
// Records: {kind:"meta",...} {kind:"wrk",target,case,...} {kind:"ttfb",target,...}
//          {kind:"rss",target,...} {kind:"note",text} {kind:"perf",text}
import { readFileSync } from 'node:fs';

const recs = readFileSync(process.argv[2], 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l))
  .map((r) => ({ ...(r.result ?? {}), ...r })); // wrk/ttfb records nest the tool's own JSON
const meta = Object.assign({}, ...recs.filter((r) => r.kind === 'meta'));
const wrk = recs.filter((r) => r.kind === 'wrk');
const ttfb = recs.filter((r) => r.kind === 'ttfb');
const rss = recs.filter((r) => r.kind === 'rss');
const notes = recs.filter((r) => r.kind === 'note').map((r) => r.text);
const perf = recs.filter((r) => r.kind === 'perf');

const targets = meta.targets ?? [...new Set(wrk.map((r) => r.target))];
const cases = meta.cases ?? [...new Set(wrk.map((r) => r.case))];
// With several rounds, a row is the round with the median req/s (the upper one for an even count);
// a failed round wins, so that failures are never hidden.
const find = (list, target, kase) => {
  const rs = list.filter((r) => r.target === target && (kase === undefined || r.case === kase));
  const bad = rs.find((r) => r.missing || !r.preflight_ok || r.non2xx);
  if (bad || rs.length <= 1) return bad ?? rs[0];
  const sorted = [...rs].sort((a, b) => a.rps - b.rps);
  return sorted[Math.floor(sorted.length / 2)];
};

const int = (v) => (v == null || Number.isNaN(v) ? '—' : Math.round(v).toLocaleString('en-US'));
const signed = (v) => (v == null || Number.isNaN(v) ? '—' : `${v >= 0 ? '+' : '−'}${int(Math.abs(v))}`);
const ratio = (a, b) => (a == null || !b ? '—' : `${(a / b).toFixed(2)}×`);

// Why a row cannot be trusted; empty when it can.
function problems(r) {
  const p = [];
  if (!r.preflight_ok) p.push(`preflight: ${r.preflight_msg}`);
  if (r.missing) p.push('wrk produced no result');
  if (r.non2xx) p.push(`${r.non2xx} non-2xx`);
  const sock = (r.connect_errors || 0) + (r.read_errors || 0) + (r.write_errors || 0) + (r.timeouts || 0);
  if (sock) p.push(`socket errors c/r/w/t=${r.connect_errors}/${r.read_errors}/${r.write_errors}/${r.timeouts}`);
  if (!r.missing && !r.requests) p.push('0 requests');
  return p;
}

// Not a failure of the target, but the latencies shown are wrk's corrected ones.
function caveat(r) {
  return r.missing || r.raw_ok ? '' : ' (p50/p99 are wrk-corrected: histogram did not invert)';
}

const out = [];
const line = (s = '') => out.push(s);

line(`# Stratus load benchmark`);
line();
line(`${meta.date ?? ''} · commit \`${meta.commit ?? '?'}\` · ${meta.cpus ?? '?'} CPUs (\`nproc\`), shared by wrk, ` +
  `the upstream mock and the proxy under test · ${meta.seconds}s per case after a ${meta.warmup}s warm-up ` +
  (meta.rounds > 1 ? `(${meta.rounds} rounds; each row is the round with the median req/s) ` : '') +
  `(and ${meta.prime}s of priming per target at start) · load average ${meta.load_start} at start, ${meta.load_end} at end`);
if (Number.parseFloat(meta.load_start) > meta.cpus) {
  line();
  line(`**Note: the machine was already busy when the run started (load average ${meta.load_start} on ${meta.cpus} CPUs); expect noise.**`);
}
line();
line(`Upstream: \`stratus mock --workers 1\` (12-token completion; streams all chunks at once). ` +
  `Proxies: nginx ${meta.nginx_version ?? '?'} (${meta.proxy_workers} workers, upstream keepalive 128), ` +
  `stratus (${meta.proxy_workers} workers)` + (meta.portkey_version ? `, Portkey gateway ${meta.portkey_version} (one Node ${meta.node_version} process)` : '') +
  `. Load: ${meta.wrk_version ?? 'wrk'}, \`bench/load/chat.lua\`, ${meta.body_bytes ?? '?'}-byte two-message chat body. ` +
  `Access logs on for nginx and stratus (to files)` + (meta.portkey_version ? '; Portkey has none.' : '.'));
line();
line('Latencies in µs, as observed per request by wrk. "+p50/+p99" = added latency over going to the ' +
  'upstream directly; "vs nginx" = req/s relative to nginx for the same case. "wrk p99" = the p99 wrk itself ' +
  'prints, after its coordinated-omission correction (it adds synthetic samples for every response slower than ' +
  'twice the mean interval, so one scheduling stall weighs ~100× at 1 connection; see chat.lua). ' +
  'Ratios matter more than absolute numbers on a 2-core box where the load generator competes for the same CPUs.' +
  (meta.pinned_c1 ? ' The 1-connection cases and TTFB ran with every process (wrk, the mock, every proxy) pinned to CPU 0 ' +
    '(`BENCH_PIN=1`, the default): unpinned, a request\'s hops sometimes cross between CPUs and sometimes do not, and one ' +
    'target moves by 2-3× between rounds; pinned, each row measures what its hops cost.' : ''));
line();
line('Rows "stratus→anthropic" and "stratus→bedrock" send the same OpenAI request through the same stratus, ' +
  'translated to the provider\'s native protocol (`stratus mock --dialect ...` upstreams; Bedrock with SigV4 ' +
  'signing and binary event streams); "vs stratus" = their req/s relative to the OpenAI pass-through row.');
line();
line('Rows "stratus×3-latency" and "stratus×3-least-busy" send the same request to an alias routed across three ' +
  'deployments (three providers on the same upstream mock) with that strategy; "vs stratus" = their req/s relative ' +
  'to the single-deployment alias, so it is the price of balancing, breakers and attempt bookkeeping (the bar: ≥ 0.95×).');
line();
line('Row "stratus+governance" is a second stratus process serving the same single-deployment alias with governance ' +
  'on: a master key, a virtual key on every request (its RPM/TPM limits and $ budget far above what the run uses, so ' +
  'nothing is refused), the deployment priced, a SQLite store and one ledger event per request; "vs stratus" = ' +
  'governed ÷ ungoverned req/s (the bar: ≥ 0.85×).');
line();
line('"proxy CPU/req" = CPU time (user + system, every thread; for nginx its master and workers) the proxy spent ' +
  'per completed request during the case, from /proc/PID/task/*/schedstat (nanoseconds): steadier than req/s on a ' +
  'shared box and independent of the upstream mock\'s own cost (the Bedrock mock verifies SigV4 and frames event ' +
  'streams; it costs about twice the OpenAI mock). "CPU vs pass-through" = a stratus row\'s CPU/req ÷ the plain stratus row\'s.');
line();
line('| target | case | req/s | p50 | p99 | +p50 vs direct | +p99 vs direct | req/s vs nginx | req/s vs stratus | proxy CPU/req (µs) | CPU vs pass-through | wrk p99 | check |');
line('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|');
const failures = [];
for (const kase of cases) {
  const direct = find(wrk, 'direct', kase);
  const nginx = find(wrk, 'nginx', kase);
  const stratus = find(wrk, 'stratus', kase);
  for (const target of targets) {
    const r = find(wrk, target, kase);
    if (!r) continue;
    const p = problems(r);
    if (p.length) failures.push(`${target} / ${kase}: ${p.join('; ')}`);
    const isDirect = target === 'direct';
    line(`| ${p.length ? '⚠ ' : ''}${target} | ${kase} | ${int(r.rps)} | ${int(r.p50_us)} | ${int(r.p99_us)} | ` +
      `${isDirect ? '—' : signed(direct && r.p50_us - direct.p50_us)} | ${isDirect ? '—' : signed(direct && r.p99_us - direct.p99_us)} | ` +
      `${target === 'nginx' ? '1.00×' : ratio(r.rps, nginx?.rps)} | ${target.startsWith('stratus') ? ratio(r.rps, stratus?.rps) : '—'} | ` +
      `${r.cpu_us_per_req == null ? '—' : r.cpu_us_per_req.toFixed(1)} | ${target.startsWith('stratus') ? ratio(r.cpu_us_per_req, stratus?.cpu_us_per_req) : '—'} | ${int(r.co_p99_us)} | ${p.length ? `**FAILED: ${p.join('; ')}**` : `ok (${int(r.requests)} × 2xx)${caveat(r)}`} |`);
  }
}

// With several rounds: stratus ÷ nginx within each round (measured next to each other, in
// alternating order), and the median of those paired ratios, for req/s and for CPU per request.
const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
if ((meta.rounds ?? 1) > 1 && targets.includes('nginx') && targets.includes('stratus')) {
  const parts = [];
  for (const kase of cases) {
    const of = (target, n) => wrk.find((r) => r.target === target && r.case === kase && r.round === n);
    const rounds = [...new Set(wrk.filter((r) => r.case === kase).map((r) => r.round))].sort((a, b) => a - b);
    const rps = [];
    const cpu = [];
    for (const n of rounds) {
      const s = of('stratus', n);
      const g = of('nginx', n);
      if (s?.rps && g?.rps) rps.push(s.rps / g.rps);
      if (s?.cpu_us_per_req && g?.cpu_us_per_req) cpu.push(g.cpu_us_per_req / s.cpu_us_per_req);
    }
    if (!rps.length) continue;
    const list = (xs) => xs.map((x) => x.toFixed(2)).join(', ');
    parts.push(`${kase}: req/s ${list(rps)} (median **${median(rps).toFixed(2)}×**)` +
      (cpu.length ? `, nginx's CPU/req ÷ stratus's ${list(cpu)} (median ${median(cpu).toFixed(2)}×)` : ''));
  }
  if (parts.length) {
    line();
    line('Stratus against nginx round by round (the two measured one after the other, the targets in reverse order ' +
      'every other round; above 1.00× stratus is ahead): ' + parts.join('; ') + '.');
  }
}

// Governed ÷ ungoverned, per case, against the 0.85× bar.
const GOV = 'stratus+governance';
if (targets.includes(GOV)) {
  const parts = [];
  for (const kase of cases) {
    const g = find(wrk, GOV, kase);
    const s = find(wrk, 'stratus', kase);
    if (!g?.rps || !s?.rps) continue;
    const r = g.rps / s.rps;
    const cpu = g.cpu_us_per_req && s.cpu_us_per_req ? `, CPU/req ${ratio(g.cpu_us_per_req, s.cpu_us_per_req)}` : '';
    parts.push(`${kase} ${r.toFixed(2)}×${cpu}${r < 0.85 ? ' **(below 0.85×)**' : ''}`);
  }
  if (parts.length) {
    line();
    line(`Governance (governed ÷ ungoverned req/s; bar ≥ 0.85×): ${parts.join('; ')}.`);
  }
}

if (ttfb.length) {
  line();
  line(`Time to first body byte, streamed completion, 1 keep-alive connection, ${meta.ttfb_n} sequential requests ` +
    '(`bench/load/ttfb.mjs`, node:http; clock from request write to the first body chunk). ' +
    '"headers" = until the response headers, "total" = until the end of the stream.');
  line();
  line('| target | TTFB p50 | TTFB p99 | +p50 vs direct | +p99 vs direct | headers p50 | total p50 | total p99 | check |');
  line('|---|--:|--:|--:|--:|--:|--:|--:|---|');
  const direct = find(ttfb, 'direct');
  for (const target of targets) {
    const r = find(ttfb, target);
    if (!r) continue;
    const p = [];
    if (!r.preflight_ok) p.push(`preflight: ${r.preflight_msg}`);
    if (r.missing) p.push('no result');
    if (r.errors) p.push(`${r.errors} failed (statuses ${JSON.stringify(r.statuses)})`);
    if (!r.missing && !r.n) p.push('0 requests');
    if (p.length) failures.push(`${target} / ttfb: ${p.join('; ')}`);
    const isDirect = target === 'direct';
    line(`| ${p.length ? '⚠ ' : ''}${target} | ${int(r.p50_us)} | ${int(r.p99_us)} | ` +
      `${isDirect ? '—' : signed(direct && r.p50_us - direct.p50_us)} | ${isDirect ? '—' : signed(direct && r.p99_us - direct.p99_us)} | ` +
      `${int(r.headers_p50_us)} | ${int(r.total_p50_us)} | ${int(r.total_p99_us)} | ${p.length ? `**FAILED: ${p.join('; ')}**` : `ok (${r.n} × 200)`} |`);
  }
}

if (rss.length) {
  line();
  line('Memory after the run (VmRSS, peak VmHWM; nginx = master + workers):');
  line();
  for (const r of rss) {
    line(`- ${r.target}: RSS ${(r.rss_kb / 1024).toFixed(1)} MiB, peak ${(r.hwm_kb / 1024).toFixed(1)} MiB` +
      (r.procs > 1 ? ` (${r.procs} processes)` : ''));
  }
}

for (const n of notes) {
  line();
  line(n);
}

for (const p of perf) {
  line();
  line(`Profile of stratus (${p.title}):`);
  line();
  line('```');
  line(p.text.trimEnd());
  line('```');
}

if (failures.length) {
  line();
  line('## ⚠ WARNING: some targets did not answer every request with 2xx');
  line();
  for (const f of failures) line(`- ${f}`);
}

process.stdout.write(out.join('\n') + '\n');
process.exitCode = failures.length ? 3 : 0;

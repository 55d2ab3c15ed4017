#!/usr/bin/env bash
# Side-by-side load benchmark on this machine, same load generator, same upstream:
#   direct   wrk -> stratus mock (the upstream itself)
#   nginx    wrk -> nginx proxy_pass (keepalive upstream) -> mock
#   stratus  wrk -> stratus serve -> mock
#   portkey  wrk -> @portkey-ai/gateway -> mock            (only with PEERS=1)
#   stratus→anthropic, stratus→bedrock: the same stratus, OpenAI in, translated to the native
#            protocol of `stratus mock --dialect anthropic|bedrock` (SigV4 and event streams)
#   stratus×3-latency, stratus×3-least-busy: the same stratus, one alias routed across three
#            deployments (three providers on the same mock) with that strategy
# Cases: non-streaming and streaming chat completions at 64 and 1 connections (wrk + chat.lua),
# then time to first byte of a stream at 1 connection (ttfb.mjs). Everything listens on
# 127.0.0.1 and lives in a temp dir; every process started here is stopped on exit.
#
# Usage: bench/load/run.sh [path/to/stratus]        (from `make bench`: build/stratus)
# Environment:
#   BENCH_SECONDS=5   measured seconds per case      BENCH_WARMUP=1   warm-up seconds per case
#   BENCH_TTFB_N=500  sequential requests for TTFB   PEERS=1          also benchmark peer gateways
#   BENCH_WORKERS=2   nginx/stratus workers          BENCH_PERF=1     profile stratus with perf
#   BENCH_PRIME=2     seconds of load per target before the first case (JIT, pools); 0 = none
#   BENCH_ROUNDS=1    repeat the wrk cases; the report keeps each row's median round by req/s
#   BENCH_KEEP=1      keep the temp dir (logs, configs) for inspection
#   BENCH_TARGETS=direct,nginx,stratus   run only these targets (default: all)
#   BENCH_PIN=1       run the 1-connection cases (and TTFB) with every process on CPU 0; 0 = off
# Writes the report to bench/results/latest.md. Exit status 1 when a target answered anything
# other than 2xx (the rows are marked in the table).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
stratus_bin=${1:-$root/build/stratus}
secs=${BENCH_SECONDS:-5}
warmup=${BENCH_WARMUP:-1}
prime=${BENCH_PRIME:-2}
rounds=${BENCH_ROUNDS:-1}
ttfb_n=${BENCH_TTFB_N:-500}
workers=${BENCH_WORKERS:-2}
pin=${BENCH_PIN:-1}
peers=${PEERS:-0}
results_dir=$root/bench/results
body_file=$here/chat.json

die() { echo "bench: $*" >&2; exit 2; }
[[ -x $stratus_bin ]] || die "no stratus binary at $stratus_bin (run 'make build')"
stratus_bin=$(realpath "$stratus_bin")
for tool in wrk nginx node curl; do
  command -v "$tool" >/dev/null || die "$tool not found (run 'bash scripts/deps.sh bench')"
done
[[ $secs =~ ^[0-9]+$ && $secs -ge 1 ]] || die "BENCH_SECONDS must be a whole number >= 1"
[[ $warmup =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a whole number"
[[ $prime =~ ^[0-9]+$ ]] || die "BENCH_PRIME must be a whole number"
[[ $rounds =~ ^[0-9]+$ && $rounds -ge 1 ]] || die "BENCH_ROUNDS must be a whole number >= 1"
[[ $pin == 0 || $pin == 1 ]] || die "BENCH_PIN must be 0 or 1"
if ((pin)) && ! command -v taskset >/dev/null; then
  echo "bench: taskset not found: the 1-connection cases run unpinned" >&2
  pin=0
fi

tmp=$(mktemp -d /tmp/stratus-bench.XXXXXX)
chmod 755 "$tmp" # nginx workers run as nobody when we are root
# A private copy: a concurrent rebuild of build/stratus cannot change the binary mid-run.
cp "$stratus_bin" "$tmp/stratus"
stratus_bin=$tmp/stratus
jsonl=$tmp/results.jsonl
: >"$jsonl"
pids=()

cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then echo "bench: kept $tmp" >&2; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }
warn() { printf '\n\033[1;31m!!!!!!!! WARNING: %s !!!!!!!!\033[0m\n\n' "$*" >&2; }

# At 1 connection a request hops wrk -> proxy -> mock -> proxy -> wrk, one process at a time.
# Left to the scheduler, the hops sometimes stay on one CPU and sometimes cross between the
# two, and a cross-CPU wake-up costs far more on a virtual machine (an interrupt to another
# vCPU): the same target then moves by 2-3x between rounds. With BENCH_PIN=1 the 1-connection
# cases run with every process on CPU 0 (the load generator too), for every target alike, so
# they measure what each hop itself costs. The 64-connection cases use every CPU.
all_cpus="0-$(($(nproc) - 1))"
# descendants PID: PID and every process below it (nginx's workers).
descendants() {
  local c
  echo "$1"
  for c in $(pgrep -P "$1" 2>/dev/null); do descendants "$c"; done
}
# pin_all CPUS: every process started here, with all its threads, on CPUS.
pin_all() {
  local p d
  for p in "${pids[@]}"; do
    for d in $(descendants "$p"); do taskset -a -p -c "$1" "$d" >/dev/null 2>&1 || true; done
  done
}
# pinned CONNS CMD...: CMD on CPU 0 when the case is pinned (1 connection, BENCH_PIN=1).
pinned() {
  local conns=$1
  shift
  if ((pin && conns == 1)); then taskset -c 0 "$@"; else "$@"; fi
}
json_str() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "${s//$'\n'/ }"; }

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${load_start%% *}" -v n="$(nproc)" 'BEGIN{exit !(l > n)}'; then
  warn "load average is already $load_start on $(nproc) CPUs: other work is running, numbers will be noisy"
fi

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# wait_for_line FILE REGEX PID: prints the first match of REGEX in FILE; fails if PID dies or 10 s pass.
wait_for_line() {
  local file=$1 re=$2 pid=$3 m
  for _ in $(seq 200); do
    m=$(grep -oE "$re" "$file" 2>/dev/null | head -1 || true)
    [[ -n $m ]] && { echo "$m"; return 0; }
    kill -0 "$pid" 2>/dev/null || { cat "$file" >&2; return 1; }
    sleep 0.05
  done
  cat "$file" >&2
  return 1
}

# wait_for_http URL PID: until anything answers HTTP on URL (10 s).
wait_for_http() {
  local url=$1 pid=$2
  for _ in $(seq 200); do
    curl -s -o /dev/null --max-time 1 "$url" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# ---------------------------------------------------------------------------------------------
log "upstream: stratus mock"
"$stratus_bin" mock --port 0 --workers 1 --name upstream >"$tmp/mock.log" 2>&1 &
mock_pid=$!
pids+=("$mock_pid")
up_port=$(wait_for_line "$tmp/mock.log" 'listening on http://127\.0\.0\.1:[0-9]+' "$mock_pid" | grep -oE '[0-9]+$') ||
  die "the mock did not start"

# Translating targets: upstream mocks that speak Anthropic's and Bedrock's native protocols.
declare -A dialect_port=()
for dialect in anthropic bedrock; do
  # The Bedrock mock checks SigV4 signatures against these keys (the config below uses them too).
  AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY \
    "$stratus_bin" mock --port 0 --workers 1 --dialect "$dialect" --name "upstream-$dialect" \
    >"$tmp/mock-$dialect.log" 2>&1 &
  dpid=$!
  pids+=("$dpid")
  if p=$(wait_for_line "$tmp/mock-$dialect.log" 'listening on http://127\.0\.0\.1:[0-9]+' "$dpid" | grep -oE '[0-9]+$'); then
    dialect_port[$dialect]=$p
  else
    warn "no $dialect mock dialect in this build: its translated case is skipped"
  fi
done

log "nginx ($workers workers)"
mkdir -p "$tmp/nginx"
nginx_port=$(free_port)
cat >"$tmp/nginx/nginx.conf" <<EOF
# Generated by bench/load/run.sh. A private instance: own prefix, pid file, logs and temp dirs.
daemon off;
master_process on;
worker_processes $workers;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log $tmp/nginx/access.log combined buffer=64k;
  client_body_temp_path $tmp/nginx/client_body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  keepalive_timeout 75s;
  keepalive_requests 100000;   # default 1000 would reconnect wrk every 1000 requests
  upstream mock {
    server 127.0.0.1:$up_port;
    keepalive 128;
    keepalive_requests 100000;
  }
  server {
    listen 127.0.0.1:$nginx_port;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    # Non-streaming requests: the default buffered proxying.
    location / {
      proxy_pass http://mock;
    }
    # Streaming requests come to /stream/v1/...: unbuffered, so each chunk is relayed at once.
    location /stream/ {
      proxy_pass http://mock/;
      proxy_buffering off;
    }
  }
}
EOF
nginx -t -q -p "$tmp/nginx/" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" 2>"$tmp/nginx/test.log" ||
  { cat "$tmp/nginx/test.log" >&2; die "nginx config test failed"; }
nginx -p "$tmp/nginx/" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" >"$tmp/nginx/stdout.log" 2>&1 &
nginx_pid=$!
pids+=("$nginx_pid")
wait_for_http "http://127.0.0.1:$nginx_port/" "$nginx_pid" || { cat "$tmp/nginx/error.log" >&2; die "nginx did not start"; }

log "stratus ($workers workers)"
# Routed targets: one alias over three deployments. The three providers share the one upstream
# mock, so the row differs from the single-deployment one only by the router's work.
routed_strategies=(latency least-busy)
cat >"$tmp/stratus.yaml" <<EOF
# Generated by bench/load/run.sh.
server:
  listen: "127.0.0.1:0"
  workers: $workers
  access_log: $tmp/stratus-access.log
providers:
  - name: upstream
    type: openai
    base_url: http://127.0.0.1:$up_port/v1
$( [[ -n ${dialect_port[anthropic]:-} ]] && printf '  - {name: up-anthropic, type: anthropic, base_url: "http://127.0.0.1:%s", api_key: bench-key}\n' "${dialect_port[anthropic]}")
$( [[ -n ${dialect_port[bedrock]:-} ]] && printf '  - {name: up-bedrock, type: bedrock, base_url: "http://127.0.0.1:%s", region: us-east-1, aws_access_key_id: AKIDEXAMPLE, aws_secret_access_key: wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY}\n' "${dialect_port[bedrock]}")
$(for r in a b c; do printf '  - {name: up-%s, type: openai, base_url: "http://127.0.0.1:%s/v1"}\n' "$r" "$up_port"; done)
models:
  - name: bench
    deployments:
      - {provider: upstream, model: mock-small}
$(for strategy in "${routed_strategies[@]}"; do
  printf '  - name: bench-%s\n    strategy: %s\n    deployments:\n' "$strategy" "$strategy"
  for r in a b c; do printf '      - {provider: up-%s, model: mock-small}\n' "$r"; done
done)
$( [[ -n ${dialect_port[anthropic]:-} ]] && printf '  - {name: bench-anthropic, deployments: [{provider: up-anthropic, model: claude-bench}]}\n')
$( [[ -n ${dialect_port[bedrock]:-} ]] && printf '  - {name: bench-bedrock, deployments: [{provider: up-bedrock, model: "anthropic.claude-3-5-haiku-20241022-v1:0"}]}\n')
EOF
"$stratus_bin" serve --config "$tmp/stratus.yaml" --listen 127.0.0.1:0 --workers "$workers" >"$tmp/stratus.log" 2>&1 &
stratus_pid=$!
pids+=("$stratus_pid")
stratus_port=$(wait_for_line "$tmp/stratus.log" 'stratus listening on http://127\.0\.0\.1:[0-9]+' "$stratus_pid" | grep -oE '[0-9]+$') ||
  die "stratus did not start"

# Governed target: a second stratus with the same single-deployment alias, but with a master
# key, a SQLite store and the ledger on; the load carries a virtual key whose RPM/TPM limits and
# $ budget are far above what the run can use, so every request pays for auth, three rate-limit
# buckets, a budget reservation, pricing and a ledger event, and none is refused.
log "stratus with governance ($workers workers, SQLite store)"
gov_master=sk-bench-master-$RANDOM$RANDOM-0123456789
cat >"$tmp/stratus-gov.yaml" <<EOF
# Generated by bench/load/run.sh.
server:
  listen: "127.0.0.1:0"
  workers: $workers
  access_log: $tmp/stratus-gov-access.log
auth:
  master_key: $gov_master
store:
  url: sqlite://$tmp/ledger.db
providers:
  - name: upstream
    type: openai
    base_url: http://127.0.0.1:$up_port/v1
models:
  - name: bench
    deployments:
      - {provider: upstream, model: mock-small, price: {input: 0.15, output: 0.6}}
EOF
"$stratus_bin" serve --config "$tmp/stratus-gov.yaml" --listen 127.0.0.1:0 --workers "$workers" >"$tmp/stratus-gov.log" 2>&1 &
gov_pid=$!
pids+=("$gov_pid")
gov_port=$(wait_for_line "$tmp/stratus-gov.log" 'stratus listening on http://127\.0\.0\.1:[0-9]+' "$gov_pid" | grep -oE '[0-9]+$') ||
  die "stratus with governance did not start"
gov_key=$(curl -s --max-time 10 -H "Authorization: Bearer $gov_master" -H 'Content-Type: application/json' \
  --data '{"name":"bench","rpm":1000000000,"tpm":1000000000000,"budget_usd":1000000000,"budget_period":"month"}' \
  "http://127.0.0.1:$gov_port/admin/keys" | grep -oE '"key":"sk-stratus-[^"]+"' | cut -d'"' -f4 || true)
[[ -n $gov_key ]] || die "POST /admin/keys on the governed stratus gave no key (see $tmp/stratus-gov.log)"

# Targets: name, base URL, path for non-streaming, path for streaming, extra headers ("|"-separated).
t_names=(direct nginx stratus)
t_url=("http://127.0.0.1:$up_port" "http://127.0.0.1:$nginx_port" "http://127.0.0.1:$stratus_port")
t_path=(/v1/chat/completions /v1/chat/completions /v1/chat/completions)
t_spath=(/v1/chat/completions /stream/v1/chat/completions /v1/chat/completions)
t_hdrs=("" "" "")
t_body=("$body_file" "$body_file" "$body_file")
t_names+=("stratus+governance")
t_url+=("http://127.0.0.1:$gov_port")
t_path+=(/v1/chat/completions)
t_spath+=(/v1/chat/completions)
t_hdrs+=("Authorization: Bearer $gov_key")
t_body+=("$body_file")
for dialect in anthropic bedrock; do
  [[ -n ${dialect_port[$dialect]:-} ]] || continue
  sed "s/\"model\":\"bench\"/\"model\":\"bench-$dialect\"/" "$body_file" >"$tmp/chat-$dialect.json"
  t_names+=("stratus→$dialect")
  t_url+=("http://127.0.0.1:$stratus_port")
  t_path+=(/v1/chat/completions)
  t_spath+=(/v1/chat/completions)
  t_hdrs+=("")
  t_body+=("$tmp/chat-$dialect.json")
done

for strategy in "${routed_strategies[@]}"; do
  sed "s/\"model\":\"bench\"/\"model\":\"bench-$strategy\"/" "$body_file" >"$tmp/chat-$strategy.json"
  t_names+=("stratus×3-$strategy")
  t_url+=("http://127.0.0.1:$stratus_port")
  t_path+=(/v1/chat/completions)
  t_spath+=(/v1/chat/completions)
  t_hdrs+=("")
  t_body+=("$tmp/chat-$strategy.json")
done

portkey_version=""
if [[ $peers == 1 ]]; then
  peers_dir=$root/bench/peers
  if [[ ! -f $peers_dir/node_modules/.package-lock.json || $peers_dir/package-lock.json -nt $peers_dir/node_modules/.package-lock.json ]]; then
    log "npm ci in bench/peers"
    (cd "$peers_dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) || die "npm ci failed in bench/peers"
  fi
  portkey_version=$(node -p "require('$peers_dir/node_modules/@portkey-ai/gateway/package.json').version")
  log "portkey gateway $portkey_version (one Node process)"
  pk_port=$(free_port)
  (cd "$peers_dir" && exec node --import ./loopback.mjs node_modules/@portkey-ai/gateway/build/start-server.js \
    --port="$pk_port" --headless) >"$tmp/portkey.log" 2>&1 &
  pk_pid=$!
  pids+=("$pk_pid")
  wait_for_http "http://127.0.0.1:$pk_port/" "$pk_pid" || { cat "$tmp/portkey.log" >&2; die "portkey did not start"; }
  t_names+=(portkey)
  t_url+=("http://127.0.0.1:$pk_port")
  t_path+=(/v1/chat/completions)
  t_spath+=(/v1/chat/completions)
  t_hdrs+=("x-portkey-provider: openai|x-portkey-custom-host: http://127.0.0.1:$up_port/v1|Authorization: Bearer dummy")
  t_body+=("$body_file")
fi

# BENCH_TARGETS: keep only the named targets (a quick look at one comparison).
if [[ -n ${BENCH_TARGETS:-} ]]; then
  IFS=',' read -ra wanted <<<"$BENCH_TARGETS"
  k_names=() k_url=() k_path=() k_spath=() k_hdrs=() k_body=()
  for ti in "${!t_names[@]}"; do
    for w in "${wanted[@]}"; do
      [[ ${t_names[$ti]} == "$w" ]] || continue
      k_names+=("${t_names[$ti]}") k_url+=("${t_url[$ti]}") k_path+=("${t_path[$ti]}")
      k_spath+=("${t_spath[$ti]}") k_hdrs+=("${t_hdrs[$ti]}") k_body+=("${t_body[$ti]}")
    done
  done
  ((${#k_names[@]} > 0)) || die "BENCH_TARGETS=$BENCH_TARGETS names no target (have: ${t_names[*]})"
  t_names=("${k_names[@]}") t_url=("${k_url[@]}") t_path=("${k_path[@]}")
  t_spath=("${k_spath[@]}") t_hdrs=("${k_hdrs[@]}") t_body=("${k_body[@]}")
fi

# Requests each target completed, warm-ups included, to check its access log against.
# Every stratus* target but the governed one is the same process with one access log: they count
# together.
declare -A done_count=()
count_done() {
  local k=$1
  [[ $k != stratus+governance && $k == stratus* ]] && k=stratus
  done_count[$k]=$((${done_count[$k]:-0} + ${2:-0}))
}
# wrk_requests FILE: completed requests in a wrk output (0 when none).
wrk_requests() { grep -m1 -oE '"requests":[0-9]+' "$1" 2>/dev/null | cut -d: -f2 || echo 0; }

# preflight I STREAM: one request with curl; prints "ok" or what is wrong.
preflight() {
  local i=$1 stream=$2 path=${t_path[$1]} body code expect='"object":"chat.completion"'
  local -a hargs=(-H 'Content-Type: application/json')
  local h
  IFS='|' read -ra hs <<<"${t_hdrs[$i]}"
  for h in "${hs[@]}"; do [[ -n $h ]] && hargs+=(-H "$h"); done
  body=$(<"${t_body[$i]}")
  if ((stream)); then
    body=${body/\"stream\":false/\"stream\":true}
    path=${t_spath[$i]}
    expect='data: [DONE]'
  fi
  code=$(curl -s -o "$tmp/preflight.out" -w '%{http_code}' --max-time 10 "${hargs[@]}" \
    --data-binary "$body" "${t_url[$i]}$path" || true)
  [[ $code == 000 ]] || count_done "${t_names[$i]}" 1
  if [[ $code != 200 ]]; then
    echo "HTTP $code: $(head -c 200 "$tmp/preflight.out" | tr -d '\n')"
  elif ! grep -qF "$expect" "$tmp/preflight.out"; then
    echo "200 but the body lacks $expect"
  else
    echo ok
  fi
}

# target_pid NAME: the stratus process behind a stratus* target.
target_pid() { if [[ $1 == stratus+governance ]]; then echo "$gov_pid"; else echo "$stratus_pid"; fi; }

# proxy_pids NAME: the processes of a proxy target (nginx: master and workers); none for direct.
proxy_pids() {
  case $1 in
    stratus*) target_pid "$1" ;;
    nginx) descendants "$nginx_pid" ;;
    portkey) descendants "$pk_pid" ;;
  esac
}
# cpu_ns PID...: nanoseconds on CPU so far, all threads of these processes (schedstat: exact,
# where /proc/PID/stat counts 10 ms ticks).
cpu_ns() {
  local p t=0
  for p in "$@"; do
    t=$((t + $(cat /proc/"$p"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}')))
  done
  echo "$t"
}

# run_case I CASE STREAM THREADS CONNS ROUND
run_case() {
  local i=$1 kase=$2 stream=$3 threads=$4 conns=$5 round=$6
  local name=${t_names[$i]} path=${t_path[$i]} pf ok=true out res
  ((stream)) && path=${t_spath[$i]}
  preflight "$i" "$stream" >"$tmp/preflight.msg"
  pf=$(<"$tmp/preflight.msg")
  [[ $pf == ok ]] || { ok=false; warn "$name / $kase: preflight failed: $pf"; }
  export BENCH_BODY=${t_body[$i]} BENCH_STREAM=$stream BENCH_PATH=$path BENCH_HEADERS=${t_hdrs[$i]} \
    BENCH_LABEL="$name/$kase" BENCH_CONNS=$conns
  ((pin && conns == 1)) && pin_all 0
  if ((warmup > 0)); then
    pinned "$conns" timeout -k 5 $((warmup + 30)) wrk -t"$threads" -c"$conns" -d"${warmup}s" --timeout 10s -s "$here/chat.lua" \
      "${t_url[$i]}" >"$tmp/warmup.txt" 2>&1 || true
    count_done "$name" "$(wrk_requests "$tmp/warmup.txt")"
  fi
  out=$tmp/wrk-$name-${kase// /_}-$round.txt
  # CPU time the proxy spends per request: much steadier than req/s on a shared 2-core box,
  # and independent of how expensive the upstream mock is.
  local cpu0=0 cpu1=0 ppids
  ppids=$(proxy_pids "$name")
  [[ -n $ppids ]] && cpu0=$(cpu_ns $ppids)
  pinned "$conns" timeout -k 5 $((secs + 30)) wrk -t"$threads" -c"$conns" -d"${secs}s" --timeout 10s --latency -s "$here/chat.lua" \
    "${t_url[$i]}" >"$out" 2>&1 || true
  [[ -n $ppids ]] && cpu1=$(cpu_ns $ppids)
  ((pin && conns == 1)) && pin_all "$all_cpus"
  res=$(grep -m1 '^BENCHJSON ' "$out" | cut -d' ' -f2- || true)
  count_done "$name" "$(wrk_requests "$out")"
  local nreq cpu_us=null
  nreq=$(wrk_requests "$out")
  if [[ -n $ppids ]] && ((nreq > 0)); then
    cpu_us=$(awk -v d=$((cpu1 - cpu0)) -v n="$nreq" 'BEGIN {printf "%.1f", d / 1000 / n}')
  fi
  if [[ -z $res ]]; then
    warn "$name / $kase: wrk gave no result"
    cat "$out" >&2
    res=null
    printf '{"kind":"wrk","target":"%s","case":"%s","round":%d,"missing":true,"preflight_ok":%s,"preflight_msg":%s,"result":null}\n' \
      "$name" "$kase" "$round" "$ok" "$(json_str "$pf")" >>"$jsonl"
    return
  fi
  printf '{"kind":"wrk","target":"%s","case":"%s","round":%d,"preflight_ok":%s,"preflight_msg":%s,"cpu_us_per_req":%s,"result":%s}\n' \
    "$name" "$kase" "$round" "$ok" "$(json_str "$pf")" "$cpu_us" "$res" >>"$jsonl"
  local non2xx
  non2xx=$(grep -oE '"non2xx":[0-9]+' <<<"$res" | cut -d: -f2)
  ((non2xx == 0)) || warn "$name / $kase: $non2xx non-2xx responses"
  printf '   %-8s %-12s %s\n' "$name" "$kase" \
    "$(grep -oE '"(rps|p50_us|p99_us|non2xx)":[0-9.]+' <<<"$res" | tr '\n' ' ')" >&2
}

if ((prime > 0)); then
  log "priming every target: ${prime}s of non-streaming load at 64 connections"
  for ti in "${!t_names[@]}"; do
    BENCH_BODY=${t_body[$ti]} BENCH_STREAM=0 BENCH_PATH=${t_path[$ti]} BENCH_HEADERS=${t_hdrs[$ti]} BENCH_LABEL=prime BENCH_CONNS=64 \
      timeout -k 5 $((prime + 30)) wrk -t2 -c64 -d"${prime}s" --timeout 10s -s "$here/chat.lua" "${t_url[$ti]}" \
      >"$tmp/prime.txt" 2>&1 || true
    count_done "${t_names[$ti]}" "$(wrk_requests "$tmp/prime.txt")"
  done
fi

cases=("chat c64" "chat c1" "stream c64" "stream c1")
c_stream=(0 0 1 1)
c_threads=(2 1 2 1)
c_conns=(64 1 64 1)
# Every other round runs the targets in reverse order, so that a box that drifts during a case
# (the neighbours' load on a shared VM) does not favour whichever target comes first.
forward=("${!t_names[@]}")
backward=()
for ((k = ${#forward[@]} - 1; k >= 0; k--)); do backward+=("${forward[$k]}"); done
for round in $(seq "$rounds"); do
  if ((round % 2 == 0)); then order=("${backward[@]}"); else order=("${forward[@]}"); fi
  for ci in "${!cases[@]}"; do
    log "case ${cases[$ci]}: ${warmup}s warm-up + ${secs}s per target$( ((rounds > 1)) && echo " (round $round/$rounds)")"
    for ti in "${order[@]}"; do
      run_case "$ti" "${cases[$ci]}" "${c_stream[$ci]}" "${c_threads[$ci]}" "${c_conns[$ci]}" "$round"
    done
  done
done

log "time to first byte, stream, 1 connection, $ttfb_n requests per target"
((pin)) && pin_all 0
for ti in "${!t_names[@]}"; do
  name=${t_names[$ti]}
  preflight "$ti" 1 >"$tmp/preflight.msg"
  pf=$(<"$tmp/preflight.msg")
  ok=true
  [[ $pf == ok ]] || { ok=false; warn "$name / ttfb: preflight failed: $pf"; }
  hargs=()
  IFS='|' read -ra hs <<<"${t_hdrs[$ti]}"
  for h in "${hs[@]}"; do [[ -n $h ]] && hargs+=(--header "$h"); done
  res=$(pinned 1 timeout -k 5 120 node "$here/ttfb.mjs" --url "${t_url[$ti]}${t_spath[$ti]}" --n "$ttfb_n" \
    --body "${t_body[$ti]}" --label "$name" "${hargs[@]}" 2>"$tmp/ttfb-$name.err" | grep -m1 '^TTFBJSON ' | cut -d' ' -f2- || true)
  if [[ -z $res ]]; then
    warn "$name / ttfb: no result"
    cat "$tmp/ttfb-$name.err" >&2
    printf '{"kind":"ttfb","target":"%s","missing":true,"preflight_ok":%s,"preflight_msg":%s,"result":null}\n' \
      "$name" "$ok" "$(json_str "$pf")" >>"$jsonl"
    continue
  fi
  count_done "$name" $((50 + ttfb_n)) # its warm-up + the measured ones
  printf '{"kind":"ttfb","target":"%s","preflight_ok":%s,"preflight_msg":%s,"result":%s}\n' \
    "$name" "$ok" "$(json_str "$pf")" "$res" >>"$jsonl"
  printf '   %-8s %s\n' "$name" "$res" >&2
done
((pin)) && pin_all "$all_cpus"

# Optional: where stratus spends its CPU at 64 connections (a flat profile: self time per symbol).
perf_case() { # KASE STREAM
  local kase=$1 stream=$2 si=-1 ti wrk_pid dsos syms
  for ti in "${!t_names[@]}"; do [[ ${t_names[$ti]} == stratus ]] && si=$ti; done
  ((si >= 0)) || { warn "perf: no stratus target in this run"; return; }
  local path=${t_path[$si]}
  ((stream)) && path=${t_spath[$si]}
  log "perf: profiling stratus during $kase (${secs}s)"
  BENCH_BODY=$body_file BENCH_STREAM=$stream BENCH_PATH=$path BENCH_HEADERS="" BENCH_LABEL=perf BENCH_CONNS=64 \
    timeout -k 5 $((secs + 30)) wrk -t2 -c64 -d"$((secs + 1))s" --timeout 10s -s "$here/chat.lua" "${t_url[$si]}" \
    >"$tmp/wrk-perf.txt" 2>&1 &
  wrk_pid=$!
  sleep 0.5
  timeout -k 5 $((secs + 30)) perf record -q -F 999 -p "$stratus_pid" -o "$tmp/perf.data" -- sleep "$secs" \
    >/dev/null 2>&1 || true
  wait "$wrk_pid" || true
  count_done stratus "$(wrk_requests "$tmp/wrk-perf.txt")"
  dsos=$(perf report -i "$tmp/perf.data" --stdio -F overhead,dso 2>/dev/null | grep -vE '^#|^$' |
    sed -E 's/ +$//' | head -12 || true)
  syms=$(perf report -i "$tmp/perf.data" --stdio -F overhead,dso,sym --percent-limit 0.8 2>/dev/null |
    grep -vE '^#|^$' | sed -E 's/ +$//; s/  +/  /g' | cut -c1-170 | head -40 || true)
  node -e 'const [t,a,b]=process.argv.slice(1);for(const [title,text] of [[t+", self time by DSO",a],[t+", self time by symbol (>= 0.8%)",b]])console.log(JSON.stringify({kind:"perf",title,text}))' \
    "perf record -F 999 -p <stratus> during $kase" "$dsos" "$syms" >>"$jsonl"
}
if [[ ${BENCH_PERF:-0} == 1 ]]; then
  if command -v perf >/dev/null; then
    perf_case "chat c64" 0
    perf_case "stream c64" 1
  else
    warn "BENCH_PERF=1 but perf is not installed (apt-get install linux-perf)"
  fi
fi

# Memory after the run.
rss_of() { awk '/^VmRSS/{r=$2} /^VmHWM/{h=$2} END{print r+0, h+0}' "/proc/$1/status" 2>/dev/null || echo "0 0"; }
record_rss() { # name pid...
  local name=$1 r=0 h=0 n=0 p a b
  shift
  for p in "$@"; do
    read -r a b < <(rss_of "$p")
    r=$((r + a)); h=$((h + b)); n=$((n + 1))
  done
  printf '{"kind":"rss","target":"%s","rss_kb":%d,"hwm_kb":%d,"procs":%d}\n' "$name" "$r" "$h" "$n" >>"$jsonl"
}
record_rss stratus "$stratus_pid"
record_rss "stratus+governance" "$gov_pid"
record_rss nginx "$nginx_pid" $(pgrep -P "$nginx_pid" || true)
[[ $peers == 1 ]] && record_rss portkey "$pk_pid"
record_rss "upstream mock" "$mock_pid"

# Stop each stratus the way an operator would (SIGTERM: drain, then exit) and record how it went;
# its access log (and the governed one's ledger) is complete once it has exited.
# stop_stratus NAME PID LOG: sets stop_status to the exit status (0, a number, or "still running
# ..."). Not in a $(subshell): `wait` needs the process to be this shell's child.
stop_stratus() {
  local name=$1 pid=$2 logf=$3 status=0 msg
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    status="still running 10 s after SIGTERM"
  else
    wait "$pid" 2>/dev/null || status=$?
  fi
  if [[ $status != 0 ]]; then
    msg="$name did not exit cleanly on SIGTERM: status $status"
    [[ $status =~ ^[0-9]+$ ]] && ((status > 128)) && msg+=" (signal $((status - 128)): $(kill -l $((status - 128)) 2>/dev/null || echo ?))"
    warn "$msg"
    printf '{"kind":"note","text":%s}\n' "$(json_str "**$msg** ($name log: $(tail -c 300 "$logf" | tr '\n' ' '))")" >>"$jsonl"
  fi
  stop_status=$status
}
stop_stratus stratus "$stratus_pid" "$tmp/stratus.log"
stratus_exit=$stop_status
stop_stratus "stratus+governance" "$gov_pid" "$tmp/stratus-gov.log"
gov_exit=$stop_status
kill -USR1 "$nginx_pid" 2>/dev/null || true # reopen logs = flush the 64k buffers
sleep 0.5
s_lines=$(wc -l <"$tmp/stratus-access.log" 2>/dev/null || echo 0)
g_lines=$(wc -l <"$tmp/stratus-gov-access.log" 2>/dev/null || echo 0)
n_lines=$(wc -l <"$tmp/nginx/access.log" 2>/dev/null || echo 0)
access_note() { # name lines
  local c=${done_count[$1]:-0}
  if (($2 >= c)); then
    echo "$1 $2 lines for $c completed requests"
  else
    echo "**$1 $2 lines for $c completed requests: $((c - $2)) lines missing**"
  fi
}
printf '{"kind":"note","text":%s}\n' "$(json_str "Access logs (warm-ups included; a few more lines than requests is normal: wrk stops with requests in flight): $(access_note stratus "$s_lines"); $(access_note stratus+governance "$g_lines"); $(access_note nginx "$n_lines"). stratus exit status after SIGTERM: $stratus_exit; stratus+governance: $gov_exit.")" >>"$jsonl"
# The governed stratus wrote one ledger event per request; SIGTERM flushed them to SQLite.
if command -v sqlite3 >/dev/null; then
  ledger_rows=$(sqlite3 "$tmp/ledger.db" 'SELECT count(*) FROM ledger' 2>&1 || true)
  gov_done=${done_count[stratus+governance]:-0}
  if [[ $ledger_rows =~ ^[0-9]+$ ]] && ((ledger_rows >= gov_done)); then
    ledger_note="Ledger of stratus+governance: $ledger_rows rows in SQLite after SIGTERM for $gov_done completed requests."
  else
    ledger_note="**Ledger of stratus+governance: $ledger_rows rows in SQLite after SIGTERM for $gov_done completed requests: events missing.**"
    warn "$ledger_note"
  fi
  printf '{"kind":"note","text":%s}\n' "$(json_str "$ledger_note")" >>"$jsonl"
fi

git_rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(git -C "$root" status --porcelain -- src 2>/dev/null) ]] && git_rev+="+dirty"
wrk_version=$( (wrk -v 2>&1 || true) | head -1 | awk '{print $1, $2}')
nginx_version=$(nginx -v 2>&1 | sed 's/.*nginx\///')
targets_json=$(printf '"%s",' "${t_names[@]}")
cases_json=$(printf '"%s",' "${cases[@]}")
printf '{"kind":"meta","date":"%s","commit":"%s","cpus":%d,"load_start":"%s","load_end":"%s","seconds":%d,"warmup":%d,"prime":%d,"rounds":%d,"ttfb_n":%d,"proxy_workers":%d,"pinned_c1":%s,"body_bytes":%d,"wrk_version":%s,"nginx_version":%s,"node_version":"%s","portkey_version":%s,"targets":[%s],"cases":[%s]}\n' \
  "$(date -u '+%Y-%m-%d %H:%M UTC')" "$git_rev" "$(nproc)" "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)" "$secs" "$warmup" "$prime" "$rounds" "$ttfb_n" "$workers" "$( ((pin)) && echo true || echo false)" \
  "$(tr -d '\n' <"$body_file" | wc -c)" "$(json_str "$wrk_version")" "$(json_str "$nginx_version")" "$(node -v)" \
  "$( [[ -n $portkey_version ]] && json_str "$portkey_version" || echo null)" "${targets_json%,}" "${cases_json%,}" >>"$jsonl"

mkdir -p "$results_dir"
rc=0
node "$here/report.mjs" "$jsonl" >"$tmp/latest.md" || rc=$?
cp "$tmp/latest.md" "$results_dir/latest.md"
echo
cat "$results_dir/latest.md"
echo
echo "(written to ${results_dir#"$root"/}/latest.md)"
if ((rc != 0)); then
  warn "some targets failed; see the marked rows above"
  exit 1
fi

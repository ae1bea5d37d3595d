# shellcheck shell=bash
# Helpers for tests that need an S3 server: s3rver (pinned in tests/s3rver/package.json) on a
# free 127.0.0.1 port, and tests/fault_proxy.js in front of it. Source after functions.sh:
#
#   . "$TESTS_DIR/s3rver/s3rver.sh"
#   s3rver_start BUCKET [--tls KEY CERT]  # sets S3_PORT, S3RVER_URL (http[s]://...:PORT/)
#   fault_proxy_start RATE SEED [403]   # in front of S3_PORT (s3rver, or s3_server.sh's server);
#                                       # sets FAULT_PROXY_PORT, FAULT_PROXY_URL
#   fault_proxy_controlled         # a proxy without faults whose state the test sets:
#   fault_proxy_state pass|'delay MS'|down   # (see fault_proxy.js), in force when it returns
#   fault_proxy_stop               # sets FAULT_PROXY_COUNTS (see fault_proxy.js)
#
# Everything started here is stopped by functions.sh's cleanup, after the mounts are gone.
# s3rver's credentials: access key ID S3RVER, secret S3RVER.

S3RVER_DIR=${S3DISK_SRCDIR:?}/tests/s3rver
S3RVER_PIDS=()
FAULT_PROXY_PID=
FAULT_PROXY_LOG=

# Installs s3rver with npm ci if it is not there yet (needs the npm registry).
s3rver_require() {
  command -v node >/dev/null 2>&1 || skip_or_fail "node is not installed"
  [ -x "$S3RVER_DIR/node_modules/.bin/s3rver" ] && return 0
  command -v npm >/dev/null 2>&1 || skip_or_fail "npm is not installed"
  # Tests run in parallel: one npm ci at a time; the others wait for it and use its result.
  (
    flock -w 600 9 || exit 1
    [ -x "$S3RVER_DIR/node_modules/.bin/s3rver" ] && exit 0
    log "installing s3rver (npm ci --prefix tests/s3rver)"
    npm ci --prefix "$S3RVER_DIR" --no-audit --no-fund >"$WORK/npm-ci.log" 2>&1
  ) 9>"${TMPDIR:-/tmp}/s3disk-s3rver-npm-ci.lock" ||
    skip_or_fail "npm ci --prefix tests/s3rver failed: $(tail -3 "$WORK/npm-ci.log" 2>/dev/null)"
}

# Prints a TCP port that was free a moment ago on 127.0.0.1.
free_port() {
  node -e 'const s = require("net").createServer();
    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# wait_http URL: until anything answers HTTP there (at most 15 s).
wait_http() {
  local i
  for i in $(seq 150); do
    curl -s -k -o /dev/null --max-time 1 "$1" && return 0
    sleep 0.1
  done
  return 1
}

# s3rver_start BUCKET [--tls KEY CERT]: starts s3rver with BUCKET created, in
# $WORK/s3rver-data; with --tls it speaks HTTPS with that key and certificate.
s3rver_start() {
  local bucket=$1 try port pid scheme=http tls=()
  if [ "${2:-}" = --tls ]; then
    scheme=https
    tls=(--key "$3" --cert "$4")
  fi
  s3rver_require
  mkdir -p "$WORK/s3rver-data"
  for try in 1 2 3; do
    port=$(free_port)
    # s3rver 3.7.1 makes ListObjectsV2 continuation tokens with DES, which Node's OpenSSL 3
    # has only in its legacy provider: without it every truncated listing is an HTTP 500.
    node --openssl-legacy-provider "$S3RVER_DIR/node_modules/.bin/s3rver" --directory "$WORK/s3rver-data" \
      --port "$port" --address 127.0.0.1 --silent --configure-bucket "$bucket" "${tls[@]}" \
      >>"$WORK/s3rver.log" 2>&1 &
    pid=$!
    S3RVER_PIDS+=("$pid")
    if wait_http "$scheme://127.0.0.1:$port/" && kill -0 "$pid" 2>/dev/null; then
      S3_PORT=$port
      S3RVER_URL=$scheme://127.0.0.1:$port/
      log "s3rver on port $port (pid $pid), bucket $bucket"
      return 0
    fi
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  fail "s3rver did not start: $(tail -5 "$WORK/s3rver.log")"
}

# fault_proxy_start RATE SEED [MODE]: a fault_proxy.js in front of the server on S3_PORT.
fault_proxy_start() {
  local i
  FAULT_PROXY_LOG=$WORK/fault_proxy.$RANDOM.log
  node "$TESTS_DIR/fault_proxy.js" 0 "$S3_PORT" "$1" "$2" "${3:-faults}" \
    >"$FAULT_PROXY_LOG" 2>&1 &
  FAULT_PROXY_PID=$!
  for i in $(seq 100); do
    # The log may not exist yet: the background job creates it.
    FAULT_PROXY_PORT=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$FAULT_PROXY_LOG" 2>/dev/null || true)
    [ -n "$FAULT_PROXY_PORT" ] && break
    sleep 0.1
  done
  [ -n "$FAULT_PROXY_PORT" ] || fail "fault_proxy did not start: $(cat "$FAULT_PROXY_LOG")"
  FAULT_PROXY_URL=http://127.0.0.1:$FAULT_PROXY_PORT/
  log "fault_proxy on port $FAULT_PROXY_PORT (rate $1, seed $2, mode ${3:-faults})"
}

# fault_proxy_controlled: a fault_proxy.js in front of s3rver that injects no faults and
# takes its state from $WORK/fault_proxy.state (fault_proxy_state), starting with "pass".
fault_proxy_controlled() {
  FAULT_PROXY_STATE_FILE=$WORK/fault_proxy.state
  printf 'pass\n' >"$FAULT_PROXY_STATE_FILE"
  fault_proxy_start 0 1 "control=$FAULT_PROXY_STATE_FILE" || fail "the controlled proxy did not start"
}

# fault_proxy_state STATE: sets the controlled proxy's state and waits (10 s) until the proxy
# says it is in force.
fault_proxy_state() {
  local i
  printf '%s\n' "$1" >"$FAULT_PROXY_STATE_FILE.tmp"
  mv "$FAULT_PROXY_STATE_FILE.tmp" "$FAULT_PROXY_STATE_FILE"
  for i in $(seq 200); do
    [ "$(sed -n 's/^state //p' "$FAULT_PROXY_LOG" | tail -n 1)" = "$1" ] && return 0
    # Still "pass" from the start (the proxy announces changes only).
    [ "$1" = pass ] && ! grep -q '^state ' "$FAULT_PROXY_LOG" && return 0
    proc_alive "$FAULT_PROXY_PID" || fail "fault_proxy died: $(tail -3 "$FAULT_PROXY_LOG")"
    sleep 0.05
  done
  fail "fault_proxy did not take the state '$1' within 10 s"
}

# fault_proxy_stop: stops the proxy; sets FAULT_PROXY_COUNTS to its counts line. (Not in a
# $(...) subshell: only this shell can wait for the proxy to finish writing.)
fault_proxy_stop() {
  FAULT_PROXY_COUNTS=
  [ -n "$FAULT_PROXY_PID" ] || return 0
  kill -TERM "$FAULT_PROXY_PID" 2>/dev/null
  wait "$FAULT_PROXY_PID" 2>/dev/null
  FAULT_PROXY_PID=
  FAULT_PROXY_COUNTS=$(grep '^fault_proxy:' "$FAULT_PROXY_LOG" || true)
}

s3rver_stop_all() {
  local pid
  fault_proxy_stop
  for pid in "${S3RVER_PIDS[@]}"; do
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  S3RVER_PIDS=()
}

# functions.sh's cleanup stops the servers after the mounts and daemons that use them.
CLEANUP_HOOKS+=(s3rver_stop_all)

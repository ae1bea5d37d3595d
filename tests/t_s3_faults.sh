#!/usr/bin/env bash
# S3Store through tests/fault_proxy.js: at a 20% fault rate (500/503, delays, resets,
# truncated or corrupted bodies) the ObjectStore contract still passes thanks to retries;
# behind a proxy that always answers 403, operations fail at once with a message about the
# credentials.
# S3DISK_TEST_SEED=N replays the proxy's choices.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$TESTS_DIR/s3rver/s3rver.sh"

UNIT_TESTS=${UNIT_TESTS:-$PWD/tests/unit/unit_tests}
[ -x "$UNIT_TESTS" ] || fail "the unit test binary is missing: UNIT_TESTS=$UNIT_TESTS"
require_cmd curl

SEED=${S3DISK_TEST_SEED:-$((RANDOM * 32768 + RANDOM))}
log "seed $SEED (replay with S3DISK_TEST_SEED=$SEED)"
s3rver_start s3disk-faults

# 1. Faults at rate 0.2; V2 signing, so s3rver checks that every retry is signed afresh.
fault_proxy_start 0.2 "$SEED"
out=$WORK/unit-faults.log
if ! S3DISK_TEST_S3_URL=${FAULT_PROXY_URL}s3disk-faults S3DISK_TEST_S3_AUTH=aws2 \
  "$UNIT_TESTS" "[s3]" >"$out" 2>&1; then
  tail -60 "$out" >&2
  fault_proxy_stop
  log "$FAULT_PROXY_COUNTS"
  fail "the contract failed through the fault proxy (seed $SEED)"
fi
grep -q "S3DISK_TEST_S3_URL is not set" "$out" && fail "the contract was skipped"
fault_proxy_stop
counts=$FAULT_PROXY_COUNTS
log "$counts"
# The run must really have met faults, and retried them.
injected=$(echo "$counts" | tr ' ' '\n' | awk -F= '$1 ~ /^(500|503|reset|truncate|corrupt)$/ { n += $2 }
  END { print n + 0 }')
[ "$injected" -ge 20 ] || fail "only $injected faults were injected: the test proves nothing"
retries=$(grep -c "; retry [0-9]* in " "$out" || true)
[ "$retries" -ge 20 ] || fail "only $retries retries were logged"
corrupted=$(echo "$counts" | sed -n 's/.* corrupt=\([0-9]*\).*/\1/p')
if [ "${corrupted:-0}" -gt 0 ]; then
  grep -q "does not match the MD5" "$out" || fail "corrupted bodies went unnoticed"
fi
log "$injected faults injected, $retries retries, contract passed"

# 2. A proxy that always answers 403.
fault_proxy_start 0 "$SEED" 403
out=$WORK/unit-403.log
if ! S3DISK_TEST_S3_FORBIDDEN_URL=${FAULT_PROXY_URL}s3disk-faults \
  "$UNIT_TESTS" "[s3-403]" >"$out" 2>&1; then
  tail -40 "$out" >&2
  fail "the always-403 test failed"
fi
grep -q "S3DISK_TEST_S3_FORBIDDEN_URL is not set" "$out" && fail "the 403 test was skipped"
grep -q "HTTP 403 AccessDenied" "$out" || fail "no clear 403 message in the log"
fault_proxy_stop
log "$FAULT_PROXY_COUNTS"
log "ok"

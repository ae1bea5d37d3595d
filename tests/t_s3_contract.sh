#!/usr/bin/env bash
# The ObjectStore contract (tests/unit/object_store_contract.h) against S3Store on s3rver,
# signed with SigV4 and with V2 (s3rver verifies V2 signatures, so a wrong one fails).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$TESTS_DIR/s3rver/s3rver.sh"

UNIT_TESTS=${UNIT_TESTS:-$PWD/tests/unit/unit_tests}
[ -x "$UNIT_TESTS" ] || fail "the unit test binary is missing: UNIT_TESTS=$UNIT_TESTS"
require_cmd curl

s3rver_start s3disk-contract

for auth in aws4 aws2; do
  log "contract with --authVersion=$auth"
  out=$WORK/unit-$auth.log
  if ! S3DISK_TEST_S3_URL=${S3RVER_URL}s3disk-contract S3DISK_TEST_S3_AUTH=$auth \
    "$UNIT_TESTS" "[s3]" >"$out" 2>&1; then
    tail -60 "$out" >&2
    fail "the contract failed on s3rver with $auth"
  fi
  grep -q "S3DISK_TEST_S3_URL is not set" "$out" && fail "the contract was skipped"
  grep -E "^(All tests passed|test cases:)" "$out" || true
done

# A missing bucket is named as such, never read as absent objects.
out=$WORK/unit-nobucket.log
if S3DISK_TEST_S3_URL=${S3RVER_URL}no-such-bucket "$UNIT_TESTS" "[s3]" >"$out" 2>&1; then
  fail "the contract passed on a bucket that does not exist"
fi
grep -q "NoSuchBucket" "$out" || { tail -30 "$out" >&2; fail "no NoSuchBucket message"; }
log "ok"

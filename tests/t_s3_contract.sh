#!/usr/bin/env bash
# The ObjectStore contract (tests/unit/object_store_contract.h) against S3Store on the test's
# S3 server (tests/s3_server.sh): signed with SigV4 and with V2, listed in pages of 1,000 and
# of 2 (many pages), and with every key under a prefix holding a space and a '+'. A server
# that checks signatures (RGW: both; s3rver: V2 only) must refuse a wrong secret.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$TESTS_DIR/s3_server.sh"

UNIT_TESTS=${UNIT_TESTS:-$PWD/tests/unit/unit_tests}
[ -x "$UNIT_TESTS" ] || fail "the unit test binary is missing: UNIT_TESTS=$UNIT_TESTS"
require_cmd curl

BUCKET=s3disk-contract
s3_server_start "$BUCKET"
export S3DISK_TEST_S3_ACCESS_ID=$S3_ACCESS_ID S3DISK_TEST_S3_ACCESS_KEY=$S3_SECRET
# s3rver ignores If-None-Match; RGW honours it.
[ "$S3_SERVER" = s3rver ] || export S3DISK_TEST_S3_HONOURS_IF_NONE_MATCH=1

# contract AUTH PAGE_KEYS PREFIX
contract() {
  local auth=$1 out=$WORK/unit-$1-$2.log checks=
  log "contract with --authVersion=$auth, pages of $2 keys, key prefix '$3'"
  [ "$S3_SERVER" = s3rver ] && [ "$auth" = aws4 ] || checks=1
  if ! S3DISK_TEST_S3_URL=$S3_URL$BUCKET S3DISK_TEST_S3_AUTH=$auth \
    S3DISK_TEST_S3_LIST_PAGE_KEYS=$2 S3DISK_TEST_S3_KEY_PREFIX=$3 \
    S3DISK_TEST_S3_CHECKS_SIGNATURES=$checks "$UNIT_TESTS" "[s3]" >"$out" 2>&1; then
    tail -60 "$out" >&2
    fail "the contract failed on $S3_SERVER with $auth"
  fi
  grep -q "S3DISK_TEST_S3_URL is not set" "$out" && fail "the contract was skipped"
  if [ -n "$checks" ] && grep -q "S3DISK_TEST_S3_CHECKS_SIGNATURES" "$out"; then
    fail "the wrong-secret case was skipped"
  fi
  grep -E "^(All tests passed|test cases:)" "$out" || true
}
contract aws4 1000 ""
contract aws4 2 "a dir+x/"
contract aws2 1000 ""
contract aws2 3 "sp ace+plus/"

# A missing bucket is named as such, never read as absent objects.
out=$WORK/unit-nobucket.log
if S3DISK_TEST_S3_URL=${S3_URL}no-such-bucket "$UNIT_TESTS" "[s3]" >"$out" 2>&1; then
  fail "the contract passed on a bucket that does not exist"
fi
grep -q "NoSuchBucket" "$out" || { tail -30 "$out" >&2; fail "no NoSuchBucket message"; }
log "ok"

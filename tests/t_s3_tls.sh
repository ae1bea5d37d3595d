#!/usr/bin/env bash
# S3Store over HTTPS (s3rver with a self-signed certificate): verification is on by default
# and fails at once with a message naming --cacert and --insecure; --cacert=CERT trusts the
# server; --insecure skips the check and says so in the log.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$TESTS_DIR/s3rver/s3rver.sh"

UNIT_TESTS=${UNIT_TESTS:-$PWD/tests/unit/unit_tests}
[ -x "$UNIT_TESTS" ] || fail "the unit test binary is missing: UNIT_TESTS=$UNIT_TESTS"
require_cmd curl openssl

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
  >"$WORK/openssl.log" 2>&1 || fail "openssl could not make a certificate: $(cat "$WORK/openssl.log")"
s3rver_start s3disk-tls --tls "$WORK/key.pem" "$WORK/cert.pem"

out=$WORK/unit-tls.log
if ! S3DISK_TEST_S3_TLS_URL=${S3RVER_URL}s3disk-tls S3DISK_TEST_S3_CACERT=$WORK/cert.pem \
  "$UNIT_TESTS" "[s3-tls]" >"$out" 2>&1; then
  tail -40 "$out" >&2
  fail "the TLS test failed"
fi
grep -q "S3DISK_TEST_S3_TLS_URL and" "$out" && fail "the TLS test was skipped"
grep -q "TLS certificate verification is OFF" "$out" || fail "--insecure was not logged"
grep -q "certificate" "$out" || fail "no message about the certificate"
log "ok"

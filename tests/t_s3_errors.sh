#!/usr/bin/env bash
# t_s3_errors: a bucket that s3disk cannot use because of a bad setup gives exactly one line on
# stderr, "s3disk: bucket NAME: what is wrong (HTTP ...): the fix", exits non-zero and mounts
# nothing. The commands run without -f, as a user types them. Cases: a wrong secret key, a
# missing bucket (also with --nbd), a clock 20 minutes ahead (faketime: libfaketime moves the date s3disk signs
# with), a bucket name under 3 characters; and a wrong --region, which these servers accept.
#
# s3rver checks V2 signatures only: the wrong secret runs there with --authVersion=aws2, and
# with both versions on Ceph RGW (S3DISK_TEST_SERVER=ceph). Both servers check the clock.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$TESTS_DIR/s3_server.sh"
require_root
require_cmd curl faketime

BUCKET=s3disk-errors
MNT=$WORK/mnt
mkdir -p "$MNT"
s3_server_start "$BUCKET"
WRONG_SECRET=wrong-secret-0f9e8d7c
printf '%s:%s\n' "$S3_ACCESS_ID" "$WRONG_SECRET" >"$WORK/wrong-passwd"
chmod 600 "$WORK/wrong-passwd"

# bad_setup PATTERN... -- ARGS...: s3disk ARGS (or the command ARGS when it is not an option)
# fails with exactly one stderr line that starts "s3disk: " and matches every PATTERN (grep
# -E), shows no secret, and mounts nothing.
bad_setup() {
  local patterns=() cmd
  while [ "$1" != -- ]; do
    patterns+=("$1")
    shift
  done
  shift
  cmd=("$S3DISK" "$@")
  [ "$1" != faketime ] || cmd=("$@")
  log "case: ${cmd[*]}"
  expect_fail "${cmd[@]}" "^s3disk: "
  expect_err_has "${patterns[@]}"
  local lines
  lines=$(wc -l <"$EXPECT_ERR")
  if [ "$lines" -ne 1 ]; then
    sed 's/^/  | /' "$EXPECT_ERR" >&2
    fail "expected exactly one stderr line, got $lines: ${cmd[*]}"
  fi
  ! grep -qF -e "$WRONG_SECRET" -e "$S3_SECRET" "$EXPECT_ERR" || fail "a secret is in the message"
  ! is_mounted "$MNT" || fail "something got mounted on $MNT: ${cmd[*]}"
}

S3=(--baseURL="$S3_URL" --size=1m)

# 1. A wrong secret key: the server rejects the signature.
versions=(aws2)
if [ "$S3_SERVER" = ceph ]; then
  versions=(aws4 aws2)
else
  log "skipped: a wrong secret with --authVersion=aws4 ($S3_SERVER checks no V4 signature; the ceph run covers it)"
fi
for v in "${versions[@]}"; do
  bad_setup 'secret access key is wrong' 'HTTP 403 SignatureDoesNotMatch' \
    "access file $WORK/wrong-passwd" '--authVersion' -- \
    "${S3[@]}" --authVersion="$v" --accessFile="$WORK/wrong-passwd" "$BUCKET" "$MNT"
done

# 2. A bucket that does not exist.
bad_setup '^s3disk: bucket no-such-bucket: the bucket does not exist' 'HTTP 404 NoSuchBucket' \
  'create it' '--baseURL' -- \
  "${S3[@]}" --accessFile="$WORK/passwd" no-such-bucket "$MNT"

# The same with --nbd: the launcher probes the bucket before nbdkit starts.
command -v nbdkit >/dev/null 2>&1 || skip_or_fail "nbdkit is not installed (scripts/check installs it)"
bad_setup '^s3disk: bucket no-such-bucket: the bucket does not exist' -- \
  --nbd --socket="$WORK/nbd.sock" "${S3[@]}" --accessFile="$WORK/passwd" no-such-bucket
[ ! -e "$WORK/nbd.sock" ] || fail "--nbd left a socket behind"

# 3. This machine's clock 20 minutes ahead: what is signed is dated 20 minutes late.
for v in aws4 aws2; do
  bad_setup "clock is 20 minutes ahead of the server's" 'HTTP 403 RequestTimeTooSkewed' 'NTP' -- \
    faketime -f '+20m' "$S3DISK" "${S3[@]}" --authVersion="$v" --accessFile="$WORK/passwd" \
    "$BUCKET" "$MNT"
done

# 4. A bucket name under 3 characters: refused before any request (AWS and RGW would answer
#    InvalidBucketName to a create, and NoSuchBucket to a listing).
bad_setup 'bucket name "ab" is too short' 'at least 3 characters' -- \
  "${S3[@]}" --accessFile="$WORK/passwd" ab "$MNT"
bad_setup 'bucket name "x" is too short' -- "${S3[@]}" --accessFile="$WORK/passwd" x/vol "$MNT"

# 5. A wrong --region with V4: AWS answers 400 AuthorizationHeaderMalformed or 301
#    PermanentRedirect naming the bucket's region (setup_error_test.cc holds those answers);
#    RGW and s3rver sign with whatever region the request names, so the bucket is usable.
log "case: --region=eu-west-1 --summary (accepted: $S3_SERVER checks no signing region)"
"$S3DISK" "${S3[@]}" --accessFile="$WORK/passwd" --region=eu-west-1 --summary "$BUCKET" \
  >"$WORK/summary.out" 2>"$WORK/summary.err" || {
  sed 's/^/  | /' "$WORK/summary.err" >&2
  fail "--summary with --region=eu-west-1 failed on $S3_SERVER"
}
grep -q "^bucket  *$BUCKET\$" "$WORK/summary.out" || fail "no summary of $BUCKET"
log "ok"

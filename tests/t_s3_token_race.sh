#!/usr/bin/env bash
# t_s3_token_race: 12 mounts of one S3 bucket started at the same instant: exactly one serves,
# every other one exits 1 saying the bucket is mounted, and the token goes with the winner's
# unmount. RGW honours If-None-Match: * (one create wins, the others get 412); s3rver ignores
# it, so there the token is read back after a pause.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$TESTS_DIR/s3_server.sh"
. "$TESTS_DIR/token_race.sh"
require_root
require_cmd curl

N=12
BUCKET=s3disk-race
s3_server_start "$BUCKET"
random_file "$WORK/data" 70000
race s3 --debug --baseURL="$S3_URL" --accessFile="$WORK/passwd" --size=4m --blockSize=64k "$BUCKET"
# Which way the winner won: by the server's 412s, or by reading the token back.
if grep -q "the store ignores create-only PUTs" "$S3DISK_LOG"; then
  [ "$S3_SERVER" = s3rver ] || fail "$S3_SERVER honours If-None-Match, yet the token was read back"
else
  [ "$S3_SERVER" != s3rver ] || fail "s3rver ignores If-None-Match, yet the token was not read back"
fi
s3_keys "$BUCKET" | grep -qx s3backer-mounted || fail "no token object in the bucket"
write_at "$WINNER/file" 4096 "$WORK/data" conv=fsync
read_at "$WINNER/file" 4096 70000 | cmp -s - "$WORK/data" || fail "the winner reads wrong data"
stop_s3disk "$WINNER"
! s3_keys "$BUCKET" | grep -qx s3backer-mounted ||
  fail "the token is still in the bucket after the winner unmounted"
log "ok"

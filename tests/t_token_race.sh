#!/usr/bin/env bash
# t_token_race: the mount token is created atomically. 20 mounts of one directory bucket
# (link(): create only) started at the same instant: exactly one serves, every other one exits
# 1 saying the bucket is mounted, and the winner's token is the one in the bucket. Then the
# token is checked before anything else: a second mount of a bucket that holds no geometry yet
# says it is mounted, not that --size is missing. (t_s3_token_race.sh: the same on S3.)
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$TESTS_DIR/token_race.sh"
require_root

N=20

log "directory bucket"
BUCKET=$WORK/bucket
mkdir -p "$BUCKET"
race dir --size=4m --blockSize=64k "file://$BUCKET"
[ -f "$BUCKET/s3backer-mounted" ] || fail "no token in the bucket while one mount serves"
random_file "$WORK/data" 70000
write_at "$WINNER/file" 4096 "$WORK/data" conv=fsync

log "the token is checked first: a mounted bucket without geometry says it is mounted"
# As a first mount leaves it for a moment: its token there, block 0 not yet.
EMPTY=$WORK/empty
mkdir -p "$EMPTY" "$WORK/m2"
cp -a "$BUCKET/s3backer-mounted" "$EMPTY/"
expect_fail "$S3DISK" "file://$EMPTY" "$WORK/m2" 'already mounted'
expect_err_has '--reset-mounted-flag'
rm "$EMPTY/s3backer-mounted"
stop_s3disk "$WINNER"
[ ! -e "$BUCKET/s3backer-mounted" ] || fail "the token is still there after the winner unmounted"

log "ok"

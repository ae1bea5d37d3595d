#!/usr/bin/env bash
# t_token_race: the mount token is created atomically. 20 mounts of one bucket started at the
# same instant, on a directory bucket (link(): create only) and on s3rver (which ignores
# If-None-Match, so the token is read back after a pause): exactly one serves, every other one
# exits 1 saying the bucket is mounted, and the winner's token is the one in the bucket. Then
# the token is checked before anything else: a second mount of a bucket that holds no geometry
# yet says it is mounted, not that --size is missing.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$TESTS_DIR/s3rver/s3rver.sh"
require_root
require_cmd curl

N=20

# race NAME ARGS...: starts N mounts of ARGS (options and the bucket) on $WORK/NAME.1..N at
# once, waits until each is either mounted or gone, and checks that exactly one is mounted.
# Sets WINNER to the mount point that serves; the losers' stderr is in $WORK/NAME.I.log.
race() {
  local name=$1 i pid rc mnt won=0 deadline
  shift
  local pids=()
  for i in $(seq "$N"); do mkdir -p "$WORK/$name.$i"; done
  log "$N mounts of one bucket at once: $*"
  for i in $(seq "$N"); do
    "$S3DISK" -f "$@" "$WORK/$name.$i" >"$WORK/$name.$i.log" 2>&1 &
    pids+=($!)
    S3DISK_PIDS[$WORK/$name.$i]=$!
    S3DISK_LOGS[$WORK/$name.$i]=$WORK/$name.$i.log
  done
  deadline=$((SECONDS + 60))
  for i in $(seq "$N"); do
    pid=${pids[$((i - 1))]}
    mnt=$WORK/$name.$i
    until ! proc_alive "$pid" || { is_mounted "$mnt" && timeout -k 2 5 test -e "$mnt/file"; }; do
      [ "$SECONDS" -lt "$deadline" ] || fail "mount $i neither served nor exited within 60 s"
      sleep 0.1
    done
  done
  # A loser may still be on its way out: give every one a moment, then count.
  sleep 2
  WINNER=
  for i in $(seq "$N"); do
    pid=${pids[$((i - 1))]}
    mnt=$WORK/$name.$i
    if proc_alive "$pid"; then
      is_mounted "$mnt" || fail "mount $i is running but not mounted"
      won=$((won + 1))
      WINNER=$mnt
      S3DISK_PID=$pid
      S3DISK_LOG=$WORK/$name.$i.log
    else
      rc=0
      wait "$pid" || rc=$?
      unset "S3DISK_PIDS[$mnt]"
      ! is_mounted "$mnt" || fail "mount $i exited but is still mounted"
      [ "$rc" -eq 1 ] || fail "losing mount $i exited with status $rc (expected 1)"
      grep -Eq 'already mounted|mounted by another process' "$WORK/$name.$i.log" || {
        sed 's/^/  | /' "$WORK/$name.$i.log" >&2
        fail "losing mount $i does not say the bucket is mounted"
      }
    fi
  done
  [ "$won" -eq 1 ] || fail "$won of $N simultaneous mounts of one bucket serve (expected 1)"
  log "exactly one of $N serves: $WINNER"
}

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

log "s3rver (ignores If-None-Match: the token is read back after a pause)"
S3BUCKET=s3disk-race
s3rver_start "$S3BUCKET"
printf 'S3RVER:S3RVER\n' >"$WORK/passwd"
chmod 600 "$WORK/passwd"
race s3 --baseURL="$S3RVER_URL" --accessFile="$WORK/passwd" --size=4m --blockSize=64k \
  "$S3BUCKET"
OBJDIR=$WORK/s3rver-data/$S3BUCKET
[ -f "$OBJDIR/s3backer-mounted._S3rver_object" ] || fail "no token object in s3rver"
write_at "$WINNER/file" 4096 "$WORK/data" conv=fsync
read_at "$WINNER/file" 4096 70000 | cmp -s - "$WORK/data" || fail "the winner reads wrong data"
stop_s3disk "$WINNER"
[ ! -e "$OBJDIR/s3backer-mounted._S3rver_object" ] ||
  fail "the token is still in s3rver after the winner unmounted"
log "ok"

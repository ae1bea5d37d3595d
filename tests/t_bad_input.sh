#!/usr/bin/env bash
# t_bad_input: every bad command line gives exactly one line on stderr starting "s3disk:", a
# non-zero exit, mounts nothing and writes nothing into the bucket directory. The commands run
# without -f, as a user would type them (a mistake must be caught before daemonizing).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
require_root

BUCKET=$WORK/bucket
MNT=$WORK/mnt
BUSY=$WORK/busy
mkdir -p "$BUCKET" "$MNT" "$BUSY"

# A bucket that already holds an image (4m / 64k), to check nothing is written into it.
OLD=$WORK/old
mkdir -p "$OLD"
start_s3disk --size=4m --blockSize=64k "file://$OLD" "$MNT"
random_file "$WORK/data" 100000
write_at "$MNT/file" 0 "$WORK/data"
stop_s3disk "$MNT"

mount -t tmpfs -o size=1m s3disk-test "$BUSY" || skip_or_fail "cannot mount a tmpfs"

snapshot_dir "$BUCKET" >"$WORK/bucket.before"
snapshot_dir "$OLD" >"$WORK/old.before"

# bad_input PATTERN ARGS...: s3disk ARGS must fail with one "s3disk:" line matching PATTERN.
bad_input() {
  local pattern=$1
  shift
  log "case: s3disk $*"
  expect_fail "$S3DISK" "$@" "$pattern"
  local lines
  lines=$(wc -l <"$EXPECT_ERR")
  if [ "$lines" -ne 1 ] || ! head -n 1 "$EXPECT_ERR" | grep -q '^s3disk:'; then
    sed 's/^/  | /' "$EXPECT_ERR" >&2
    fail "expected exactly one stderr line starting 's3disk:', got $lines line(s): s3disk $*"
  fi
  ! is_mounted "$MNT" || fail "something got mounted on $MNT: s3disk $*"
  [ "$(awk -v m="$BUSY" '$2 == m' /proc/self/mounts | wc -l)" -eq 1 ] ||
    fail "something got mounted on $BUSY: s3disk $*"
  snapshot_dir "$BUCKET" >"$WORK/bucket.after"
  diff "$WORK/bucket.before" "$WORK/bucket.after" >&2 || fail "the bucket changed: s3disk $*"
  snapshot_dir "$OLD" >"$WORK/old.after"
  diff "$WORK/old.before" "$WORK/old.after" >&2 || fail "the old bucket changed: s3disk $*"
}

B="file://$BUCKET"
bad_input 'frobnicate' --frobnicate --size=64m "$B" "$MNT"
bad_input '12q' --size=12q "$B" "$MNT"
bad_input '3k|3072' --size=64m --blockSize=3k "$B" "$MNT"
bad_input '256' --size=64m --blockSize=256 "$B" "$MNT"
bad_input '100k|102400' --size=100k --blockSize=64k "$B" "$MNT"
bad_input 'nonexistent' --size=64m "file://$WORK/nonexistent" "$MNT"
[ ! -e "$WORK/nonexistent" ] || fail "s3disk created the missing bucket directory"
bad_input 'nomnt' --size=64m "$B" "$WORK/nomnt"
[ ! -e "$WORK/nomnt" ] || fail "s3disk created the missing mount point"
bad_input 'busy' --size=64m "$B" "$BUSY"
bad_input '.' 
bad_input '.' --size=64m
bad_input '.' --size=64m "$B"
bad_input '.' --size=64m "$B" "$MNT" "$WORK/extra"
bad_input 'size' "$B" "$MNT"
# A password file that others can read (its name and the fix in the message).
printf 'bad-input-password\n' >"$WORK/pw"
for mode in 644 640 604; do
  chmod "$mode" "$WORK/pw"
  bad_input "^s3disk: --passwordFile: $WORK/pw is accessible by group or others \(mode $mode\).*chmod 600 $WORK/pw\$" \
    --encrypt --passwordFile="$WORK/pw" --size=64m "$B" "$MNT"
done
# The same mistakes against a bucket that holds an image.
bad_input 'frobnicate' --frobnicate "file://$OLD" "$MNT"
bad_input '12q' --size=12q "file://$OLD" "$MNT"
bad_input 'busy' "file://$OLD" "$BUSY"

# Sanity: the same command lines, corrected, do mount.
start_s3disk --size=64m "$B" "$MNT"
stop_s3disk "$MNT"
log "ok"

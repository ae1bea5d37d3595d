#!/usr/bin/env bash
# t_stats: MNT/stats is a list of "name value" lines (lowercase names, integer values), and the
# FUSE read and write counters count what we do through the mount. --statsFilename and
# --filename rename the two files.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
require_root

BUCKET=$WORK/bucket
MNT=$WORK/mnt
mkdir -p "$BUCKET" "$MNT"

# check_format FILE: every line is "name value"; at least one line.
check_format() {
  [ -s "$1" ] || fail "the stats file is empty"
  if grep -Ev '^[a-z0-9_]+ [0-9]+$' "$1" >"$WORK/badlines"; then
    sed 's/^/  | /' "$WORK/badlines" >&2
    fail "stats lines that are not 'name value'"
  fi
  [ "$(cut -d' ' -f1 "$1" | sort | uniq -d | wc -l)" -eq 0 ] || fail "duplicate stats names"
}

# sum_of FILE REGEX: sum of the values on the lines matching REGEX (grep -E).
sum_of() { grep -E -- "$2" "$1" | awk '{ s += $2 } END { printf "%d\n", s }'; }

start_s3disk --size=16m --blockSize=64k "file://$BUCKET" "$MNT"
[ -f "$MNT/stats" ] || fail "no stats file in the mount point"
cat "$MNT/stats" >"$WORK/s0"
check_format "$WORK/s0"
sed 's/^/  /' "$WORK/s0"
grep -Eq '^fuse[a-z0-9_]*read' "$WORK/s0" || fail "no fuse read counter (fuse*read*)"
grep -Eq '^fuse[a-z0-9_]*write' "$WORK/s0" || fail "no fuse write counter (fuse*write*)"

log "read 1 MiB and write 256 KiB through the mount"
read_at "$MNT/file" 4194304 1048576 >/dev/null
random_file "$WORK/data" 262144
write_at "$MNT/file" 8388608 "$WORK/data" conv=fsync
cat "$MNT/stats" >"$WORK/s1"
check_format "$WORK/s1"
sed "s/^/  /" "$WORK/s1"
for kind in read write; do
  before=$(sum_of "$WORK/s0" "^fuse[a-z0-9_]*$kind")
  after=$(sum_of "$WORK/s1" "^fuse[a-z0-9_]*$kind")
  log "fuse $kind counters: $before -> $after"
  [ "$after" -gt "$before" ] || fail "the fuse $kind counters did not grow ($before -> $after)"
done
stop_s3disk "$MNT"

log "--filename and --statsFilename"
start_s3disk --size=16m --blockSize=64k --filename=disk.img --statsFilename=counters \
  "file://$BUCKET" "$MNT"
[ -f "$MNT/disk.img" ] || fail "--filename=disk.img: no such file in the mount point"
[ -f "$MNT/counters" ] || fail "--statsFilename=counters: no such file in the mount point"
[ ! -e "$MNT/file" ] && [ ! -e "$MNT/stats" ] || fail "the default names are still shown"
cat "$MNT/counters" >"$WORK/s2"
check_format "$WORK/s2"
read_at "$MNT/disk.img" 8388608 262144 | cmp -s - "$WORK/data" || fail "data differs"
stop_s3disk "$MNT"
log "ok"

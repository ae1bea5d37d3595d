#!/usr/bin/env bash
# t_writeback: the kernel's write-back cache for the image. By default a write() returns once
# the data is in the kernel's page cache (the daemon has not seen it yet); close and fsync pass
# it on first, and return only once it is an object in the bucket. --noWritebackCache: every
# write reaches the daemon before it returns. A write past the end of the image is refused:
# at once without the cache, at close (EIO) with it, and logged either way.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
require_root
require_cmd perl

BS=65536
BUCKET=$WORK/bucket
MNT=$WORK/mnt
mkdir -p "$BUCKET" "$MNT"

# probe OFFSET LENGTH: opens the image, writes LENGTH bytes at OFFSET, reads fuse_writes from
# the stats file before the write, after it (file still open) and after close; prints
# "write=RESULT close=RESULT writes=W0,W1,W2".
probe() {
  perl -e '
    my ($img, $stats, $off, $len) = @ARGV;
    sub writes {
      open(my $s, "<", $stats) or die "stats: $!";
      while (<$s>) { return $1 if /^fuse_writes (\d+)/ }
      die "no fuse_writes line";
    }
    open(my $f, "+<", $img) or die "open: $!";
    my $w0 = writes();
    sysseek($f, $off, 0) or die "seek: $!";
    my $n = syswrite($f, "x" x $len);
    my $wr = defined $n && $n == $len ? "ok" : "failed";
    my $w1 = writes();
    my $cl = close($f) ? "ok" : "failed";
    printf "write=%s close=%s writes=%d,%d,%d\n", $wr, $cl, $w0, $w1, writes();
  ' "$MNT/file" "$MNT/stats" "$1" "$2"
}

log "default: a write waits in the kernel's page cache until close"
start_s3disk --size=16m --blockSize=64k "file://$BUCKET" "$MNT"
out=$(probe $((3 * BS + 4096)) 8192)
log "  $out"
[[ $out =~ ^write=ok\ close=ok\ writes=([0-9]+),([0-9]+),([0-9]+)$ ]] || fail "probe: $out"
[ "${BASH_REMATCH[1]}" -eq "${BASH_REMATCH[2]}" ] ||
  fail "the write reached the daemon before close: the write-back cache is off ($out)"
[ "${BASH_REMATCH[3]}" -gt "${BASH_REMATCH[2]}" ] || fail "close did not write the data back ($out)"
has_object "$BUCKET" 3 || fail "after close, block 3 is not an object in the bucket"

log "default: a write past the end fails at close and is logged"
expect_log "past the end of the image"
out=$(probe $((16 * 1048576)) 4096)
log "  $out"
[[ $out == "write=ok close=failed "* ]] || fail "a write past the end: $out"
stop_s3disk "$MNT"
grep -q "past the end of the image" "$S3DISK_LOG" || fail "the refused write was not logged"
[ "$(block_objects "$BUCKET" | tr '\n' ' ')" = "00000000 00000003 " ] ||
  fail "the refused write left objects: $(block_objects "$BUCKET")"

log "--noWritebackCache: every write reaches the daemon before it returns"
start_s3disk --noWritebackCache --size=16m --blockSize=64k "file://$BUCKET" "$MNT"
[ "$(read_at "$MNT/file" $((3 * BS + 4096)) 8192 | tr -d x | wc -c)" -eq 0 ] ||
  fail "after a remount, block 3 does not hold the bytes written before"
out=$(probe $((5 * BS)) 4096)
log "  $out"
[[ $out =~ ^write=ok\ close=ok\ writes=([0-9]+),([0-9]+),([0-9]+)$ ]] || fail "probe: $out"
[ "${BASH_REMATCH[2]}" -eq $((BASH_REMATCH[1] + 1)) ] ||
  fail "with --noWritebackCache the write did not reach the daemon at once ($out)"
has_object "$BUCKET" 5 || fail "after close, block 5 is not an object in the bucket"
out=$(probe $((16 * 1048576)) 4096)
log "  $out"
[[ $out == "write=failed close=ok "* ]] || fail "a write past the end without the cache: $out"
stop_s3disk "$MNT"
log "ok"

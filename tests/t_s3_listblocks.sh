#!/usr/bin/env bash
# t_s3_listblocks: --listBlocks on an S3 bucket (tests/s3_server.sh) that already holds thousands of block
# objects (3000 blocks of 4k, so the survey reads several listing pages, in parts listed side by
# side). After the remount the stats must show that the zero map knows exactly which blocks
# are non-zero: reading a region never written sends no GET, and every written block reads
# back.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$TESTS_DIR/s3_server.sh"
require_root
require_cmd perl curl cmp

BUCKET=s3disk-list
BS=4096
NUM_BLOCKS=16384 # --size=64m
MNT=$WORK/mnt
mkdir -p "$MNT"
s3_server_start "$BUCKET"
S3=(--baseURL="$S3_URL" --accessFile="$WORK/passwd" --size=64m --blockSize=4k)

stat_value() { awk -v n="$2" '$1 == n { print $2 }' "$1/stats"; }
s3_object_count() { s3_keys "$BUCKET" | grep -cE '^[0-9a-f]{8}$'; }

log "write 3000 blocks of 4k: 2000 in a row from 4m, 1000 every third block from 32m"
start_s3disk "${S3[@]}" "$BUCKET" "$MNT"
random_file "$WORK/run" $((2000 * BS))
dd if="$WORK/run" of="$MNT/file" bs=64k seek=$((4 << 20)) oflag=seek_bytes conv=notrunc,fsync \
  status=none || fail "dd of the 2000 blocks failed"
random_file "$WORK/scattered" $((1000 * BS))
perl -e '
  my ($img, $src, $bs, $base) = @ARGV;
  open(my $in, "<:raw", $src) or die "$src: $!\n";
  open(my $out, "+<:raw", $img) or die "$img: $!\n";
  for my $i (0 .. 999) {
    read($in, my $buf, $bs) == $bs or die "short read\n";
    sysseek($out, $base + 3 * $i * $bs, 0) or die "seek: $!\n";
    syswrite($out, $buf) == $bs or die "write: $!\n";
  }
  close($out) or die "close: $!\n";' "$MNT/file" "$WORK/scattered" "$BS" $((32 << 20)) ||
  fail "writing the scattered blocks failed"
stop_s3disk "$MNT"
# And block 0, stored as zeros at the first mount (it records the geometry).
n=$(s3_object_count)
[ "$n" -eq 3001 ] || fail "the bucket holds $n block objects, not 3001"

log "remount with --listBlocks: the survey lists the 3001 objects"
start_s3disk "${S3[@]}" --listBlocks "$BUCKET" "$MNT"
grep -q "zero_map: survey found 3001 non-zero blocks of $NUM_BLOCKS" "$S3DISK_LOG" || {
  grep -E "survey|listed" "$S3DISK_LOG" >&2 || true
  fail "the survey did not find the 3001 blocks"
}
# The survey cuts the plain keys every 4096 blocks (4 parts at least); block 8192, the first
# scattered one, is on a cut.
grep -Eq 's3: listed 3002 keys under "" in [0-9]+ ms, in ([4-9]|[1-9][0-9]+) parts' "$S3DISK_LOG" || {
  grep -E "listed" "$S3DISK_LOG" >&2 || true
  fail "the survey was not listed in 4 parts or more"
}
known_zero=$(stat_value "$MNT" zero_map_known_zero)
[ "$known_zero" -eq $((NUM_BLOCKS - 3001)) ] ||
  fail "zero_map_known_zero is $known_zero, expected $((NUM_BLOCKS - 3001))"
listed=$(stat_value "$MNT" s3_keys_listed)
pages=$(stat_value "$MNT" s3_list_pages)
[ "$listed" -ge 3000 ] || fail "s3_keys_listed is $listed, expected at least 3000"
[ "$pages" -ge 3 ] || fail "s3_list_pages is $pages: 3000 keys need at least 3 pages of 1000"
log "survey: $listed keys in $pages pages, $known_zero blocks known zero"

log "reading 8 MB never written (from 16m, and the gaps between scattered blocks) sends no GET"
gets0=$(stat_value "$MNT" s3_gets)
elided0=$(stat_value "$MNT" zero_map_reads_elided)
read_at "$MNT/file" $((16 << 20)) $((8 << 20)) | cmp -s - <(head -c $((8 << 20)) /dev/zero) ||
  fail "the never-written region does not read as zeros"
read_at "$MNT/file" $(((32 << 20) + BS)) $((2 * BS)) | cmp -s - <(head -c $((2 * BS)) /dev/zero) ||
  fail "the gap between two scattered blocks does not read as zeros"
gets1=$(stat_value "$MNT" s3_gets)
elided1=$(stat_value "$MNT" zero_map_reads_elided)
[ "$gets1" -eq "$gets0" ] || fail "reading zero blocks sent $((gets1 - gets0)) GETs"
[ $((elided1 - elided0)) -ge 2050 ] ||
  fail "zero_map_reads_elided grew by $((elided1 - elided0)), expected at least 2050"

log "every written block reads back (one GET each)"
read_at "$MNT/file" $((4 << 20)) $((2000 * BS)) | cmp - "$WORK/run" ||
  fail "the 2000 blocks in a row differ"
perl -e '
  my ($img, $bs, $base) = @ARGV;
  open(my $in, "<:raw", $img) or die "$img: $!\n";
  for my $i (0 .. 999) {
    sysseek($in, $base + 3 * $i * $bs, 0) or die "seek: $!\n";
    sysread($in, my $buf, $bs) == $bs or die "read: $!\n";
    print $buf;
  }' "$MNT/file" "$BS" $((32 << 20)) | cmp - "$WORK/scattered" ||
  fail "the scattered blocks differ"
gets2=$(stat_value "$MNT" s3_gets)
[ $((gets2 - gets1)) -ge 3000 ] || fail "only $((gets2 - gets1)) GETs for 3000 written blocks"
[ "$(stat_value "$MNT" object_blocks_read_absent)" -eq 0 ] ||
  fail "a GET found no object: the zero map sent a read of a zero block down"
stop_s3disk "$MNT"
log "ok"

#!/usr/bin/env bash
# t_page_cache: the kernel keeps the image's page cache across writes. Every write goes through
# this mount, so cached pages stay current; a small write must not make the next read fetch
# the whole image again (it did while FUSE's auto_inval_data was on: the write changed the
# image's mtime, and the kernel dropped its whole cache when it saw that).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
require_root

BUCKET=$WORK/bucket
MNT=$WORK/mnt
mkdir -p "$BUCKET" "$MNT"

bytes_read() { awk '$1 == "fuse_bytes_read" { print $2 }' "$MNT/stats"; }

start_s3disk --size=64m "file://$BUCKET" "$MNT"
dd if=/dev/urandom of="$MNT/file" bs=1M count=32 conv=notrunc status=none ||
  fail "writing the image failed"
cat "$MNT/file" >/dev/null
before=$(bytes_read)
dd if=/dev/urandom of="$MNT/file" bs=4k count=1 seek=100 conv=notrunc status=none ||
  fail "the small write failed"
sha_mount=$(sha256sum <"$MNT/file" | cut -d' ' -f1)
after=$(bytes_read)
fetched=$((after - before))
log "re-reading the image after a 4 KiB write fetched $fetched bytes from the daemon"
# The 32 written MiB are cached; the 32 never-written MiB may be read once (zeros, 32 MiB).
[ "$fetched" -le $((32 * 1024 * 1024)) ] ||
  fail "a 4 KiB write made the next read fetch $fetched bytes: the page cache was dropped"

# And what the cache served is what the bucket holds.
stop_s3disk "$MNT"
start_s3disk "file://$BUCKET" "$MNT"
[ "$(sha256sum <"$MNT/file" | cut -d' ' -f1)" = "$sha_mount" ] ||
  fail "the image read after a remount differs from the cached one"
stop_s3disk "$MNT"
log "ok"

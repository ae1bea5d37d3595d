#!/usr/bin/env bash
# t_trim: discards reach the bucket. fstrim on an ext4 over the image deletes the objects of
# freed blocks; fallocate --punch-hole on the image deletes exactly the whole blocks inside the
# range, zeroes the partial ends, and leaves the bytes around it intact.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
require_loop
require_cmd fstrim fallocate perl

BS=65536
BUCKET=$WORK/bucket
MNT=$WORK/mnt
FS=$WORK/fs
mkdir -p "$BUCKET" "$MNT" "$FS"

# --- Part 1: fstrim through ext4 --------------------------------------------------------------
start_s3disk --size=128m --blockSize=64k "file://$BUCKET" "$MNT"
loop_attach "$MNT/file"
DEV=$LOOP_DEV
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$DEV" || fail "mkfs.ext4 failed"
loop_mount "$DEV" "$FS"
for i in 1 2 3 4 5 6 7 8 9 10; do random_file "$FS/big$i" $((2 * 1024 * 1024)); done
random_file "$FS/keep" 300000
sha256sum "$FS/keep" | cut -d' ' -f1 >"$WORK/keep.sum"
sync -f "$FS/keep"
sync "$MNT/file"
before=$(count_objects "$BUCKET")
log "objects after writing 20 MB: $before"
[ "$before" -ge 320 ] || fail "expected at least 320 objects after writing 20 MB, got $before"

rm -f "$FS"/big*
sync -f "$FS/keep"
fstrim -v "$FS" >&2 || fail "fstrim failed"
sync "$MNT/file"
after=$(count_objects "$BUCKET")
log "objects after deleting 20 MB and fstrim: $after"
# 20 MB in 64 KiB blocks is 320 blocks; ext4 may keep a few (metadata, partial extents).
[ "$after" -le $((before - 300)) ] ||
  fail "fstrim did not delete the freed blocks' objects ($before -> $after)"
[ "$(sha256sum "$FS/keep" | cut -d' ' -f1)" = "$(cat "$WORK/keep.sum")" ] ||
  fail "a file that was kept changed after fstrim"
loop_umount "$FS"
fsck_clean "$DEV" "fsck.ext4 reports problems after fstrim"
loop_detach "$DEV"
stop_s3disk "$MNT"

# --- Part 2: fallocate --punch-hole on the image ------------------------------------------------
BUCKET2=$WORK/bucket2
MNT2=$WORK/mnt2
mkdir -p "$BUCKET2" "$MNT2"
start_s3disk --size=4m --blockSize=64k "file://$BUCKET2" "$MNT2"
IMG=$MNT2/file
# Random data over blocks 10..25 (1 MiB from offset 10 * 64 KiB).
random_file "$WORK/data" $((16 * BS))
write_at "$IMG" $((10 * BS)) "$WORK/data" conv=notrunc,fsync
truncate -s 4M "$WORK/ref"
write_at "$WORK/ref" $((10 * BS)) "$WORK/data"
# Block 0 is stored (as zeros) from the first mount on: it records the geometry.
[ "$(block_objects "$BUCKET2" | tr '\n' ' ')" = \
  "00000000 0000000a 0000000b 0000000c 0000000d 0000000e 0000000f 00000010 00000011 00000012 00000013 00000014 00000015 00000016 00000017 00000018 00000019 " ] ||
  fail "objects after writing blocks 10..25: $(block_objects "$BUCKET2" | tr '\n' ' ')"

# Punch [12 * BS + 1000, 17 * BS + 1000): whole blocks 13..16; partial ends in 12 and 17.
OFF=$((12 * BS + 1000))
LEN=$((5 * BS))
fallocate -p -o "$OFF" -l "$LEN" "$IMG" || fail "fallocate --punch-hole failed"
zero_at "$WORK/ref" "$OFF" "$LEN"
sync "$IMG"
got=$(block_objects "$BUCKET2" | tr '\n' ' ')
want="00000000 0000000a 0000000b 0000000c 00000011 00000012 00000013 00000014 00000015 00000016 00000017 00000018 00000019 "
[ "$got" = "$want" ] || fail "after punching blocks 13..16: objects are '$got', want '$want'"
cmp "$IMG" "$WORK/ref" >&2 || fail "image differs from the reference after the punch"
read_at "$IMG" "$OFF" "$LEN" | cmp -s - <(head -c "$LEN" /dev/zero) ||
  fail "the punched range does not read back as zeros"

# A punch that covers no whole block deletes nothing.
fallocate -p -o $((20 * BS + 10)) -l $((BS - 20)) "$IMG" || fail "small fallocate failed"
zero_at "$WORK/ref" $((20 * BS + 10)) $((BS - 20))
sync "$IMG"
[ "$(block_objects "$BUCKET2" | tr '\n' ' ')" = "$want" ] ||
  fail "a punch inside one block deleted an object (it still has data)"
cmp "$IMG" "$WORK/ref" >&2 || fail "image differs from the reference after the small punch"
stop_s3disk "$MNT2"

# Persisted: a fresh mount reads the same bytes.
start_s3disk --size=4m --blockSize=64k "file://$BUCKET2" "$MNT2"
cmp "$MNT2/file" "$WORK/ref" >&2 || fail "image differs from the reference after remount"
stop_s3disk "$MNT2"
log "ok"

#!/usr/bin/env bash
# t_s3_interop: bucket compatibility with the real s3backer (Debian's package) on the test's S3
# server (tests/s3_server.sh), the way people use it. For each of plain, --compress and
# --encrypt (--passwordFile), in a bucket of its own on one server:
#   1. s3backer mounts the empty bucket; mkfs.ext4 through a loop device; a small tree of
#      random files (sizes that are not block multiples); unmount all; s3backer exits.
#   2. s3disk mounts the bucket with no --size and no --blockSize (geometry from block 0),
#      after s3backer's clean unmount (no --force); fsck.ext4 -n is clean; every file
#      compares; then s3disk writes new files and changes one; unmount.
#   3. s3backer mounts again: fsck.ext4 -n clean, every file (old and new) compares.
# The stored objects must carry the Content-Encoding of the mode, whoever wrote them.
# Then, on the buckets left behind: a wrong password, and no password at all, are refused at
# mount with nothing written (a compressed bucket needs no flag); one flipped byte in one
# stored object (plain, on s3rver only: the body on its disk, caught by the MD5 ETag; encrypted:
# a re-PUT with a valid ETag, caught by the HMAC) reads as EIO for that block only.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$TESTS_DIR/s3_server.sh"
require_loop
require_cmd s3backer sha256sum curl perl cmp fusermount3

BS=65536
SIZE=$((64 * 1024 * 1024))
MNT=$WORK/mnt
SMNT=$WORK/s3backer-mnt
FS=$WORK/fs
mkdir -p "$MNT" "$SMNT" "$FS"
s3_server_start interop-plain
for b in interop-compress interop-encrypt; do s3_bucket_create "$b"; done
printf 'correct horse\n' >"$WORK/password"
printf 'wrong horse\n' >"$WORK/wrong-password"
chmod 600 "$WORK/password" "$WORK/wrong-password"
S3=(--baseURL="$S3_URL" --accessFile="$WORK/passwd")
# s3backer 1.5.4 turns on virtual-host style with --region, which a server on an IP address
# cannot serve: no --region for it (its default is us-east-1 anyway).
S3B=(--baseURL="$S3_URL" --accessId="$S3_ACCESS_ID" --accessKey="$S3_SECRET")

# block_keys BUCKET: the block objects the bucket holds, sorted.
block_keys() { s3_keys "$1" | grep -E '^[0-9a-f]{8}$' || true; }
has_token() { s3_keys "$1" | grep -qx s3backer-mounted; }
# snapshot: every object of the three buckets with its ETag and size.
snapshot() { for b in interop-plain interop-compress interop-encrypt; do s3_list "$b"; done; }

# check_encoding BUCKET MODE WHEN: every block object carries MODE's Content-Encoding (and an
# HMAC when encrypted).
check_encoding() {
  local bucket=$1 mode=$2 when=$3 key m=$WORK/head n=0
  while read -r key; do
    n=$((n + 1))
    s3_head "$bucket" "$key" >"$m"
    case $mode in
      plain) ! grep -q '^content-encoding:' "$m" || fail "$when: $key is encoded: $(cat "$m")" ;;
      compress) grep -qx 'content-encoding: deflate' "$m" || fail "$when: $key: $(cat "$m")" ;;
      encrypt)
        grep -qx 'content-encoding: deflate, encrypt-AES-128-CBC' "$m" &&
          grep -Eqx 'x-amz-meta-s3backer-hmac: "[0-9a-f]{40}"' "$m" ||
          fail "$when: $key is not encrypted with an HMAC: $(cat "$m")"
        ;;
    esac
  done < <(block_keys "$bucket")
  [ "$n" -gt 10 ] || fail "$when: only $n block objects in $bucket"
}

S3B_PID=
S3B_COUNT=0
# s3b_mount BUCKET ARGS...: the real s3backer, in the foreground (a background job of this
# shell), until the image shows.
s3b_mount() {
  local bucket=$1
  shift
  S3B_COUNT=$((S3B_COUNT + 1))
  S3B_LOG=$WORK/s3backer.$S3B_COUNT.log
  log "start: s3backer $* $bucket"
  s3backer -f "${S3B[@]}" --listBlocks "$@" "$bucket" "$SMNT" >"$S3B_LOG" 2>&1 &
  S3B_PID=$!
  local deadline=$((SECONDS + 30))
  until is_mounted "$SMNT" && timeout -k 2 5 test -e "$SMNT/file"; do
    if ! proc_alive "$S3B_PID"; then
      sed 's/^/  | /' "$S3B_LOG" >&2
      fail "s3backer exited before the mount was ready: $*"
    fi
    [ "$SECONDS" -lt "$deadline" ] || fail "s3backer did not mount within 30 s"
    sleep 0.1
  done
}
# s3b_umount: unmounts s3backer and waits for it to flush and exit (status 0).
s3b_umount() {
  local rc=0 tries=0
  until fusermount3 -u "$SMNT" 2>"$WORK/fusermount.err"; do
    tries=$((tries + 1))
    [ "$tries" -lt 50 ] || fail "cannot unmount s3backer: $(cat "$WORK/fusermount.err")"
    sleep 0.2
  done
  wait "$S3B_PID" || rc=$?
  S3B_PID=
  if [ "$rc" -ne 0 ]; then
    sed 's/^/  | /' "$S3B_LOG" >&2
    fail "s3backer exited with status $rc"
  fi
}
stop_s3backer() {
  [ -n "$S3B_PID" ] || return 0
  fusermount3 -u -z "$SMNT" 2>/dev/null
  kill "$S3B_PID" 2>/dev/null
  wait "$S3B_PID" 2>/dev/null
}
CLEANUP_HOOKS=(stop_s3backer "${CLEANUP_HOOKS[@]}")

# wait_log TEXT: until the current s3disk's log has TEXT (s3disk lists the bucket after it
# mounts); false after 20 s.
wait_log() {
  local deadline=$((SECONDS + 20))
  until grep -qF -- "$1" "$S3DISK_LOG"; do
    [ "$SECONDS" -lt "$deadline" ] || { grep survey "$S3DISK_LOG" >&2; return 1; }
    sleep 0.1
  done
}

# fs_open IMAGE [mount options]: loop device, fsck -n clean, mount on $FS.
fs_open() {
  local image=$1
  shift
  loop_attach "$image"
  DEV=$LOOP_DEV
  fsck_clean "$DEV" "fsck.ext4 -n -f: the file system is not clean"
  loop_mount "$DEV" "$FS" "$@"
}
fs_close() {
  sync
  loop_umount "$FS"
  loop_detach "$DEV"
}
sums() { (cd "$FS" && find . -path ./lost+found -prune -o -type f -print0 | LC_ALL=C sort -z |
  xargs -0 sha256sum); }
check_sums() {
  (cd "$FS" && sha256sum --quiet -c "$1") >&2 || fail "$2: files differ"
  [ "$(sums | wc -l)" -eq "$(wc -l <"$1")" ] || fail "$2: not the same number of files"
}

for mode in plain compress encrypt; do
  bucket=interop-$mode
  case $mode in
    plain) s3b_flags=() s3disk_flags=() ;;
    compress) s3b_flags=(--compress) s3disk_flags=(--compress) ;;
    encrypt)
      s3b_flags=(--encrypt --passwordFile="$WORK/password")
      s3disk_flags=(--encrypt --passwordFile="$WORK/password")
      ;;
  esac

  log "=== $mode: s3backer makes an ext4 and writes files"
  s3b_mount "$bucket" --size=64m --blockSize=64k "${s3b_flags[@]}"
  loop_attach "$SMNT/file"
  DEV=$LOOP_DEV
  mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$DEV" || fail "mkfs.ext4 failed"
  loop_mount "$DEV" "$FS"
  mkdir -p "$FS/a/b/c" "$FS/d"
  i=0
  for bytes in 1 4095 65535 65537 200001 1048577 2500000; do
    i=$((i + 1))
    case $((i % 3)) in 0) dir=a ;; 1) dir=a/b/c ;; *) dir=d ;; esac
    random_file "$FS/$dir/f$i.bin" "$bytes"
  done
  printf '%s written by s3backer\n' "$mode" >"$FS/hello.txt"
  sums >"$WORK/sums.$mode"
  fs_close
  s3b_umount
  ! has_token "$bucket" || fail "$mode: s3backer left its mounted flag after a clean unmount"
  check_encoding "$bucket" "$mode" "$mode, written by s3backer"
  s3_head "$bucket" 00000000 | grep -qx 'x-amz-meta-s3backer-filesize: 67108864' ||
    fail "$mode: s3backer did not store the image size in block 0"

  log "=== $mode: s3disk mounts it with no --size, checks, and writes"
  start_s3disk "${S3[@]}" --listBlocks "${s3disk_flags[@]}" "$bucket" "$MNT"
  [ "$(stat -c %s "$MNT/file")" -eq "$SIZE" ] || fail "$mode: s3disk did not find the 64m size"
  wait_log "survey found $(block_keys "$bucket" | wc -l) non-zero blocks of 1024" ||
    fail "$mode: s3disk's listing did not find s3backer's $(block_keys "$bucket" | wc -l) blocks"
  fs_open "$MNT/file" -o ro
  check_sums "$WORK/sums.$mode" "$mode: s3disk reading s3backer's files"
  fs_close
  fs_open "$MNT/file"
  random_file "$FS/d/new1.bin" 777777
  mkdir -p "$FS/e/f"
  random_file "$FS/e/f/new2.bin" 65536
  printf '%s written by s3disk\n' "$mode" >"$FS/e/hello2.txt"
  write_at "$FS/a/b/c/f1.bin" 0 "$FS/e/hello2.txt" conv=notrunc # f1: 1 byte -> a longer text
  random_file "$WORK/patch" 5000
  write_at "$FS/a/b/c/f4.bin" 1000 "$WORK/patch" conv=notrunc # f4: changed in the middle
  rm "$FS/d/f2.bin"
  sums >"$WORK/sums.$mode"
  fs_close
  stop_s3disk "$MNT"
  ! has_token "$bucket" || fail "$mode: s3disk left the mounted flag after a clean unmount"
  check_encoding "$bucket" "$mode" "$mode, after s3disk wrote"

  log "=== $mode: s3backer reads what s3disk wrote"
  s3b_mount "$bucket" "${s3b_flags[@]}"
  fs_open "$SMNT/file" -o ro
  check_sums "$WORK/sums.$mode" "$mode: s3backer reading s3disk's files"
  fs_close
  s3b_umount
done

log "=== refused at mount, with nothing written"
snapshot >"$WORK/before"
expect_fail "$S3DISK" -f "${S3[@]}" --encrypt --passwordFile="$WORK/wrong-password" \
  interop-encrypt "$MNT" "^s3disk: .*wrong password"
expect_fail "$S3DISK" -f "${S3[@]}" interop-encrypt "$MNT" \
  "^s3disk: bucket interop-encrypt holds encrypted blocks \(AES-128-CBC\); mount it with --encrypt=aes-128-cbc --passwordFile=FILE$"
[ "$(grep -vc '^s3disk: INFO: ' "$EXPECT_ERR")" -eq 1 ] ||
  fail "the refusal is not one line: $(cat "$EXPECT_ERR")"
expect_fail "$S3DISK" -f "${S3[@]}" --readOnly interop-encrypt "$MNT" \
  "^s3disk: bucket interop-encrypt holds encrypted blocks"
expect_fail "$S3DISK" -f "${S3[@]}" --encrypt --passwordFile="$WORK/password" interop-plain \
  "$MNT" "^s3disk: bucket interop-plain holds blocks that are not encrypted"
! is_mounted "$MNT" || fail "a refused mount left a mount behind"
snapshot >"$WORK/after"
diff "$WORK/before" "$WORK/after" >&2 || fail "a refused mount changed a bucket"
log "a compressed bucket needs no flag: read-only, no --compress"
start_s3disk "${S3[@]}" --readOnly interop-compress "$MNT"
fs_open "$MNT/file" -o ro,noload
check_sums "$WORK/sums.compress" "compress, mounted without --compress"
fs_close
stop_s3disk "$MNT"

# pick_block BUCKET: a block number (decimal) whose object and both neighbours' objects
# exist, from the middle of the image's data.
pick_block() {
  block_keys "$1" | perl -ne 'chomp; $h{hex($_)} = 1;
    END { for (sort { $a <=> $b } keys %h) { if ($_ > 8 && $h{$_ - 1} && $h{$_ + 1}) {
      print "$_\n"; exit } } exit 1 }'
}
# read_block IMAGE N: block N of the image, to stdout.
read_block() { dd if="$1" bs="$BS" skip="$2" count=1 status=none; }

log "=== one flipped byte in one object: EIO for that block only"
expect_log 'object_block_store: read block'
# A real server serves the MD5 of the body it holds as the ETag: only s3rver, whose files
# can be changed under it, shows a body that does not match its ETag.
modes=(encrypt)
[ "$S3_SERVER" != s3rver ] || modes=(plain encrypt)
for mode in "${modes[@]}"; do
  bucket=interop-$mode
  n=$(pick_block "$bucket") || fail "$mode: no block with two neighbours in $bucket"
  key=$(printf '%08x' "$n")
  case $mode in
    plain) # the body on s3rver's disk: s3rver still serves the old MD5 as the ETag
      obj=$WORK/s3rver-data/$bucket/$key._S3rver_object
      perl -e 'open(my $f, "+<:raw", $ARGV[0]) or die; seek($f, 1000, 0); read($f, my $c, 1);
        seek($f, 1000, 0); print $f chr(ord($c) ^ 0x20); close($f) or die' "$obj"
      # s3disk retries a body that does not match its ETag (a damaged download): briefly.
      flags=(--maxRetryPause=200)
      expect_log "s3: get $key: (ETag|giving up)"
      ;;
    encrypt) # a PUT of the changed body with its headers: a valid ETag, so only the HMAC sees it
      s3_get "$bucket" "$key" "$WORK/good"
      perl -e 'open(my $f, "<:raw", $ARGV[0]) or die; local $/; my $b = <$f>;
        substr($b, 1000, 1) = chr(ord(substr($b, 1000, 1)) ^ 0x20); print $b' "$WORK/good" >"$WORK/bad"
      hmac=$(s3_head "$bucket" "$key" | sed -n 's/^x-amz-meta-s3backer-hmac: "\([0-9a-f]*\)"$/\1/p')
      [ ${#hmac} -eq 40 ] || fail "no HMAC in the headers of $key"
      s3_put "$bucket" "$key" "$WORK/bad" 'Content-Type: application/x-s3backer-block' \
        'Content-Encoding: deflate, encrypt-AES-128-CBC' "x-amz-meta-s3backer-hmac: \"$hmac\""
      s3_get "$bucket" "$key" "$WORK/held"
      cmp -s "$WORK/bad" "$WORK/held" || fail "the server does not hold the changed body of $key"
      flags=(--encrypt --passwordFile="$WORK/password")
      ;;
  esac
  log "$mode: block $n ($key) flipped"
  start_s3disk "${S3[@]}" --readOnly "${flags[@]}" "$bucket" "$MNT"
  read_block "$MNT/file" $((n - 1)) >"$WORK/prev" || fail "$mode: block $((n - 1)) does not read"
  expect_fail dd if="$MNT/file" of=/dev/null bs="$BS" skip="$n" count=1 status=none \
    'Input/output error'
  read_block "$MNT/file" $((n + 1)) >"$WORK/next" || fail "$mode: block $((n + 1)) does not read"
  [ "$(stat -c %s "$WORK/prev")" -eq "$BS" ] && [ "$(stat -c %s "$WORK/next")" -eq "$BS" ] ||
    fail "$mode: a neighbour of the bad block reads short"
  grep -q "read block $key" "$S3DISK_LOG" || fail "$mode: the log does not name block $key"
  stop_s3disk "$MNT"
  # s3backer sees the same: the neighbours match what s3disk read.
  [ "$mode" = encrypt ] || flags=()
  s3b_mount "$bucket" --readOnly "${flags[@]}"
  cmp "$WORK/prev" <(read_block "$SMNT/file" $((n - 1))) >&2 || fail "$mode: block $((n - 1)) differs"
  cmp "$WORK/next" <(read_block "$SMNT/file" $((n + 1))) >&2 || fail "$mode: block $((n + 1)) differs"
  s3b_umount
done
log "ok"

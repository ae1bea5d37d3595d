#!/usr/bin/env bash
# t_admin: the admin modes after a real mount and writes, on a file:/// bucket and an
# S3 bucket (tests/s3_server.sh): --summary numbers are exact, --verify is clean (exit 0) and then names exactly
# the block with a flipped byte (exit 2), --erase refuses while mounted and without --force off
# a terminal, then leaves the bucket empty using bulk deletes. An encrypted bucket: verify with
# the password, a wrong one, none; and the password prompt in a pseudo-terminal (echo off, the
# terminal restored after the answer and after Ctrl-C).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/functions.sh"
. "$TESTS_DIR/s3_server.sh"
require_root
require_cmd python3 stty

BS=65536
MNT=$WORK/mnt
mkdir -p "$MNT"
for i in 0 1 2 3; do random_file "$WORK/r$i" "$BS"; done
printf 'admin-test-password\n' >"$WORK/pw"
printf 'not-the-password\n' >"$WORK/wrong-pw"
chmod 600 "$WORK/pw" "$WORK/wrong-pw"

# flip_byte FILE keep|touch: flips the last byte of FILE in place; "keep" restores its mtime,
# so DirStore's MD5 record stays valid and the ETag no longer matches the body (as an S3
# server's would), "touch" makes the record stale, so DirStore gives no ETag (only the codec
# can tell).
flip_byte() {
  python3 - "$1" "$2" <<'PY'
import os, sys
path, mode = sys.argv[1], sys.argv[2]
st = os.stat(path)
data = bytearray(open(path, "rb").read())
data[-1] ^= 0x01
with open(path, "r+b") as f:
    f.write(data)
if mode == "keep":
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
PY
}

# $NO_TTY CMD...: CMD with stdin not a terminal (expect_fail runs a program, not a function).
NO_TTY=$WORK/no_tty
printf '#!/bin/sh\nexec "$@" </dev/null\n' >"$NO_TTY"
chmod +x "$NO_TTY"

# admin ARGS...: runs s3disk ARGS with stdin not a terminal; stdout in $WORK/out, stderr in
# $WORK/err, the exit status in $RC.
admin() {
  RC=0
  timeout -k 5 60 "$S3DISK" "$@" </dev/null >"$WORK/out" 2>"$WORK/err" || RC=$?
}
show() { sed 's/^/  | /' "$WORK/out" "$WORK/err" >&2; }
# expect_rc N WHAT: the last admin call exited with N.
expect_rc() { [ "$RC" -eq "$1" ] || { show; fail "$2: exit status $RC, expected $1"; }; }
# out_has PATTERN...: every PATTERN (grep -E) matches a line of the last admin call's stdout.
out_has() {
  local p
  for p in "$@"; do grep -Eq -- "$p" "$WORK/out" || { show; fail "stdout does not match /$p/"; }; done
}

# --- a plain file:/// bucket -----------------------------------------------------------------
BUCKET=file://$WORK/bucket
mkdir -p "$WORK/bucket"
log "file:///: mount, write blocks 0, 3, 10 and a part of block 20"
start_s3disk --size=16m --blockSize=64k "$BUCKET" "$MNT"
write_at "$MNT/file" 0 "$WORK/r0"
write_at "$MNT/file" $((3 * BS)) "$WORK/r1"
write_at "$MNT/file" $((10 * BS)) "$WORK/r2"
head -c 1000 "$WORK/r3" >"$WORK/part"
write_at "$MNT/file" $((20 * BS + 100)) "$WORK/part"
sync "$MNT/file"
log "erase refuses while the bucket is mounted"
expect_fail "$NO_TTY" "$S3DISK" --erase "$BUCKET" "is mounted \(token [0-9a-f]{8}\).*add --force"
stop_s3disk "$MNT"
[ "$(count_objects "$WORK/bucket")" -eq 4 ] || fail "expected 4 block objects after the writes"

log "summary: exact numbers"
admin --summary "$BUCKET"
expect_rc 0 "summary"
out_has "^blocks stored +4$" "^zero blocks +252$" "^logical bytes +262144 " \
  "^stored bytes +262144 " "^compression ratio +1\.00$" "^encoding +plain \(block 0\)$" \
  "^disk size +16777216 .*256 blocks" "^block size +65536 " "^mounted +no$"

log "verify: a clean bucket"
admin --verify "$BUCKET"
expect_rc 0 "verify of a clean bucket"
out_has "^verify: 4 blocks checked, 0 bad$"
! grep -q "^bad block" "$WORK/out" || { show; fail "a bad block in a clean bucket"; }

log "verify: one flipped byte in block 3"
flip_byte "$WORK/bucket/00000003" keep
admin --verify --blockCacheThreads=2 "$BUCKET"
expect_rc 2 "verify with a flipped byte"
out_has "^bad block 00000003 \(key 00000003\): bad MD5: " "^verify: 4 blocks checked, 1 bad$"
[ "$(grep -c '^bad block' "$WORK/out")" -eq 1 ] || { show; fail "more than one bad block named"; }

log "erase: refused without --force when stdin is not a terminal"
expect_fail "$NO_TTY" "$S3DISK" --erase "$BUCKET" "stdin is not a terminal; add --force"
[ "$(count_objects "$WORK/bucket")" -eq 4 ] || fail "the refused erase deleted something"
log "erase --force: the bucket ends empty"
admin --erase --force "$BUCKET"
expect_rc 0 "erase --force"
grep -q "erase: .*deleted 4 block objects" "$WORK/err" || { show; fail "erase did not report 4"; }
left=$(find "$WORK/bucket" -type f | wc -l)
[ "$left" -eq 0 ] || { find "$WORK/bucket" -type f >&2; fail "$left files left after erase"; }
admin --verify "$BUCKET"
expect_rc 0 "verify of the erased bucket"
out_has "^verify: 0 blocks checked, 0 bad$"

# --- an encrypted file:/// bucket ------------------------------------------------------------
EBUCKET=file://$WORK/ebucket
mkdir -p "$WORK/ebucket"
ENC=(--encrypt --passwordFile="$WORK/pw")
log "encrypted: mount, write blocks 0, 5, 6"
start_s3disk "${ENC[@]}" --size=16m --blockSize=64k "$EBUCKET" "$MNT"
write_at "$MNT/file" 0 "$WORK/r0"
write_at "$MNT/file" $((5 * BS)) "$WORK/r1"
write_at "$MNT/file" $((6 * BS)) "$WORK/r2"
stop_s3disk "$MNT"
admin --summary "$EBUCKET"
expect_rc 0 "summary of the encrypted bucket"
out_has "^blocks stored +3$" "^encoding +deflate, encrypt-[a-zA-Z0-9-]+ \(block 0\)$"
admin --verify "${ENC[@]}" "$EBUCKET"
expect_rc 0 "verify with the password"
out_has "^verify: 3 blocks checked, 0 bad$"
admin --verify --encrypt --passwordFile="$WORK/wrong-pw" "$EBUCKET"
expect_rc 2 "verify with a wrong password"
out_has "^bad block 00000005 .*: bad HMAC: " "3 blocks checked, 3 bad \(every block is bad"
log "verify of an encrypted bucket without a password, stdin not a terminal: today's error"
expect_fail "$NO_TTY" "$S3DISK" --verify --encrypt "$EBUCKET" "s3disk: --encrypt needs a password: give --passwordFile"
log "verify: one flipped byte in encrypted block 5 (no valid MD5 record: the HMAC tells)"
flip_byte "$WORK/ebucket/00000005" touch
admin --verify "${ENC[@]}" "$EBUCKET"
expect_rc 2 "verify of a damaged encrypted block"
out_has "^bad block 00000005 \(key 00000005\): bad HMAC: " "^verify: 3 blocks checked, 1 bad$"

# --- the password prompt in a pseudo-terminal ------------------------------------------------
# pty_run ANSWER SCRIPT: runs bash -c SCRIPT in a new pseudo-terminal; at "Password: " types
# ANSWER and Enter (ANSWER ^C: types Ctrl-C); prints everything the terminal showed.
pty_run() {
  python3 - "$1" "$2" <<'PY'
import os, pty, select, signal, sys, time
answer, script = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    # A shell that started this test in the background left SIGINT ignored, and an ignored
    # signal stays ignored across exec: give the child a terminal's usual Ctrl-C.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.execvp("bash", ["bash", "-c", script])
out = b""
def read_until(done, seconds):
    global out
    deadline = time.time() + seconds
    while not done(out):
        left = deadline - time.time()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return False
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            return done(out)
        out += data
    return True
if not read_until(lambda o: b"Password: " in o, 30):
    sys.stdout.write(out.decode(errors="replace"))
    sys.exit("pty_run: no password prompt")
os.write(fd, b"\x03" if answer == "^C" else answer.encode() + b"\n")
read_until(lambda o: False, 60)
for _ in range(50):  # the terminal closes a moment before the process ends
    if os.waitpid(pid, os.WNOHANG) != (0, 0):
        break
    time.sleep(0.1)
else:
    os.killpg(pid, signal.SIGKILL)  # pty.fork made it a session and group leader
    os.waitpid(pid, 0)
    sys.stdout.write(out.decode(errors="replace"))
    sys.exit("pty_run: the program was still running after 60 s; killed")
sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
PY
}
# The terminal's echo flag after s3disk is gone: "echo" or "-echo".
ECHO_STATE='stty -a | tr " ;" "\n\n" | grep -xE -- "-?echo"'

log "prompt: the password typed at 'Password: ' (echo off), then the terminal as before"
pty_run admin-test-password "trap 'echo got-sigint' INT; \"$S3DISK\" --verify --encrypt \
  \"$EBUCKET\" 2>&1; echo \"rc=\$?\"; $ECHO_STATE" >"$WORK/pty.out" || {
  cat "$WORK/pty.out" >&2
  fail "the prompt run failed"
}
grep -q "verify: 3 blocks checked, 1 bad" "$WORK/pty.out" || { cat "$WORK/pty.out" >&2; fail "verify did not run with the typed password"; }
grep -qx "rc=2" "$WORK/pty.out" || { cat "$WORK/pty.out" >&2; fail "verify after the prompt: wrong exit status"; }
! grep -q "admin-test-password" "$WORK/pty.out" || { cat "$WORK/pty.out" >&2; fail "the password was echoed"; }
grep -qx "echo" "$WORK/pty.out" || { cat "$WORK/pty.out" >&2; fail "echo is not back on after the prompt"; }

log "prompt: Ctrl-C at the prompt ends s3disk and the terminal echoes again"
pty_run "^C" "trap 'echo got-sigint' INT; \"$S3DISK\" --verify --encrypt \"$EBUCKET\" 2>&1; \
  echo \"rc=\$?\"; $ECHO_STATE" >"$WORK/pty.out" || {
  cat "$WORK/pty.out" >&2
  fail "the Ctrl-C run failed"
}
grep -qx "rc=130" "$WORK/pty.out" || { cat "$WORK/pty.out" >&2; fail "s3disk did not die of SIGINT at the prompt"; }
grep -qx "echo" "$WORK/pty.out" || { cat "$WORK/pty.out" >&2; fail "echo is not back on after Ctrl-C at the prompt"; }

# --- an S3 bucket ----------------------------------------------------------------------------
S3BUCKET=s3disk-admin
s3_server_start "$S3BUCKET"
S3=(--baseURL="$S3_URL" --accessFile="$WORK/passwd" --maxRetryPause=400)
s3_objects() { s3_keys "$S3BUCKET"; }
log "s3: mount with --compress, write blocks 0, 1, 2 (random) and 7 (text)"
start_s3disk "${S3[@]}" --compress --size=16m --blockSize=64k "$S3BUCKET" "$MNT"
write_at "$MNT/file" 0 "$WORK/r0"
write_at "$MNT/file" "$BS" "$WORK/r1"
write_at "$MNT/file" $((2 * BS)) "$WORK/r2"
{ yes "a line of text that compresses well" || true; } | head -c "$BS" >"$WORK/text"
write_at "$MNT/file" $((7 * BS)) "$WORK/text"
stop_s3disk "$MNT"
[ "$(s3_objects | tr '\n' ' ')" = "00000000 00000001 00000002 00000007 " ] ||
  fail "s3: unexpected objects: $(s3_objects | tr '\n' ' ')"
stored=0
for k in 00000000 00000001 00000002 00000007; do
  stored=$((stored + $(s3_size "$S3BUCKET" "$k")))
done

log "s3: summary (stored bytes $stored), from one listing and a HEAD of block 0"
admin --summary --debug "${S3[@]}" "$S3BUCKET"
expect_rc 0 "s3 summary"
out_has "^blocks stored +4$" "^zero blocks +252$" "^logical bytes +262144 " \
  "^stored bytes +$stored " "^encoding +deflate \(block 0\)$" "^bucket +$S3BUCKET$"
heads=$(grep -Ec "http: HEAD [^ ]*/0000000[0-9a-f]" "$WORK/err" || true)
[ "$heads" -eq 1 ] || { show; fail "s3 summary sent $heads HEADs of blocks, not 1 (block 0)"; }
grep -Eq "http: GET [^ ]*list-type=2" "$WORK/err" || { show; fail "s3 summary did not list"; }
log "s3: verify clean, then with a flipped byte in block 2"
admin --verify "${S3[@]}" "$S3BUCKET"
expect_rc 0 "s3 verify of a clean bucket"
out_has "^verify: 4 blocks checked, 0 bad$"
s3_corrupt "$S3BUCKET" 00000002
admin --verify "${S3[@]}" "$S3BUCKET"
expect_rc 2 "s3 verify with a flipped byte"
# s3rver keeps the old MD5 as the ETag; on RGW the new body has its own, and the codec tells.
out_has "^bad block 00000002 \(key 00000002\): " "^verify: 4 blocks checked, 1 bad$"
[ "$S3_SERVER" != s3rver ] || out_has "^bad block 00000002 \(key 00000002\): bad MD5: "
[ "$(grep -c '^bad block' "$WORK/out")" -eq 1 ] || { show; fail "s3: more than one bad block"; }

log "s3: erase --force with bulk deletes; the bucket ends empty"
admin --erase --force --debug "${S3[@]}" "$S3BUCKET"
expect_rc 0 "s3 erase"
grep -Eq "http: POST [^ ]*\?delete" "$WORK/err" || { show; fail "s3 erase sent no bulk delete"; }
! grep -Eq "http: DELETE [^ ]*/0000000" "$WORK/err" || { show; fail "s3 erase deleted blocks one by one"; }
[ -z "$(s3_objects)" ] || fail "s3: objects left after erase: $(s3_objects | tr '\n' ' ')"
admin --summary "${S3[@]}" "$S3BUCKET"
expect_rc 0 "s3 summary after erase"
out_has "^blocks stored +0$"
log "ok"

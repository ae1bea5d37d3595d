# shellcheck shell=bash
# Shared by scripts/check and scripts/demo: output helpers, installing what a fresh Debian 12
# lacks, and the out-of-tree build in ./build. Source it; it defines functions only.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$REPO_ROOT/build}
S3DISK_BIN=$BUILD_DIR/s3disk

if [ -t 1 ]; then
  BOLD=$'\033[1m' RED=$'\033[31m' GREEN=$'\033[32m' RESET=$'\033[0m'
else
  BOLD='' RED='' GREEN='' RESET=''
fi

step() { printf '\n%s==> %s%s\n' "$BOLD" "$*" "$RESET"; }
note() { printf '    %s\n' "$*"; }
good() { printf '    %s%s%s\n' "$GREEN" "$*" "$RESET"; }
bad() { printf '    %s%s%s\n' "$RED" "$*" "$RESET" >&2; }
die() {
  printf '%s%s: error: %s%s\n' "$RED" "$(basename "$0")" "$*" "$RESET" >&2
  exit 1
}

# as_root CMD...: runs CMD as root (directly, or with sudo when available).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root (or sudo) for: $*"
  fi
}

# Everything the build, the tests and the demo use. (nbdfuse ships inside libnbd-bin on
# Debian 12; it has no package of its own there.)
DEB_PACKAGES=(
  build-essential autoconf automake pkg-config
  libfuse3-dev fuse3 libcurl4-openssl-dev libssl-dev zlib1g-dev libexpat1-dev libzstd-dev
  catch2 clang-format clang libclang-rt-14-dev
  e2fsprogs util-linux sqlite3 fio
  nbdkit nbdkit-plugin-dev libnbd-bin
  s3backer
  nodejs npm
  faketime
)
# The S3 tests' second server, Ceph RGW (tests/ceph/rgw.sh): about 70 MB to download, 280 MB
# installed. Without recommends: those bring a time daemon and Ceph services no test uses.
CEPH_PACKAGES=(radosgw ceph-mon ceph-osd python3)

# missing_packages PACKAGE...: prints those that are not installed. A package
# counts as installed when it is, or when an installed package provides it (NodeSource's
# nodejs provides npm, for example).
missing_packages() {
  local have p
  have=$(dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Provides}\n' 2>/dev/null |
    awk -F'\t' '$1 ~ /^ii/ {
      print $2
      n = split($3, a, /, */)
      for (i = 1; i <= n; i++) { sub(/ .*/, "", a[i]); if (a[i] != "") print a[i] }
    }')
  for p in "$@"; do
    grep -qxF -- "$p" <<<"$have" || printf '%s\n' "$p"
  done
}

install_deps() {
  step "Checking system packages"
  command -v dpkg-query >/dev/null 2>&1 || die "this script expects Debian 12 (no dpkg-query)"
  apt_install "${DEB_PACKAGES[@]}"
  install_s3rver
}

# install_ceph: the Ceph packages for the tests on RGW (scripts/check only).
install_ceph() {
  step "Checking the Ceph packages (the S3 tests' second server)"
  apt_install --no-install-recommends "${CEPH_PACKAGES[@]}"
}

# apt_install [--no-install-recommends] PACKAGE...: installs those that are missing.
apt_install() {
  local missing opts=()
  if [ "$1" = --no-install-recommends ]; then
    opts=("$1")
    shift
  fi
  missing=$(missing_packages "$@" | tr '\n' ' ')
  if [ -z "${missing// /}" ]; then
    good "all $# packages are installed"
  else
    note "installing: $missing"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
      die "apt-get update failed"
    # shellcheck disable=SC2086  # word splitting of the package list is intended
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${opts[@]}" $missing ||
      die "apt-get install failed"
  fi
}

# ---- s3rver (test S3 server) ---------------------------------------------------------------
# Reserved for the S3 test server: the `npm ci` / `npm install` under tests/s3rver/ goes in
# this function (owned by the engineer who adds tests/s3rver/). It runs after the system
# packages are installed, on every run of scripts/check and scripts/demo.
install_s3rver() {
  local dir=$REPO_ROOT/tests/s3rver
  command -v npm >/dev/null 2>&1 || die "npm is missing (needed for the S3 tests' s3rver)"
  # npm ci leaves node_modules/.package-lock.json; older than the lock file = out of date.
  if [ -x "$dir/node_modules/.bin/s3rver" ] &&
    [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
    good "s3rver $(node -p 'require(process.argv[1]).version' \
      "$dir/node_modules/s3rver/package.json" 2>/dev/null) is installed"
    return 0
  fi
  note "npm ci --prefix tests/s3rver"
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error ||
    die "npm ci --prefix tests/s3rver failed"
}
# ---- end of s3rver -------------------------------------------------------------------------

# build_tree: autoreconf when needed, then a VPATH build in $BUILD_DIR. Returns non-zero on
# failure (it does not exit, so callers can report).
build_tree() {
  step "Building in ${BUILD_DIR#"$REPO_ROOT"/}"
  (
    cd "$REPO_ROOT" || exit 1
    if [ ! -x configure ] || [ configure -ot configure.ac ] || [ configure -ot Makefile.am ]; then
      note "autoreconf -fi"
      autoreconf -fi || exit 1
    fi
    mkdir -p "$BUILD_DIR" && cd "$BUILD_DIR" || exit 1
    if [ ! -f Makefile ] || [ ! -f config.status ] || [ config.status -ot "$REPO_ROOT/configure" ]; then
      note "configure --enable-werror"
      "$REPO_ROOT/configure" -q --enable-werror || exit 1
    fi
    note "make -j$(nproc)"
    make -j"$(nproc)" || exit 1
  )
}

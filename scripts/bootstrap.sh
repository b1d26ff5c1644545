#!/usr/bin/env bash
# Installs everything the build needs on a fresh Debian 12 machine (as root).
# Idempotent and fast when everything is already present.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

packages=(
  build-essential cmake pkg-config ccache git
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libfmt-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev libsimdjson-dev libxxhash-dev libmimalloc-dev
  libcpp-httplib-dev
  # the PostgreSQL warehouse: the client library, and a server the tests start themselves
  libpq-dev postgresql-15
  # online stores: the embedded one (LMDB), and Redis, a server the tests start themselves;
  # wrk drives the serving benchmark
  liblmdb-dev libhiredis-dev redis-server wrk
  # make fuzz (libFuzzer is clang's) and readable sanitizer reports (llvm-symbolizer)
  clang libclang-rt-14-dev llvm
)
# npm may come from a non-Debian Node.js install; only ask apt for it when absent.
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# DuckDB: prebuilt libduckdb.so from the node bindings, header from the duckdb package.
dest="$root/third_party/duckdb"
stamp="$dest/.version"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$DUCKDB_BINDINGS_PACKAGE $DUCKDB_HEADER_PACKAGE" ]; then
  echo "bootstrap: fetching DuckDB $DUCKDB_VERSION"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$DUCKDB_BINDINGS_PACKAGE" >/dev/null && npm pack --silent "$DUCKDB_HEADER_PACKAGE" >/dev/null)
  mkdir -p "$tmp/bindings" "$tmp/header"
  tar -xzf "$tmp"/duckdb-node-bindings-linux-x64-*.tgz -C "$tmp/bindings"
  tar -xzf "$tmp"/duckdb-"$DUCKDB_VERSION".tgz -C "$tmp/header" package/src/duckdb/src/include/duckdb.h
  rm -rf "$dest"
  mkdir -p "$dest/lib" "$dest/include"
  cp "$(find "$tmp/bindings" -name 'libduckdb.so' | head -n1)" "$dest/lib/"
  cp "$tmp/header/package/src/duckdb/src/include/duckdb.h" "$dest/include/"
  echo "$DUCKDB_BINDINGS_PACKAGE $DUCKDB_HEADER_PACKAGE" > "$stamp"
fi

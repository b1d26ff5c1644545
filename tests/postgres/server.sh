#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite, on loopback only:
#   tests/postgres/server.sh start STATE_DIR    initdb + start; writes STATE_DIR/port
#                                               and STATE_DIR/pgpass (for PGPASSFILE);
#                                               prints "started" when it started one
#   tests/postgres/server.sh stop STATE_DIR     stop, then remove everything it made
# The cluster lives in a fresh temp directory (its path in STATE_DIR/cluster). PostgreSQL
# refuses to run as root, so under root the server runs as the `postgres` system user.
# Logins need a password (scram-sha-256, a random one per server, in STATE_DIR/pgpass,
# 0600): another local user cannot connect as the superuser. The unix socket sits in the
# 0700 cluster directory. Settings trade durability for speed (fsync off): nothing here
# outlives the tests. Starts and stops hold STATE_DIR/lock, so parallel callers wait.
# Each cluster records the STATE_DIR it serves (CLUSTER/state), so a stop, or a start
# that finds the state incomplete (a port or password file missing), finds and stops
# every server started for STATE_DIR from its postmaster.pid, never leaving one behind.
# Only directories made here (/tmp/derived-pg.*) are ever removed.
set -euo pipefail
action="${1:?start or stop}"
state="${2:?state directory}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
[ -x "$bin/postgres" ] || { echo "server.sh: no PostgreSQL server installed (run scripts/bootstrap.sh)" >&2; exit 2; }

# The lock's descriptor is closed for every command run here, so the server it starts
# does not inherit (and hold) the lock.
as_server() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@" 9>&-; else "$@" 9>&-; fi
}

mkdir -p "$state"
state="$(cd "$state" && pwd -P)"
exec 9>"$state/lock"
flock 9

# Where clusters are made; nothing outside it is ever removed.
root=/tmp
prefix="$root/derived-pg."

# Removes a cluster directory made here: a non-empty path directly under $root named
# derived-pg.*, a real directory (not a link), and no server left running in it.
remove_cluster() {
  local dir="$1"
  case "$dir" in
    "$prefix"?*) ;;
    *) echo "server.sh: refusing to remove '$dir' (not a cluster this script made under $prefix*)" >&2; return 1 ;;
  esac
  case "${dir#"$prefix"}" in
    */*|.|..) echo "server.sh: refusing to remove '$dir'" >&2; return 1 ;;
  esac
  [ -e "$dir" ] || return 0
  if [ -L "$dir" ] || [ ! -d "$dir" ]; then
    echo "server.sh: refusing to remove '$dir' (not a directory)" >&2
    return 1
  fi
  rm -rf -- "$dir"
}

# The postmaster's pid from DATA/postmaster.pid when that process still runs.
postmaster_pid() {
  local pidfile="$1/postmaster.pid" pid
  [ -f "$pidfile" ] || return 1
  pid="$(head -n1 "$pidfile" 2>/dev/null)"
  case "$pid" in ''|*[!0-9]*) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null || return 1
  # A zombie (an init that does not reap) has stopped.
  [ "$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 1
  echo "$pid"
}

# Stops the server of one cluster (found by its data directory's postmaster.pid, with
# or without a port file) and removes the cluster once none runs in it.
stop_cluster() {
  local cluster="$1" pid
  [ -n "$cluster" ] || return 0
  if pid="$(postmaster_pid "$cluster/data")"; then
    as_server "$bin/pg_ctl" -D "$cluster/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    # pg_ctl could not (a damaged data directory): the postmaster itself, if it is one.
    if pid="$(postmaster_pid "$cluster/data")" && grep -qa postgres "/proc/$pid/cmdline" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    if postmaster_pid "$cluster/data" >/dev/null; then
      echo "server.sh: the server in $cluster did not stop; left in place" >&2
      return 1
    fi
  fi
  remove_cluster "$cluster"
}

# Every cluster started for this state directory: the one it records, and any other
# whose back-reference names it (a record lost or overwritten).
stop_all() {
  local failed=0 cluster
  if [ -f "$state/cluster" ]; then
    stop_cluster "$(cat "$state/cluster")" || failed=1
  fi
  for cluster in "$prefix"*; do
    [ -f "$cluster/state" ] && [ "$(cat "$cluster/state" 2>/dev/null)" = "$state" ] || continue
    stop_cluster "$cluster" || failed=1
  done
  [ "$failed" -eq 0 ] || return 1
  rm -f "$state/port" "$state/cluster" "$state/pgpass"
}

running() {
  [ -f "$state/cluster" ] && [ -f "$state/port" ] && [ -f "$state/pgpass" ] &&
    as_server "$bin/pg_ctl" -D "$(cat "$state/cluster")/data" status >/dev/null 2>&1
}

case "$action" in
  start)
    if running; then exit 0; fi
    # What an earlier start left (a server whose port or password file is gone is of no
    # use to anyone) is stopped first.
    stop_all || exit 1
    cluster="$(mktemp -d "${prefix}XXXXXX")"
    chmod 700 "$cluster"
    echo "$state" > "$cluster/state"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$cluster"
    echo "$cluster" > "$state/cluster"
    password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    pwfile="$cluster/pwfile"
    (umask 077; printf '%s\n' "$password" > "$pwfile")
    [ "$(id -u)" -eq 0 ] && chown postgres: "$pwfile"
    as_server "$bin/initdb" -D "$cluster/data" -U postgres --auth=scram-sha-256 --pwfile="$pwfile" -E UTF8 \
      --locale=C >"$cluster/initdb.log" 2>&1 || { cat "$cluster/initdb.log" >&2; exit 1; }
    rm -f "$pwfile"
    # A free loopback port: try a few at random; each try has its own log, so a bind
    # failure is read from this try only.
    for try in $(seq 1 20); do
      port=$((20000 + RANDOM % 30000))
      log="$cluster/server-$try.log"
      if as_server "$bin/pg_ctl" -D "$cluster/data" -l "$log" -w -t 30 start -o \
        "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$cluster -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c max_locks_per_transaction=256" \
        >/dev/null 2>&1 9>&-; then
        (umask 077; printf '127.0.0.1:%s:*:postgres:%s\n' "$port" "$password" > "$state/pgpass.tmp")
        mv "$state/pgpass.tmp" "$state/pgpass"
        echo "$port" > "$state/port.tmp"
        mv "$state/port.tmp" "$state/port"
        echo "started"
        exit 0
      fi
      grep -q "could not bind\|already in use" "$log" 2>/dev/null || break
    done
    cat "$cluster"/server-*.log >&2 || true
    exit 1
    ;;
  stop)
    stop_all
    ;;
  *)
    echo "server.sh: unknown action '$action' (start or stop)" >&2
    exit 2
    ;;
esac

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
exec 9>"$state/lock"
flock 9

running() {
  [ -f "$state/cluster" ] && [ -f "$state/port" ] &&
    as_server "$bin/pg_ctl" -D "$(cat "$state/cluster")/data" status >/dev/null 2>&1
}

case "$action" in
  start)
    if running; then exit 0; fi
    rm -f "$state/port" "$state/pgpass"
    cluster="$(mktemp -d /tmp/derived-pg.XXXXXX)"
    chmod 700 "$cluster"
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
    [ -f "$state/cluster" ] || exit 0
    cluster="$(cat "$state/cluster")"
    if [ -d "$cluster/data" ]; then
      as_server "$bin/pg_ctl" -D "$cluster/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
      # Remove the cluster only once no server runs in it.
      if as_server "$bin/pg_ctl" -D "$cluster/data" status >/dev/null 2>&1; then
        echo "server.sh: the server in $cluster did not stop; left in place" >&2
        exit 1
      fi
    fi
    rm -rf "$cluster"
    rm -f "$state/port" "$state/cluster" "$state/pgpass"
    ;;
  *)
    echo "server.sh: unknown action '$action' (start or stop)" >&2
    exit 2
    ;;
esac

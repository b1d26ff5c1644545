#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite, on loopback only:
#   tests/postgres/server.sh start STATE_DIR    initdb + start; writes STATE_DIR/port
#   tests/postgres/server.sh stop STATE_DIR     stop and remove everything it made
# The cluster lives in a fresh temp directory (its path in STATE_DIR/cluster). PostgreSQL
# refuses to run as root, so under root the server runs as the `postgres` system user.
# Settings trade durability for speed (fsync off): nothing here outlives the tests.
set -euo pipefail
action="${1:?start or stop}"
state="${2:?state directory}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
[ -x "$bin/postgres" ] || { echo "server.sh: no PostgreSQL server installed (run scripts/bootstrap.sh)" >&2; exit 2; }

as_server() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$action" in
  start)
    mkdir -p "$state"
    if [ -f "$state/port" ] && as_server "$bin/pg_ctl" -D "$(cat "$state/cluster")/data" status >/dev/null 2>&1; then
      exit 0  # already running
    fi
    cluster="$(mktemp -d /tmp/derived-pg.XXXXXX)"
    chmod 700 "$cluster"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$cluster"
    echo "$cluster" > "$state/cluster"
    as_server "$bin/initdb" -D "$cluster/data" -U postgres --auth=trust -E UTF8 --locale=C >"$cluster/initdb.log" 2>&1 ||
      { cat "$cluster/initdb.log" >&2; exit 1; }
    # A free loopback port: try a few at random; the server says when one is taken.
    for _ in $(seq 1 20); do
      port=$((20000 + RANDOM % 30000))
      if as_server "$bin/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w -t 30 start -o \
        "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$cluster -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c max_locks_per_transaction=256" \
        >/dev/null 2>&1; then
        echo "$port" > "$state/port"
        exit 0
      fi
      grep -q "could not bind\|already in use" "$cluster/server.log" 2>/dev/null || break
    done
    cat "$cluster/server.log" >&2 || true
    exit 1
    ;;
  stop)
    [ -f "$state/cluster" ] || exit 0
    cluster="$(cat "$state/cluster")"
    as_server "$bin/pg_ctl" -D "$cluster/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$cluster" "$state/port" "$state/cluster"
    ;;
  *)
    echo "server.sh: unknown action '$action' (start or stop)" >&2
    exit 2
    ;;
esac

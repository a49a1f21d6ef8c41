#!/bin/sh
# pg-test.sh - a throwaway PostgreSQL cluster for tests.
#
#   scripts/pg-test.sh start DIR   initialise (if needed) and start a cluster in DIR,
#                                  create database opsbell_test, print its URL
#                                  (postgres://postgres@127.0.0.1:PORT/opsbell_test)
#                                  as the last line of stdout
#   scripts/pg-test.sh stop DIR    stop it (immediate; no error if not running)
#
# DIR may be reused: start on a stopped cluster restarts it (on a new port).
#
# Listens on 127.0.0.1 only, trust authentication, fsync off: never put data you
# care about in it.  PostgreSQL refuses to run as root, so as root the server runs
# as the `postgres` user (from the postgresql package) and DIR is chowned to it.
# Progress and errors go to stderr; logs stay in DIR (initdb.log, postgres.log).
# When user postgres cannot reach DIR (DIR=$(mktemp -d)/pg as root), the cluster
# lives in /tmp/opsbell-pg.* instead, and stop copies the logs back to DIR.
set -eu

PG_DB=opsbell_test
PG_USER=postgres

die() {
    echo "pg-test.sh: $*" >&2
    exit 1
}

usage() {
    echo "usage: scripts/pg-test.sh start|stop DIR" >&2
    exit 2
}

# The server binaries: pg_config's bindir, else the newest Debian install.
find_bindir() {
    d=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then
        echo "$d"
        return
    fi
    # shellcheck disable=SC2012 # version directories are plain numbers
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
        if [ -x "$d/initdb" ]; then
            echo "$d"
            return
        fi
    done
    die "initdb not found (install the postgresql package)"
}

# Run a server command as the cluster's owner.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$OWNER" -- "$@"
    else
        "$@"
    fi
}

# A port nobody listens on now; cmd_start retries if we lose a race for it.
pick_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    else
        # 20000..59999 from the kernel's randomness
        echo $((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000))
    fi
}

server_running() {
    [ -f "$DATA/postmaster.pid" ] && as_owner "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

# BASE is where the cluster lives: DIR itself, or (as root, when user postgres
# cannot reach DIR, e.g. DIR=$(mktemp -d)/pg) a postgres-owned directory
# under /tmp that DIR/base records and `stop` removes.
resolve_base() {
    if [ -f "$DIR/base" ]; then
        BASE=$(cat "$DIR/base")
    else
        BASE=$DIR
    fi
    DATA=$BASE/data
}

cmd_start() {
    BINDIR=$(find_bindir)
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    resolve_base
    OWNER=$(id -un)
    if [ "$(id -u)" = 0 ]; then
        getent passwd postgres >/dev/null || die "running as root needs a 'postgres' user"
        OWNER=postgres
        if [ "$BASE" = "$DIR" ]; then
            chown "$OWNER" "$DIR"
            chmod 0700 "$DIR"
            if ! as_owner test -x "$DIR"; then
                BASE=$(mktemp -d /tmp/opsbell-pg.XXXXXX)
                chown "$OWNER" "$BASE"
                echo "$BASE" >"$DIR/base"
                DATA=$BASE/data
                echo "pg-test.sh: user postgres cannot reach $DIR; cluster in $BASE" >&2
            fi
        fi
    fi
    # Server commands resolve relative paths and write warnings against the cwd.
    cd "$BASE"

    if server_running; then
        echo "pg-test.sh: already running in $DIR" >&2
        cat "$DIR/url"
        return
    fi

    if [ ! -f "$DATA/PG_VERSION" ]; then
        # Locale C always exists, even in a minimal container.
        as_owner "$BINDIR/initdb" -D "$DATA" -U "$PG_USER" --auth=trust --encoding=UTF8 \
            --locale=C >"$BASE/initdb.log" 2>&1 ||
            { cat "$BASE/initdb.log" >&2; die "initdb failed"; }
        # The unix socket path must fit in sun_path (107 bytes); without one
        # we still have TCP on loopback, which is all the tests use.
        sockdir=$BASE
        if [ ${#BASE} -gt 80 ]; then
            sockdir=
        fi
        cat >>"$DATA/postgresql.conf" <<EOF

# pg-test.sh: throwaway test cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sockdir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
shared_buffers = 32MB
EOF
    fi

    attempt=0
    while :; do
        attempt=$((attempt + 1))
        port=$(pick_port)
        log=$BASE/postgres.log
        : >"$log"
        if [ "$(id -u)" = 0 ]; then
            chown "$OWNER" "$log"
        fi
        if as_owner "$BINDIR/pg_ctl" -D "$DATA" -l "$log" -w -t 60 \
            -o "-p $port" start >/dev/null 2>&1; then
            break
        fi
        # Lost a race for the port: try another; anything else is fatal.
        if [ "$attempt" -lt 10 ] && grep -q 'could not bind\|Address already in use' "$log"; then
            continue
        fi
        cat "$log" >&2
        die "pg_ctl start failed"
    done

    if ! "$BINDIR/psql" -h 127.0.0.1 -p "$port" -U "$PG_USER" -d postgres -Atqc \
        "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" | grep -q 1; then
        "$BINDIR/createdb" -h 127.0.0.1 -p "$port" -U "$PG_USER" "$PG_DB" ||
            die "createdb failed"
    fi
    url="postgres://$PG_USER@127.0.0.1:$port/$PG_DB"
    echo "$url" >"$DIR/url"
    echo "pg-test.sh: PostgreSQL running in $DIR on 127.0.0.1:$port" >&2
    echo "$url"
}

cmd_stop() {
    [ -d "$DIR" ] || return 0
    DIR=$(cd "$DIR" && pwd)
    resolve_base
    if [ -f "$DATA/postmaster.pid" ]; then
        BINDIR=$(find_bindir)
        OWNER=$(stat -c %U "$DATA")
        cd /
        if ! as_owner "$BINDIR/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1; then
            # Not running (a stale pid file) is what we wanted anyway.
            if server_running; then
                die "pg_ctl stop failed (see $BASE/postgres.log)"
            fi
        fi
        echo "pg-test.sh: stopped PostgreSQL in $BASE" >&2
    fi
    rm -f "$DIR/url"
    if [ "$BASE" != "$DIR" ]; then
        # Our own directory under /tmp: keep the logs, drop the rest.
        cp "$BASE"/*.log "$DIR"/ 2>/dev/null || true
        rm -rf "$BASE"
        rm -f "$DIR/base"
    fi
}

[ $# -eq 2 ] || usage
DIR=$2
[ -n "$DIR" ] || usage
case "$1" in
start) cmd_start ;;
stop) cmd_stop ;;
*) usage ;;
esac

#!/usr/bin/env bash
# Services the test suite needs, started on loopback in temporary directories and always
# stopped: PostgreSQL now; Samba and Redis join as their capabilities land.
# Source this file, call start_<service>, and register stop_services in an EXIT trap.

SERVICES_TMP="${SERVICES_TMP:-$(mktemp -d /tmp/mobilise-services.XXXXXX)}"
chmod 755 "$SERVICES_TMP"
_stops=()

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

ensure_debs() {
  # ensure_debs COMMAND PACKAGE [COMMAND PACKAGE...]: install what is missing (root only).
  local missing=()
  while [ $# -gt 0 ]; do
    if ! command -v "$1" >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/"$1" >/dev/null 2>&1; then
      missing+=("$2")
    fi
    shift 2
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
    return 1
  fi
  echo "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

_as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
  ensure_debs initdb postgresql
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -x "$bin/initdb" ] || bin="$(dirname "$(command -v initdb)")"
  PG_DIR="$SERVICES_TMP/postgres"
  mkdir -p "$PG_DIR"
  [ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
  PG_PORT="$(free_port)"
  _as_postgres "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >"$SERVICES_TMP/initdb.log" 2>&1
  _as_postgres "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null
  export MOBILISE_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/postgres"
  PG_BIN="$bin"
  _stops+=(stop_postgres)
  echo "PostgreSQL on 127.0.0.1:$PG_PORT"
}

stop_postgres() {
  [ -n "${PG_DIR:-}" ] && _as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
}

stop_services() {
  local i
  for ((i=${#_stops[@]}-1; i>=0; i--)); do "${_stops[$i]}" || true; done
  rm -rf "$SERVICES_TMP"
}

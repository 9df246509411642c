# shellcheck shell=bash
# Throw-away services for the test suite, started on free loopback ports in temporary
# directories and stopped with everything they started. Source this file, then:
#
#   start_samba   # exports MOBILISE_TEST_SMB_SERVER/PORT/SHARE/USER/PASSWORD
#   start_redis   # exports MOBILISE_TEST_REDIS_URL
#   ...run tests...
#   stop_redis; stop_samba
#
# smbd makes itself a session and process group leader, so stopping it signals the whole
# group: its per-connection children and any samba-dcerpcd helpers go with it. redis-server
# is a single process here (no persistence, so it never forks a saver).

MOBILISE_SMB_UNIX_USER=${MOBILISE_SMB_UNIX_USER:-mobilise-smb}

_services_free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# _services_wait_port PORT SECONDS: succeed once something accepts on 127.0.0.1:PORT.
_services_wait_port() {
    local port=$1 deadline=$((SECONDS + $2))
    while ((SECONDS < deadline)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# _services_stop PID: TERM the process group PID leads (or PID alone when it leads
# none), wait up to 5 s, then KILL whatever is left.
_services_stop() {
    local pid=$1 target i
    [[ -n "$pid" ]] || return 0
    target=$pid
    if [[ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" == "$pid" ]]; then
        target=-$pid
    fi
    kill -TERM -- "$target" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 -- "$target" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL -- "$target" 2>/dev/null || true
}

_samba_ensure_installed() {
    command -v smbd >/dev/null && return 0
    if [[ $EUID -ne 0 ]]; then
        echo "start_samba: smbd is missing; install the Debian package samba" >&2
        return 1
    fi
    apt-get -o DPkg::Lock::Timeout=600 install -y samba >/dev/null || return 1
}

_samba_ensure_unix_user() {
    id -u "$MOBILISE_SMB_UNIX_USER" >/dev/null 2>&1 && return 0
    useradd --system --no-create-home --shell /usr/sbin/nologin "$MOBILISE_SMB_UNIX_USER"
}

_samba_write_conf() {
    local dir=$1 port=$2
    cat >"$dir/smb.conf" <<CONF
[global]
    server role = standalone server
    smb ports = $port
    interfaces = 127.0.0.1
    bind interfaces only = yes
    disable netbios = yes
    server min protocol = SMB2_10
    pid directory = $dir/run
    lock directory = $dir/lock
    state directory = $dir/state
    cache directory = $dir/cache
    private dir = $dir/private
    ncalrpc dir = $dir/ncalrpc
    passdb backend = tdbsam:$dir/private/passdb.tdb
    log file = $dir/log/smbd.log
    log level = 1
    map to guest = never
    load printers = no
    printing = bsd
    printcap name = /dev/null
    disable spoolss = yes
    unix charset = UTF-8
    store dos attributes = yes
    ea support = yes

[$MOBILISE_TEST_SMB_SHARE]
    path = $dir/share
    read only = no
    valid users = $MOBILISE_SMB_UNIX_USER
    create mask = 0644
    directory mask = 0755
CONF
}

start_samba() {
    if [[ -n "${_MOBILISE_SAMBA_PID:-}" ]]; then
        echo "start_samba: already running (pid $_MOBILISE_SAMBA_PID)" >&2
        return 0
    fi
    _samba_ensure_installed || return 1
    if [[ $EUID -ne 0 ]]; then
        echo "start_samba: smbd needs root to switch to the share's user" >&2
        return 1
    fi
    _samba_ensure_unix_user || return 1
    local dir port password
    dir=$(mktemp -d /tmp/mobilise-samba.XXXXXX) || return 1
    port=$(_services_free_port) || return 1
    password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
    mkdir -p "$dir"/{run,lock,state,cache,private,ncalrpc,log,share}
    chmod 755 "$dir" # the share user must be able to reach share/ below it
    chmod 700 "$dir/private"
    chown "$MOBILISE_SMB_UNIX_USER" "$dir/share"
    MOBILISE_TEST_SMB_SHARE=mobilise
    _samba_write_conf "$dir" "$port"
    printf '%s\n%s\n' "$password" "$password" |
        smbpasswd -c "$dir/smb.conf" -s -a "$MOBILISE_SMB_UNIX_USER" >"$dir/log/smbpasswd.log" 2>&1 || {
        echo "start_samba: smbpasswd failed; see $dir/log/smbpasswd.log" >&2
        return 1
    }
    smbd --foreground --configfile="$dir/smb.conf" \
        </dev/null >"$dir/log/stdout.log" 2>&1 &
    _MOBILISE_SAMBA_PID=$!
    _MOBILISE_SAMBA_DIR=$dir
    if ! _services_wait_port "$port" 20; then
        echo "start_samba: smbd did not listen on 127.0.0.1:$port; logs in $dir/log" >&2
        stop_samba
        return 1
    fi
    export MOBILISE_TEST_SMB_SERVER=127.0.0.1
    export MOBILISE_TEST_SMB_PORT=$port
    export MOBILISE_TEST_SMB_SHARE
    export MOBILISE_TEST_SMB_USER=$MOBILISE_SMB_UNIX_USER
    export MOBILISE_TEST_SMB_PASSWORD=$password
    echo "samba: \\\\127.0.0.1\\$MOBILISE_TEST_SMB_SHARE on port $port (pid $_MOBILISE_SAMBA_PID, $dir)" >&2
}

stop_samba() {
    _services_stop "${_MOBILISE_SAMBA_PID:-}"
    wait "${_MOBILISE_SAMBA_PID:-}" 2>/dev/null || true
    if [[ -n "${_MOBILISE_SAMBA_DIR:-}" && -d "$_MOBILISE_SAMBA_DIR" ]]; then
        rm -rf -- "$_MOBILISE_SAMBA_DIR"
    fi
    unset _MOBILISE_SAMBA_PID _MOBILISE_SAMBA_DIR MOBILISE_TEST_SMB_SERVER MOBILISE_TEST_SMB_PORT \
        MOBILISE_TEST_SMB_SHARE MOBILISE_TEST_SMB_USER MOBILISE_TEST_SMB_PASSWORD
}

start_redis() {
    if [[ -n "${_MOBILISE_REDIS_PID:-}" ]]; then
        echo "start_redis: already running (pid $_MOBILISE_REDIS_PID)" >&2
        return 0
    fi
    if ! command -v redis-server >/dev/null; then
        if [[ $EUID -eq 0 ]]; then
            apt-get -o DPkg::Lock::Timeout=600 install -y redis-server >/dev/null || return 1
        else
            echo "start_redis: redis-server is missing; install the Debian package redis-server" >&2
            return 1
        fi
    fi
    local dir port
    dir=$(mktemp -d /tmp/mobilise-redis.XXXXXX) || return 1
    port=$(_services_free_port) || return 1
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$dir" --daemonize no --logfile "$dir/redis.log" </dev/null >/dev/null 2>&1 &
    _MOBILISE_REDIS_PID=$!
    _MOBILISE_REDIS_DIR=$dir
    if ! _services_wait_port "$port" 20; then
        echo "start_redis: redis-server did not listen on 127.0.0.1:$port; log in $dir" >&2
        stop_redis
        return 1
    fi
    export MOBILISE_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
    echo "redis: $MOBILISE_TEST_REDIS_URL (pid $_MOBILISE_REDIS_PID, $dir)" >&2
}

stop_redis() {
    _services_stop "${_MOBILISE_REDIS_PID:-}"
    wait "${_MOBILISE_REDIS_PID:-}" 2>/dev/null || true
    if [[ -n "${_MOBILISE_REDIS_DIR:-}" && -d "$_MOBILISE_REDIS_DIR" ]]; then
        rm -rf -- "$_MOBILISE_REDIS_DIR"
    fi
    unset _MOBILISE_REDIS_PID _MOBILISE_REDIS_DIR MOBILISE_TEST_REDIS_URL
}

# --- PostgreSQL and the whole set ---------------------------------------------------------

_pg_as_owner() {
    if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# ensure_debs COMMAND PACKAGE [COMMAND PACKAGE...]: install the packages whose command is
# missing (as root; otherwise say what to install).
ensure_debs() {
    local missing=()
    while [[ $# -gt 0 ]]; do
        if ! command -v "$1" >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/"$1" >/dev/null 2>&1; then
            missing+=("$2")
        fi
        shift 2
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if [[ $EUID -ne 0 ]]; then
        echo "missing Debian packages: ${missing[*]} (install them, or run as root)" >&2
        return 1
    fi
    echo "installing Debian packages: ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

start_postgres() {
    ensure_debs initdb postgresql || return 1
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [[ -x "$bin/initdb" ]] || bin=$(dirname "$(command -v initdb)")
    _MOBILISE_PG_BIN=$bin
    _MOBILISE_PG_DIR=$(mktemp -d /tmp/mobilise-postgres.XXXXXX) || return 1
    chmod 755 "$_MOBILISE_PG_DIR"
    [[ $EUID -eq 0 ]] && chown postgres "$_MOBILISE_PG_DIR"
    local port
    port=$(_services_free_port) || return 1
    _pg_as_owner "$bin/initdb" -D "$_MOBILISE_PG_DIR/data" -U postgres --auth=trust -E UTF8 \
        >"$_MOBILISE_PG_DIR/initdb.log" 2>&1 || {
        echo "start_postgres: initdb failed; see $_MOBILISE_PG_DIR/initdb.log" >&2
        return 1
    }
    # A throw-away cluster: durability off, many connections for the concurrency tests.
    _pg_as_owner "$bin/pg_ctl" -D "$_MOBILISE_PG_DIR/data" -l "$_MOBILISE_PG_DIR/server.log" -w \
        -o "-p $port -k $_MOBILISE_PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >/dev/null || {
        echo "start_postgres: the server did not start; see $_MOBILISE_PG_DIR/server.log" >&2
        return 1
    }
    export MOBILISE_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
    echo "postgres: 127.0.0.1:$port ($_MOBILISE_PG_DIR)" >&2
}

stop_postgres() {
    if [[ -n "${_MOBILISE_PG_DIR:-}" && -d "$_MOBILISE_PG_DIR" ]]; then
        _pg_as_owner "$_MOBILISE_PG_BIN/pg_ctl" -D "$_MOBILISE_PG_DIR/data" -m immediate stop \
            >/dev/null 2>&1 || true
        rm -rf -- "$_MOBILISE_PG_DIR"
    fi
    unset _MOBILISE_PG_DIR MOBILISE_TEST_PG_URL
}

# start_services: everything the suite needs; stop_services (an EXIT trap) stops it all.
start_services() {
    start_postgres && start_samba && start_redis
}

stop_services() {
    stop_redis || true
    stop_samba || true
    stop_postgres || true
}

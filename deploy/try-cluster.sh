#!/usr/bin/env bash
# try-cluster: the production shape of wl-adapter on one machine, on loopback, to try it or test it.
#
#   PostgreSQL (127.0.0.1:5432, started if it is not running) holding one database for this cluster
#   the WL 2.0 simulator, playing SBB over HTTPS with SBB's (test) certificate
#   two adapter instances on that one database
#   nginx (deploy/nginx/wl-adapter.conf, Debian's package, installed if missing) in front: TLS for schools,
#   mutual TLS for SBB's pushes, which the simulator sends through it with its certificate
#
# Test certificates are made in the state directory; nothing leaves loopback. Ports are free ones unless given.
#
#   deploy/try-cluster.sh [--state-dir DIR] [--port N] [--push-port N] [--sim-port N] [--adapter-ports N,N]
#                         [--today YYYY-MM-DD] [--python PATH]
#   deploy/try-cluster.sh --stop [--state-dir DIR]      stops what it started there, and nothing else
#
# It prints the WL 1.0 URL, the simulator's URL, the test school's licence and each instance's port, and writes
# them to DIR/cluster.env. Exit codes: 0 running (or stopped), 1 failed (what it started is stopped again),
# 3 nginx is missing and cannot be installed here (not root, or no apt-get).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
STATE="$ROOT/var/try-cluster"
STOP=0
PORT="" PUSH_PORT="" SIM_PORT="" ADAPTER_PORTS="" TODAY=""
PY="${WL_ADAPTER_PYTHON:-}"
SCHOOL_NAME="ROC Try-cluster"
SCHOOL_OIN="0000000700025BE00000"
SIM_COMPANIES=300

die() { echo "try-cluster: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --stop) STOP=1 ;;
    --state-dir) STATE="$2"; shift ;;
    --port) PORT="$2"; shift ;;
    --push-port) PUSH_PORT="$2"; shift ;;
    --sim-port) SIM_PORT="$2"; shift ;;
    --adapter-ports) ADAPTER_PORTS="$2"; shift ;;
    --today) TODAY="$2"; shift ;;
    --python) PY="$2"; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
mkdir -p "$STATE"
STATE="$(cd "$STATE" && pwd)"
PIDS="$STATE/pids"
LOGS="$STATE/logs"

# -- stopping: only the processes whose pid files are here, each checked to be the very process started (its start
# time is in the pid file too, so a pid the system has since given to another process is left alone) -----------
started_at() {  # pid -> the process's start time (clock ticks since boot), or nothing when it is gone
  [ -r "/proc/$1/stat" ] && sed 's/.*) //' "/proc/$1/stat" | awk '{print $20}'
}

ours() {  # pid file -> true when its process still runs
  local pid since
  read -r pid since <"$1" || return 1
  [ -n "$pid" ] && [ "$(started_at "$pid" || true)" = "$since" ]
}

stop_process() {  # name: SIGTERM to its session's process group (gunicorn's workers too), SIGKILL after 10 s
  local file="$PIDS/$1.pid" pid
  [ -f "$file" ] || return 0
  read -r pid _ <"$file"
  if ours "$file"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do ours "$file" || break; sleep 0.1; done
    if ours "$file"; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
    echo "stopped $1 (pid $pid)"
  fi
  rm -f "$file"
}

stop_all() {
  local name
  stop_process nginx
  for file in "$PIDS"/adapter-*.pid; do
    [ -e "$file" ] || continue
    name="$(basename "$file" .pid)"
    stop_process "$name"
  done
  stop_process simulator
  if [ -f "$STATE/database" ]; then
    "$PY" - "$(cat "$STATE/database")" <<'EOF' || echo "try-cluster: could not drop the database" >&2
import sys, psycopg
with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True, connect_timeout=5) as c:
    c.execute(f'DROP DATABASE IF EXISTS "{sys.argv[1]}" WITH (FORCE)')
EOF
    echo "dropped database $(cat "$STATE/database")"
    rm -f "$STATE/database"
  fi
  if [ -f "$PIDS/postgresql.cluster" ]; then
    # shellcheck disable=SC2046
    pg_ctlcluster --skip-systemctl-redirect $(cat "$PIDS/postgresql.cluster") stop && echo "stopped PostgreSQL"
    rm -f "$PIDS/postgresql.cluster"
  fi
  rm -f "$STATE/cluster.env"
}

if [ -z "$PY" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"; else PY="python3"; fi
fi

if [ "$STOP" = 1 ]; then
  stop_all
  exit 0
fi

# -- starting ---------------------------------------------------------------------------------------------------
for file in "$PIDS"/*.pid; do
  [ -e "$file" ] || continue
  if ours "$file"; then die "already running in $STATE: deploy/try-cluster.sh --stop first"; fi
done
"$PY" -c 'import adapter' 2>/dev/null || die "$PY cannot import the adapter: run 'make install' (or pass --python)"
"$PY" -c 'import psycopg' 2>/dev/null || die "the adapter's PostgreSQL driver is missing: $PY -m pip install 'wl-adapter[postgres]' (or run 'make install-test')"
mkdir -p "$PIDS" "$LOGS"
helper() { "$PY" "$HERE/try_cluster.py" "$@"; }

NGINX="$(command -v nginx || true)"
[ -n "$NGINX" ] || [ ! -x /usr/sbin/nginx ] || NGINX=/usr/sbin/nginx
if [ -z "$NGINX" ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "try-cluster: nginx is not installed, and it can only be installed here as root with apt-get" \
         "(apt-get install nginx)" >&2
    exit 3
  fi
  echo "installing nginx (Debian package; its own service is not started)"
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then  # keep apt from starting the system's nginx on port 80
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && guard=1
  fi
  installed=0
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null) && installed=1
  [ -z "$guard" ] || rm -f /usr/sbin/policy-rc.d
  [ "$installed" = 1 ] || { echo "try-cluster: apt-get could not install nginx" >&2; exit 3; }
  NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
fi

RUNNING=0
on_exit() {  # a start that failed half-way stops what it had started
  local code=$?
  if [ "$RUNNING" = 0 ] && [ "$code" != 0 ]; then
    echo "try-cluster: start failed; stopping what was started (logs in $LOGS)" >&2
    stop_all >/dev/null 2>&1 || true
  fi
}
trap on_exit EXIT

start() {  # name command...: in a session of its own, so that --stop (and a test's SIGKILL) reach all its processes
  local name="$1" pid; shift
  setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid $(started_at "$pid")" >"$PIDS/$name.pid"
}

pid_of() { local pid; read -r pid _ <"$PIDS/$1.pid"; echo "$pid"; }

wait_for() {  # name url [CA file of its certificate]
  helper wait "$2" "${3:-$STATE/tls/server-ca.pem}" "$(pid_of "$1")" 60 || { tail -n 20 "$LOGS/$1.log" >&2; false; }
}

# ports: free ones for what was not given
mapfile -t free < <(helper ports 5)
PORT="${PORT:-${free[0]}}"
PUSH_PORT="${PUSH_PORT:-${free[1]}}"
SIM_PORT="${SIM_PORT:-${free[2]}}"
ADAPTER_PORTS="${ADAPTER_PORTS:-${free[3]},${free[4]}}"
IFS=, read -r -a INSTANCES <<<"$ADAPTER_PORTS"
[ "${#INSTANCES[@]}" -ge 2 ] || die "--adapter-ports needs at least two ports, got '$ADAPTER_PORTS'"

# certificates
helper certs "$STATE/tls"
SBB_SUBJECT="$(cat "$STATE/tls/sbb-subject.txt")"

# PostgreSQL, and a database of this cluster's own
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  command -v pg_ctlcluster >/dev/null || die "PostgreSQL does not answer on 127.0.0.1:5432 and pg_ctlcluster is missing"
  cluster="$(pg_lsclusters --no-header | awk '$3 == 5432 {print $1, $2; exit}')"
  [ -n "$cluster" ] || die "PostgreSQL does not answer on 127.0.0.1:5432 and no cluster is configured for that port"
  # shellcheck disable=SC2086
  pg_ctlcluster --skip-systemctl-redirect $cluster start
  echo "$cluster" >"$PIDS/postgresql.cluster"
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  echo "started PostgreSQL $cluster"
fi
DATABASE="wl_try_$(printf %s "$STATE" | sha256sum | cut -c1-10)"
"$PY" - "$DATABASE" <<'EOF'
import sys, psycopg
with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True, connect_timeout=5) as c:
    c.execute(f'DROP DATABASE IF EXISTS "{sys.argv[1]}" WITH (FORCE)')
    c.execute(f'CREATE DATABASE "{sys.argv[1]}"')
EOF
echo "$DATABASE" >"$STATE/database"
STORE_URL="postgresql+psycopg://postgres@127.0.0.1:5432/$DATABASE"

# the simulator: SBB, with SBB's certificate for HTTPS and as its client certificate for pushes
start simulator "$PY" -m adapter simulate --host 127.0.0.1 --port "$SIM_PORT" --seed 1 \
  --leerbedrijven "$SIM_COMPANIES" ${TODAY:+--today "$TODAY"} --tls-cert "$STATE/tls/sbb.pem" \
  --tls-key "$STATE/tls/sbb.key" --push-ca "$STATE/tls/server-ca.pem" --push-backoff-s 0.2
SIM_URL="https://127.0.0.1:$SIM_PORT"

# the adapter's configuration, one for both instances (each gets its port and name from the environment)
read -r LICENCE LICENCE_SHA256 < <(helper licence)
cat >"$STATE/adapter.toml" <<EOF
# written by deploy/try-cluster.sh; both instances read it (WL_ADAPTER_SERVER_PORT and _INSTANCE_NAME differ)
[server]
host = "127.0.0.1"
port = ${INSTANCES[0]}
public_url = "https://127.0.0.1:$PUSH_PORT"   # nginx's push server: the Afleveradres SBB is given
workers = 1

[upstream]
url = "$SIM_URL/wl2"
ca = "$STATE/tls/sbb-ca.pem"
timeout_s = 5.0
connect_timeout_s = 1.0

[store]
url = "$STORE_URL"

[pushes]
trusted_proxies = ["127.0.0.1/32"]        # nginx, which verified SBB's certificate
subject_header = "X-SSL-Client-S-DN"
sbb_subject = "$SBB_SUBJECT"

[[tenants]]
name = "$SCHOOL_NAME"
oin = "$SCHOOL_OIN"
licence_sha256 = "$LICENCE_SHA256"
EOF
echo "$LICENCE" >"$STATE/licence" && chmod 600 "$STATE/licence"

wait_for simulator "$SIM_URL/admin/health" "$STATE/tls/sbb-ca.pem"
"$PY" -m adapter simulate --seed 1 --leerbedrijven "$SIM_COMPANIES" --export-mapping "$STATE/mapping.csv" 2>/dev/null
"$PY" -m adapter mapping import "$STATE/mapping.csv" --config "$STATE/adapter.toml" >/dev/null

n=0
for port in "${INSTANCES[@]}"; do
  n=$((n + 1))
  start "adapter-$n" env WL_ADAPTER_SERVER_PORT="$port" WL_ADAPTER_SERVER_INSTANCE_NAME="adapter-$n" \
    "$PY" -m adapter serve --config "$STATE/adapter.toml"
done
n=0
for port in "${INSTANCES[@]}"; do
  n=$((n + 1))
  wait_for "adapter-$n" "http://127.0.0.1:$port/healthz"
done

# nginx: deploy/nginx/wl-adapter.conf with loopback ports and the test certificates, under a main file of ours
mkdir -p "$STATE/nginx/tmp"
helper render "$ROOT/deploy/nginx/wl-adapter.conf" "$STATE/nginx/wl-adapter.conf" "$STATE/tls" "$PORT" \
  "$PUSH_PORT" "${INSTANCES[@]}"
user_line=""
if [ "$(id -u)" = 0 ]; then  # the master reads the keys as root; its workers drop to nobody
  group=nogroup; getent group nogroup >/dev/null || group=nobody
  user_line="user nobody $group;"
fi
cat >"$STATE/nginx/nginx.conf" <<EOF
# written by deploy/try-cluster.sh
$user_line
daemon off;
worker_processes 1;
pid $STATE/nginx/nginx.pid;
error_log $LOGS/nginx-error.log warn;
events { worker_connections 512; }
http {
    log_format wl '\$remote_addr [\$time_local] "\$request" \$status \$body_bytes_sent upstream=\$upstream_addr '
                  '(\$upstream_status) \$request_time s subject="\$ssl_client_s_dn"';
    access_log $LOGS/nginx-access.log wl;
    # bodies and answers stay in memory (1 MiB at most): the workers never write below this state directory
    proxy_max_temp_file_size 0;
    client_body_temp_path $STATE/nginx/tmp/client_body;
    proxy_temp_path $STATE/nginx/tmp/proxy;
    fastcgi_temp_path $STATE/nginx/tmp/fastcgi;
    uwsgi_temp_path $STATE/nginx/tmp/uwsgi;
    scgi_temp_path $STATE/nginx/tmp/scgi;
    include $STATE/nginx/wl-adapter.conf;
}
EOF
NGINX_ARGS=(-p "$STATE/nginx" -e "$LOGS/nginx-error.log" -c "$STATE/nginx/nginx.conf")
"$NGINX" -t -q "${NGINX_ARGS[@]}" || die "nginx -t failed on $STATE/nginx/nginx.conf"
start nginx "$NGINX" "${NGINX_ARGS[@]}"
wait_for nginx "https://127.0.0.1:$PORT/healthz"
RUNNING=1

WL1_URL="https://127.0.0.1:$PORT/wl1"
cat >"$STATE/cluster.env" <<EOF
WL1_URL=$WL1_URL
PUSH_URL=https://127.0.0.1:$PUSH_PORT/wl2/mutaties
SIM_URL=$SIM_URL
LICENCE=$LICENCE
SCHOOL_OIN=$SCHOOL_OIN
ADAPTER_PORTS=$ADAPTER_PORTS
CA=$STATE/tls/server-ca.pem
SBB_CA=$STATE/tls/sbb-ca.pem
STORE_URL=$STORE_URL
NGINX=$NGINX
NGINX_CONF=$STATE/nginx/nginx.conf
EOF
chmod 600 "$STATE/cluster.env"  # it holds the test school's licence

echo
echo "try-cluster is running (state, logs and certificates in $STATE; stop it with: $0 --stop --state-dir $STATE)"
echo "  WL 1.0 for school systems (through nginx): $WL1_URL?wsdl   (trust $STATE/tls/server-ca.pem)"
echo "  SBB's pushes (nginx, mutual TLS):          https://127.0.0.1:$PUSH_PORT/wl2/mutaties"
echo "  the WL 2.0 simulator (plays SBB):          $SIM_URL/wl2   admin API: $SIM_URL/admin/"
echo "  licence of the test school '$SCHOOL_NAME': $LICENCE"
n=0
for port in "${INSTANCES[@]}"; do
  n=$((n + 1))
  echo "  adapter instance $n: port $port (pid $(pid_of "adapter-$n"), http://127.0.0.1:$port/metrics)"
done

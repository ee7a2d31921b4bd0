#!/usr/bin/env bash
# Starts throwaway PostgreSQL and Redis on free loopback ports in a temp dir, runs a command
# with DATABASE_URL / REDIS_URL pointing at them, and stops them afterwards.
#   .ci/services.sh run <command...>
# Missing servers are installed with apt-get (Debian: postgresql, redis-server).
set -euo pipefail

need_install=()
pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
[ -n "$(pg_bindir)" ] && [ -x "$(pg_bindir)/initdb" ] || need_install+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need_install+=(redis-server)
# Browser tests of the operator console drive Debian's Chromium through its chromedriver.
command -v chromium >/dev/null 2>&1 || need_install+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_install+=(chromium-driver)
if [ ${#need_install[@]} -gt 0 ]; then
  echo "services: installing ${need_install[*]} with apt-get" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_install[@]}" >/dev/null
fi
BIN="$(pg_bindir)"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

TMP="$(mktemp -d /tmp/ttelgo-services.XXXXXX)"
PGPORT="$(free_port)"
REDISPORT="$(free_port)"
PGDATA="$TMP/pg"

# PostgreSQL refuses to run as root: run it as an unprivileged user.
RUN_AS=()
if [ "$(id -u)" -eq 0 ]; then
  id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  chown -R postgres "$TMP"
  chmod 755 "$TMP"
  RUN_AS=(runuser -u postgres --)
fi

cleanup() {
  set +e
  "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1
  [ -f "$TMP/redis.pid" ] && kill "$(cat "$TMP/redis.pid")" 2>/dev/null
  sleep 0.2
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

"${RUN_AS[@]}" "$BIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --no-locale >/dev/null
cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$TMP'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 256MB
CONF
"${RUN_AS[@]}" "$BIN/pg_ctl" -D "$PGDATA" -l "$TMP/pg.log" -w start >/dev/null
"$BIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres ttelgo

redis-server --port "$REDISPORT" --bind 127.0.0.1 --save '' --appendonly no \
  --daemonize yes --pidfile "$TMP/redis.pid" --dir "$TMP" --logfile "$TMP/redis.log"
for _ in $(seq 50); do redis-cli -p "$REDISPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/ttelgo"
export REDIS_URL="redis://127.0.0.1:$REDISPORT/0"
export PGBIN="$BIN" SERVICES_TMP="$TMP"
echo "services: PostgreSQL on $PGPORT, Redis on $REDISPORT ($TMP)" >&2

[ "${1:-}" = "run" ] && shift
set +e
"$@"
status=$?
exit $status

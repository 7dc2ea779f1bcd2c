#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the tests (Debian's postgresql package).
#   bash scripts/postgres.sh start   -> prints the server's URL; its files live in a temporary directory
#   bash scripts/postgres.sh stop DIR
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [[ -z "$bin" ]]; then
  echo "postgresql is not installed (apt-get install postgresql)" >&2
  exit 1
fi
as_owner() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "${1:-}" in
  start)
    dir=$(mktemp -d /tmp/proposal-router-pg.XXXXXX)
    [[ $(id -u) == 0 ]] && chown postgres "$dir"
    port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-locale >/dev/null
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    echo "postgresql://postgres@127.0.0.1:$port/postgres $dir"
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$2/data" -m fast stop >/dev/null
    rm -rf "$2"
    ;;
  *)
    echo "usage: $0 start | stop DIR" >&2
    exit 2
    ;;
esac

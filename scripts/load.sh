#!/usr/bin/env bash
# Load test: builds behalf, starts it on a fresh embedded SQLite database with demo data (or, with
# --postgres, on a throwaway PostgreSQL server), creates an administrator, and drives it from
# scripts/load with a raw GET /healthz baseline measured in the same run. Loopback only; bounded.
#
#   bash scripts/load.sh [--postgres] [-c 8] [-d 5s]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
use_pg=false
if [[ ${1:-} == --postgres ]]; then use_pg=true; shift; fi

work=$(mktemp -d)
server_pid=
cleanup() {
	[[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	$use_pg && pg_stop
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/behalf" ./cmd/behalf
dsn="sqlite:$work/behalf.db"
if $use_pg; then
	# shellcheck source=scripts/pg.sh
	source scripts/pg.sh
	pg_start
	dsn=$BEHALF_TEST_POSTGRES_URL
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo 'load test admin password' | "$work/behalf" user create --db "$dsn" --login load.admin --email load@example.com --role administrator --password-stdin >/dev/null
BEHALF_LOG_LEVEL=warn "$work/behalf" serve --db "$dsn" --demo --addr "127.0.0.1:$port" >"$work/out.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do curl -sf "127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
token=$(curl -s "127.0.0.1:$port/graphql" -H 'Content-Type: application/json' \
	-d '{"query":"mutation { login(login: \"load.admin\", password: \"load test admin password\") { token } }"}' |
	sed -E 's/.*"token":"([^"]+)".*/\1/')
echo "==> behalf on 127.0.0.1:$port ($($use_pg && echo PostgreSQL || echo SQLite)), $(nproc) cores"
go run ./scripts/load -url "http://127.0.0.1:$port" -token "$token" "$@"

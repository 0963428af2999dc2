#!/usr/bin/env bash
# The kept benchmark: starts a throwaway PostgreSQL server, seeds it with 1,000,000 contacts through
# `behalf import contacts` and a 1,000-product catalog, starts behalf and a raw net/http + pgx
# baseline server (scripts/bench raw) in the same run, and prints one line per scenario with its
# ratio to raw: {__typename}, an authenticated me, contact search per term class, a catalog page, the
# order flow in an own session against a login-on-behalf session, and search during a login storm.
# Loopback only; every loop is bounded (duration and request cap). The README's performance section
# is this script's output.
#
#   bash scripts/bench.sh [-n CONTACTS] [-d DURATION] [-c CLIENTS] [-w]
#   e.g. bash scripts/bench.sh -n 100000 -d 3s      (a quicker, smaller run)
#   -w writes the output into README.md's performance section (between its bench.sh markers)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

contacts=1000000
dur=5s
clients=4
write=
while getopts "n:d:c:w" o; do
	case $o in
	n) contacts=$OPTARG ;;
	d) dur=$OPTARG ;;
	c) clients=$OPTARG ;;
	w) write=1 ;;
	*) sed -n '2,13p' "$0" >&2; exit 2 ;;
	esac
done

# shellcheck source=scripts/pg.sh
source scripts/pg.sh
work=$(mktemp -d)
behalf_pid=
raw_pid=
cleanup() {
	local rc=$?
	[[ -n $behalf_pid ]] && kill "$behalf_pid" 2>/dev/null && { wait "$behalf_pid" 2>/dev/null || true; }
	[[ -n $raw_pid ]] && kill "$raw_pid" 2>/dev/null && { wait "$raw_pid" 2>/dev/null || true; }
	pg_stop
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
say() { echo "==> $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

say "building"
go build -o "$work/behalf" ./cmd/behalf
go build -o "$work/bench" ./scripts/bench
pg_start
psql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
psql "$BEHALF_TEST_POSTGRES_URL" -c "CREATE DATABASE bench"
dsn="postgres://postgres@127.0.0.1:$PG_PORT/bench?sslmode=disable"
"$work/behalf" migrate --db "$dsn" >/dev/null

say "generating $contacts contacts"
awk -v n="$contacts" -f scripts/bench/contacts.awk >"$work/contacts.csv"
say "importing"
t0=$(now)
"$work/behalf" import contacts --db "$dsn" --file "$work/contacts.csv" | tail -n 1 >"$work/import.txt"
import_s=$(since "$t0")
rm -f "$work/contacts.csv"
psql "$dsn" <<'SQL'
INSERT INTO products (id, sku, name, description, price_minor, currency, stock, search_text, created_at, updated_at)
SELECT lpad(g::text, 12, '0'), 'SKU-' || lpad(g::text, 5, '0'), 'Product ' || g, 'A catalog item for the benchmark',
       100 + g, 'EUR', 1000000000, ' product ' || g || ' sku ' || lpad(g::text, 5, '0') || ' ', now(), now()
FROM generate_series(1, 1000) g;
VACUUM ANALYZE;
SQL

pw='bench password 1234'
for u in "admin administrator" "helpdesk support" "carla customer" "storm customer"; do
	set -- $u
	echo "$pw" | "$work/behalf" user create --db "$dsn" --login "$1" --email "$1@bench.example" --role "$2" --password-stdin >/dev/null
done

port=$(free_port)
rawport=$(free_port)
BEHALF_LOG_LEVEL=error "$work/behalf" serve --db "$dsn" --addr "127.0.0.1:$port" >"$work/behalf.log" 2>&1 &
behalf_pid=$!
"$work/bench" raw --addr "127.0.0.1:$rawport" --db "$dsn" >"$work/raw.log" 2>&1 &
raw_pid=$!
for _ in $(seq 300); do curl -sf "127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
gql() { # gql TOKEN QUERY → response body
	curl -s "127.0.0.1:$port/graphql" -H 'Content-Type: application/json' ${1:+-H "Authorization: Bearer $1"} -d "$2"
}
# A password mutation refused with 429 (the client's share of the verification rate: every call here
# comes from one address) is retried after a second, as a client honouring Retry-After would.
gqlpw() {
	local out
	for _ in $(seq 10); do
		out=$(gql "$@")
		[[ $out == *TOO_MANY_REQUESTS* ]] || break
		sleep 1
	done
	printf '%s' "$out"
}
token() { gqlpw "" "{\"query\":\"mutation { login(login: \\\"$1\\\", password: \\\"$pw\\\") { token } }\"}" | sed -E 's/.*"token":"([^"]+)".*/\1/'; }
admin=$(token admin)
helpdesk=$(token helpdesk)
carla=$(token carla)
carla_id=$(gql "$carla" '{"query":"{ me { id } }"}' | sed -E 's/.*"id":"([^"]+)".*/\1/')
ticket=$(gql "$helpdesk" "{\"query\":\"mutation { loginOnBehalf(userId: \\\"$carla_id\\\", reason: \\\"benchmark\\\") { ticket } }\"}" | sed -E 's/.*"ticket":"([^"]+)".*/\1/')
onbehalf=$(gqlpw "" "{\"query\":\"mutation { confirmOnBehalf(ticket: \\\"$ticket\\\", login: \\\"helpdesk\\\", password: \\\"$pw\\\") { token } }\"}" | sed -E 's/.*"token":"([^"]+)".*/\1/')
for t in admin carla onbehalf; do
	[[ ${!t} == bhs_* ]] || { say "could not get the $t token"; cat "$work/behalf.log" >&2; exit 1; }
done

{
echo "behalf benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}'), $contacts contacts imported in ${import_s}s ($(cat "$work/import.txt")), 1000 products; $clients clients, $dur per scenario in 4 alternating behalf/raw rounds; ratio = behalf req/s ÷ raw req/s"
"$work/bench" drive -behalf "http://127.0.0.1:$port" -raw "http://127.0.0.1:$rawport" -c "$clients" -d "$dur" \
	-admin-token "$admin" -customer-token "$carla" -onbehalf-token "$onbehalf" -storm-login storm -storm-password "$pw" -behalf-pid "$behalf_pid"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at end"
} | tee "$work/out.txt"

if [[ -n $write ]]; then
	# Replace the lines between the markers in README.md with this run's output, in a code block.
	awk -v out="$work/out.txt" '
		/^<!-- bench.sh output: begin -->$/ { print; print "```"; while ((getline l < out) > 0) print l; print "```"; skip = 1; next }
		/^<!-- bench.sh output: end -->$/ { skip = 0 }
		!skip { print }
	' README.md >"$work/README.md"
	grep -q '^<!-- bench.sh output: end -->$' "$work/README.md" || { say "README.md has no bench.sh markers"; exit 1; }
	cp "$work/README.md" README.md
	say "README.md updated"
fi

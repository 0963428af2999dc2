#!/usr/bin/env bash
# Runs the browser tests of the admin console and the storefront (web/e2e/run.mjs): builds the behalf
# binary once, creates a fresh PostgreSQL database on the server of BEHALF_TEST_POSTGRES_URL for the
# test that runs on PostgreSQL (and drops it afterwards), then drives Debian's chromium with
# playwright-core. Screenshots of every step land in web/e2e/out/ (gitignored).
#
# scripts/test.sh calls this after the Go tests of a whole-suite run. Standalone:
#   bash web/e2e/run.sh [flow|consent|expiry …]
# Needs node, chromium (apt-get install chromium) and `npm ci` in web/e2e; when one is missing the
# tests are skipped, which is a failure when CI is set.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1

say() { echo "==> browser tests: $*" >&2; }
ci=${CI:-}
[[ $ci == false || $ci == 0 ]] && ci=
skip() {
	if [[ -n $ci ]]; then
		say "cannot run: $* (a skipped browser test fails under CI)"
		exit 1
	fi
	say "skipped: $*"
	exit 0
}

export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
command -v node >/dev/null 2>&1 || skip "node not found"
[[ -x $CHROMIUM ]] || skip "$CHROMIUM not found (apt-get install chromium)"
[[ -f web/e2e/node_modules/playwright-core/package.json ]] || skip "playwright-core missing (cd web/e2e && npm ci)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/behalf-e2e.XXXXXX")
db=
cleanup() {
	local rc=$?
	if [[ -n $db ]]; then
		psql -q "$BEHALF_TEST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT

t0=$(date +%s.%N)
say "go build ./cmd/behalf"
go build -o "$tmp/behalf" ./cmd/behalf || exit 1

if [[ -n ${BEHALF_TEST_POSTGRES_URL:-} ]]; then
	command -v psql >/dev/null 2>&1 || skip "psql not found (apt-get install postgresql-client)"
	name="behalf_e2e_$$_$RANDOM"
	psql -q "$BEHALF_TEST_POSTGRES_URL" -c "CREATE DATABASE $name" >/dev/null || exit 1
	db=$name
	base=${BEHALF_TEST_POSTGRES_URL%%\?*}
	export BEHALF_E2E_PG_URL="${base%/*}/$db${BEHALF_TEST_POSTGRES_URL#"$base"}"
fi

BEHALF_BIN="$tmp/behalf" node web/e2e/run.mjs "$@"
rc=$?
say "exited with $rc after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1fs", b-a}') (build included)"
exit "$rc"

#!/usr/bin/env bash
# Runs every test of the repository:
#   1. gofmt -l must list no file;
#   2. go vet ./... (runs while a throwaway PostgreSQL server starts, see scripts/pg.sh);
#   3. go test -count=1 with BEHALF_TEST_POSTGRES_URL pointing at that server, so that every database
#      test (internal/dbtest) runs on both SQLite and PostgreSQL;
#   4. on a whole-suite run, the browser tests (web/e2e/run.sh: chromium + playwright-core).
# The server is stopped and its data deleted on exit, including on failure or Ctrl-C. The exit status
# is go test's (or 1 if gofmt/vet/the server failed first).
#
# Usage: bash scripts/test.sh [go test flags and packages]      (packages default to ./...)
#   bash scripts/test.sh
#   bash scripts/test.sh -run Foo ./security/
#   bash scripts/test.sh ./internal/dbtest/ -v
# If BEHALF_TEST_POSTGRES_URL is already set, that server is used and none is started.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
# shellcheck source=scripts/pg.sh
source scripts/pg.sh

# go vet and go test run in the background, each in its own process group (setsid), and the script
# waits for them: a signal to this script (Ctrl-C, or a TERM from a CI timeout) is then handled at
# once, by killing their whole process group, before the server is stopped.
vet_pid=
go_pid=
vet_log=
test_tmp=
setsid=()
command -v setsid >/dev/null 2>&1 && setsid=(setsid)

kill_group() { # kill_group PID: TERM the process group led by PID (or just PID), then reap it
	[[ -n $1 ]] || return 0
	kill -TERM -- "-$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
cleanup() {
	local rc=$?
	trap - INT TERM
	kill_group "$go_pid"
	kill_group "$vet_pid"
	[[ -n $vet_log ]] && rm -f "$vet_log"
	[[ -n $test_tmp ]] && rm -rf "$test_tmp"
	pg_stop
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "==> interrupted" >&2; exit 130' INT
trap 'echo "==> terminated" >&2; exit 143' TERM

say() { echo "==> $*" >&2; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1fs", b-a}'; }

command -v go >/dev/null 2>&1 || {
	say "go not found on PATH"
	exit 1
}

# Packages default to ./... unless the arguments name some (go test accepts flags on both sides).
has_pkg=false
for a in "$@"; do
	[[ $a == -args ]] && break
	case $a in
	. | .. | ./* | ../* | behalf | behalf/*) has_pkg=true ;;
	esac
done
pkgs=()
$has_pkg || pkgs=(./...)

t0=$(date +%s.%N)
say "gofmt -l"
gofmt_bin="$(go env GOROOT)/bin/gofmt"
unformatted=$(find . \( -name .git -o -name vendor -o -name node_modules -o -name testdata \) -prune -o \
	-name '*.go' -type f -print0 | xargs -0 -r "$gofmt_bin" -l)
if [[ -n $unformatted ]]; then
	say "these files are not gofmt-formatted (run gofmt -w on them):"
	echo "$unformatted" >&2
	exit 1
fi

say "go vet ./... (in the background)"
vet_log=$(mktemp "${TMPDIR:-/tmp}/behalf-vet.XXXXXX")
"${setsid[@]}" go vet ./... >"$vet_log" 2>&1 &
vet_pid=$!

if [[ -n ${BEHALF_TEST_POSTGRES_URL:-} ]]; then
	say "using the PostgreSQL server from BEHALF_TEST_POSTGRES_URL"
else
	say "starting a throwaway PostgreSQL server"
	if ! pg_find_bin; then
		pg_install && pg_find_bin || {
			say "PostgreSQL is not available"
			exit 1
		}
	fi
	pg_start || exit 1
fi

wait "$vet_pid"
vet_rc=$?
vet_pid=
cat "$vet_log" >&2
if [[ $vet_rc -ne 0 ]]; then
	say "go vet failed"
	exit 1
fi
say "gofmt + vet + server ready in $(elapsed "$t0")"

# Test files (t.TempDir, SQLite databases) in memory when possible: about 10x faster than this disk.
if pg_shm_ok; then
	test_tmp=$(mktemp -d /dev/shm/behalf-test.XXXXXX) && export TMPDIR=$test_tmp
fi

say "go test -count=1 ${pkgs[*]} $*"
t1=$(date +%s.%N)
"${setsid[@]}" go test -count=1 "${pkgs[@]}" "$@" &
go_pid=$!
wait "$go_pid"
rc=$?
go_pid=
say "go test exited with $rc after $(elapsed "$t1") (total $(elapsed "$t0"))"

# Fuzzing: native fuzz targets run a few seconds each on a whole-suite run (go test -fuzz takes one
# target per invocation). Their seed corpora (f.Add and testdata/fuzz) already ran above as plain
# tests. The targets in packages that pull in the database drivers need a coverage-instrumented
# build of all of them (minutes on a busy 2-core machine), so they are fuzzed only with
# BEHALF_FUZZ_ALL=1. BEHALF_FUZZTIME=0 skips this phase.
fuzztime=${BEHALF_FUZZTIME:-2s}
targets=(./graph/querylimit/:FuzzJSONQuery ./graph/querylimit/:FuzzCheck ./money/:FuzzParse ./config/:FuzzSettings)
if [[ -n ${BEHALF_FUZZ_ALL:-} ]]; then
	targets+=(./commerce/:FuzzParseFile ./store/:FuzzParseDSN ./security/:FuzzParseBearer)
fi
if [[ $rc -eq 0 && ${#pkgs[@]} -gt 0 && $fuzztime != 0 ]]; then
	t2=$(date +%s.%N)
	for target in "${targets[@]}"; do
		pkg=${target%%:*} name=${target##*:}
		# A failure that wrote no failing input is the fuzz engine's own (a worker that started too late
		# on a loaded machine: "context deadline exceeded"); it gets one more try. A found input never does.
		for try in 1 2; do
			"${setsid[@]}" go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" >"${TMPDIR:-/tmp}/behalf-fuzz.log" 2>&1 &
			go_pid=$!
			wait "$go_pid"
			frc=$?
			go_pid=
			[[ $frc -ne 0 && $try -eq 1 ]] && ! grep -q 'Failing input written to' "${TMPDIR:-/tmp}/behalf-fuzz.log" || break
			say "fuzzing $name stopped without a failing input; trying once more"
		done
		if [[ $frc -ne 0 ]]; then
			cat "${TMPDIR:-/tmp}/behalf-fuzz.log" >&2
			say "fuzzing $name failed (the failing input is in $pkg/testdata/fuzz/$name)"
			rc=$frc
			break
		fi
	done
	say "fuzzing done in $(elapsed "$t2")"
fi

# 4. The browser tests of the admin console and the storefront, on whole-suite runs only (no
#    argument) or when BEHALF_E2E=1; they start their own servers and use the PostgreSQL server above.
if [[ $rc -eq 0 ]] && { [[ $# -eq 0 ]] || [[ ${BEHALF_E2E:-} == 1 ]]; }; then
	t2=$(date +%s.%N)
	"${setsid[@]}" bash web/e2e/run.sh &
	go_pid=$!
	wait "$go_pid"
	rc=$?
	go_pid=
	say "browser tests exited with $rc after $(elapsed "$t2") (total $(elapsed "$t0"))"
fi
exit "$rc"

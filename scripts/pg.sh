#!/usr/bin/env bash
# Throwaway PostgreSQL server for tests.
#
# Sourced by scripts/test.sh (and .ci/run), it defines:
#   pg_find_bin      set PG_BIN to the directory holding initdb/pg_ctl/postgres (status 1 if none)
#   pg_install       apt-get install PostgreSQL (root, Debian/Ubuntu)
#   pg_start         initdb + start a server on 127.0.0.1:<free port> in a fresh temp dir and export
#                    BEHALF_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
#   pg_stop          stop that server and delete its temp dir (safe to call twice, or if never started)
#   pg_shm_ok        /dev/shm is a big enough tmpfs for test files
#
# Run directly (`bash scripts/pg.sh`), it starts a server, prints the export line for another shell,
# and keeps it running until Ctrl-C.
#
# The cluster is tuned for speed, not durability (fsync off, trust auth): never use it for real data.

PG_BIN=${PG_BIN:-}
PG_TMP=${PG_TMP:-}
PG_PORT=${PG_PORT:-}
PG_CHILD=

pg_log() { echo "pg.sh: $*" >&2; }

pg_find_bin() {
	local d
	if [[ -n $PG_BIN && -x $PG_BIN/initdb ]]; then
		return 0
	fi
	if d=$(command -v initdb 2>/dev/null); then
		d=$(readlink -f "$d")
		PG_BIN=$(dirname "$d")
		[[ -x $PG_BIN/pg_ctl && -x $PG_BIN/postgres ]] && return 0
	fi
	# Debian/Ubuntu keep the server binaries off PATH; take the newest version.
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) /usr/local/pgsql/bin; do
		if [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]]; then
			PG_BIN=$d
			return 0
		fi
	done
	PG_BIN=
	return 1
}

pg_install() {
	local sudo=()
	if [[ $EUID -ne 0 ]]; then
		if command -v sudo >/dev/null 2>&1; then
			sudo=(sudo -n)
		else
			pg_log "PostgreSQL is not installed and we are not root: install the 'postgresql' package"
			return 1
		fi
	fi
	pg_log "installing PostgreSQL: apt-get update && apt-get install -y postgresql"
	# Only the binaries are needed: keep the package from starting its own cluster on port 5432
	# (policy-rc.d exit 101 = "action forbidden"), unless a policy is already in place.
	local policy=
	if [[ $EUID -eq 0 && ! -e /usr/sbin/policy-rc.d ]]; then
		policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
	fi
	local rc=0
	"${sudo[@]}" apt-get update -q &&
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql </dev/null ||
		rc=$?
	[[ -n $policy ]] && rm -f "$policy"
	return "$rc"
}

# pg_as_owner CMD ARGS... runs a server binary as the cluster owner: initdb refuses to run as root,
# so under root that is the `postgres` OS user.
pg_as_owner() {
	if [[ $EUID -ne 0 ]]; then
		"$@"
	elif command -v runuser >/dev/null 2>&1; then
		runuser -u postgres -- "$@"
	else
		su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
	fi
}

# pg_port_free PORT: nothing accepts connections on 127.0.0.1:PORT.
pg_port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pg_shm_ok: /dev/shm is a writable in-memory file system with at least 1 GB free (Docker's default
# 64 MB is not enough). Set PG_NO_SHM=1 to keep everything on disk.
pg_shm_ok() {
	[[ -z ${PG_NO_SHM:-} && -d /dev/shm && -w /dev/shm ]] || return 1
	local free
	free=$(df -P -k /dev/shm 2>/dev/null | awk 'NR==2{print $4}')
	[[ $free =~ ^[0-9]+$ && $free -ge 1048576 ]]
}

pg_start() {
	local t0 attempt port
	t0=$(date +%s.%N)
	pg_find_bin || {
		pg_log "initdb not found (looked on PATH and in /usr/lib/postgresql/*/bin)"
		return 1
	}
	if [[ $EUID -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
		pg_log "creating OS user postgres (initdb refuses to run as root)"
		useradd --system --no-create-home --shell /usr/sbin/nologin postgres || return 1
	fi
	# Creating a database writes hundreds of small files: on a disk that costs ~0.3 s, in memory ~10 ms.
	# So prefer /dev/shm when it is a big enough tmpfs (Docker's default 64 MB is not). Under root the
	# directory must be reachable by the postgres user, so not under $TMPDIR (it may be private).
	local parent=/tmp
	if [[ $EUID -ne 0 ]]; then
		parent=${TMPDIR:-/tmp}
	fi
	if pg_shm_ok; then
		parent=/dev/shm
	fi
	PG_TMP=$(mktemp -d "$parent/behalf-pg.XXXXXX") || return 1
	if [[ $EUID -eq 0 ]]; then
		chown postgres: "$PG_TMP" || return 1
	fi
	if ! pg_as_owner "$PG_BIN/initdb" -D "$PG_TMP/data" -U postgres --auth=trust --encoding=UTF8 \
		--locale=C --no-sync --no-instructions >"$PG_TMP/initdb.log" 2>&1; then
		pg_log "initdb failed:"
		cat "$PG_TMP/initdb.log" >&2
		return 1
	fi
	# The postmaster runs as a background child of this shell (through runuser/su), not detached by
	# pg_ctl: pg_stop can then wait for it, so no postgres process (not even a zombie) outlives us.
	local opts=(-D "$PG_TMP/data" -c listen_addresses=127.0.0.1 -c "unix_socket_directories=$PG_TMP"
		-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200
		-c wal_level=minimal -c max_wal_senders=0 -c checkpoint_timeout=1h -c max_wal_size=1GB
		-c log_min_messages=warning)
	# pg_stat_statements lets tests count the statements the server really ran (CREATE EXTENSION
	# pg_stat_statements in the test database to read them); it must be preloaded at start.
	if [[ -f $PG_BIN/../lib/pg_stat_statements.so ]]; then
		opts+=(-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=top)
	fi
	local i
	for attempt in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 40000))
		pg_port_free "$port" || continue
		pg_as_owner "$PG_BIN/postgres" "${opts[@]}" -p "$port" >>"$PG_TMP/server.log" 2>&1 </dev/null &
		PG_CHILD=$!
		for i in $(seq 1 600); do
			if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres 2>/dev/null &&
				kill -0 "$PG_CHILD" 2>/dev/null; then
				PG_PORT=$port
				break 2
			fi
			kill -0 "$PG_CHILD" 2>/dev/null || break # exited, e.g. the port was taken meanwhile
			sleep 0.05
		done
		pg_log "server did not start on port $port (attempt $attempt):"
		tail -n 5 "$PG_TMP/server.log" >&2
		pg_stop_child
	done
	if [[ -z $PG_PORT ]]; then
		pg_log "giving up starting PostgreSQL"
		return 1
	fi
	export BEHALF_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
	pg_log "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (data in $PG_TMP) started in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1fs", b-a}')"
}

# pg_stop_child stops the postmaster started by pg_start and waits for it to exit.
pg_stop_child() {
	[[ -n $PG_CHILD ]] || return 0
	if kill -0 "$PG_CHILD" 2>/dev/null; then
		if [[ -f $PG_TMP/data/postmaster.pid ]]; then
			# Immediate shutdown: the data is thrown away anyway.
			pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate -s stop >/dev/null 2>&1
		fi
		local i
		for i in $(seq 1 100); do
			kill -0 "$PG_CHILD" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$PG_CHILD" 2>/dev/null; then
			# Still there after 10 s: kill the postmaster we started (first line of its pid file).
			local pid
			pid=$(head -n 1 "$PG_TMP/data/postmaster.pid" 2>/dev/null)
			if [[ $pid =~ ^[0-9]+$ ]]; then
				pg_log "PostgreSQL does not stop; killing postmaster $pid"
				kill -KILL "$pid" 2>/dev/null
			fi
		fi
	fi
	wait "$PG_CHILD" 2>/dev/null
	PG_CHILD=
}

pg_stop() {
	[[ -n $PG_TMP ]] || return 0
	pg_stop_child
	rm -rf "$PG_TMP"
	PG_TMP=
	PG_PORT=
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	# Run directly: keep a server up for manual testing until interrupted.
	sleeper=
	trap '[[ -n $sleeper ]] && kill "$sleeper" 2>/dev/null; pg_stop' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	pg_find_bin || pg_install || exit 1
	pg_start || exit 1
	echo "export BEHALF_TEST_POSTGRES_URL='$BEHALF_TEST_POSTGRES_URL'"
	echo "PostgreSQL is running; press Ctrl-C to stop it and delete its data." >&2
	while :; do
		sleep 3600 &
		sleeper=$!
		wait "$sleeper"
	done
fi

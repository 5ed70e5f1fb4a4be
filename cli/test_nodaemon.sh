#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# cli-nodaemon: with no daemon behind the socket, fdwatch fails with exit
# status 1 and exactly one line on stderr, and prints nothing on stdout.
# Usage: test_nodaemon.sh PATH-TO-fdwatch

fdwatch=${1:?usage: $0 PATH-TO-fdwatch}
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
failed=0
passed=0

# expect WANT-STDERR ARGS...: exit 1, no stdout, exactly WANT-STDERR.
expect() {
	want=$1
	shift
	"$fdwatch" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	lines=$(wc -l <"$tmp/err")
	if [ "$rc" -ne 1 ] || [ "$lines" -ne 1 ] || [ -s "$tmp/out" ] ||
	   [ "$(cat "$tmp/err")" != "$want" ]; then
		echo "FAIL: fdwatch $*: rc=$rc, $lines stderr lines:"
		sed 's/^/  /' "$tmp/err" "$tmp/out"
		failed=$((failed + 1))
	else
		passed=$((passed + 1))
	fi
}

expect "fdwatch: cannot connect to fdwatchd at /nonexistent/sock: No such file or directory" \
	status --socket /nonexistent/sock
expect "fdwatch: cannot connect to fdwatchd at /nonexistent/sock: No such file or directory" \
	--socket=/nonexistent/sock ps
expect "fdwatch: cannot connect to fdwatchd at /nonexistent/sock: No such file or directory" \
	events -f --socket /nonexistent/sock

# A path that exists but where nobody listens.
: >"$tmp/sock"
expect "fdwatch: cannot connect to fdwatchd at $tmp/sock: Connection refused" \
	fds 1 --socket "$tmp/sock"
FDWATCH_SOCKET=$tmp/sock expect \
	"fdwatch: cannot connect to fdwatchd at $tmp/sock: Connection refused" \
	verify

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

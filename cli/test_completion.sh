#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# cli-completion: the bash completion of fdwatch, driven as bash drives it
# (COMP_WORDS, COMP_CWORD, then COMPREPLY), against a fake daemon for the
# pids, fds and columns it asks fdwatch for.
# Usage: test_completion.sh PATH-TO-fdwatch COMPLETION-SCRIPT GOLDEN-EVENTS-TXT
fdwatch=${1:?usage: $0 FDWATCH COMPLETION GOLDEN}
script=${2:?}
golden=${3:?}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/fdwt-comp.XXXXXX) || exit 99
sock=$tmp/s.sock
python3 "$here/test_fake_server.py" --serve "$sock" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done

# shellcheck source=/dev/null
source "$script" || exit 1
export LC_ALL=C TZ=UTC
passed=0
failed=0

# comp WANT WORD...: completing the last WORD gives WANT (sorted, spaces)
comp() {
	local want=$1 got
	shift
	COMP_WORDS=("$fdwatch" "$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="${COMP_WORDS[*]}"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_fdwatch
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//')
	if [ "$got" = "$want" ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		printf 'FAIL: fdwatch %s<TAB>\n  got:  %s\n  want: %s\n' "$*" "$got" "$want"
	fi
}

# what the completion must offer, from fdwatch itself
ps_cols=$("$fdwatch" ps --list-columns -n -r | cut -d' ' -f1 | sort | tr '\n' ' ' | sed 's/ $//')
pids=$("$fdwatch" --socket "$sock" ps -J | python3 -c 'import json,sys; print(" ".join(sorted(str(p["pid"]) for p in json.load(sys.stdin)["processes"])))')
fds42=$("$fdwatch" --socket "$sock" fds 42 -J | python3 -c 'import json,sys; print(" ".join(sorted(str(f["fd"]) for f in json.load(sys.stdin)["fds"])))')

comp "events fds help leaks ps status top verify" ""
comp "events" e
comp "top" t
comp "top" help t
comp "--socket" --so
comp "$ps_cols" --socket "$sock" ps -o ""
comp "+GROWTH" --socket "$sock" ps -o +GR
comp "+LIMIT" --socket "$sock" ps -o +LI
comp "PID,COMMAND" --socket "$sock" ps -o PID,COM
comp "TID TIME" --socket "$sock" events --output T
comp "TREND" leaks -o TR
comp "$pids" --socket "$sock" ps -p ""
comp "1,300" --socket "$sock" ps -p 1,3
comp "$pids" --socket "$sock" fds ""
comp "$fds42" --socket "$sock" fds 42 ""
comp "$pids" --socket "$sock" verify ""
comp "growth" ps --sort g
comp "growth" top -s g
comp "always" --color = al
comp "always auto never" ps --color ""
comp "close close_range" events --syscall clos
comp "openat,close openat,close_range" events --syscall openat,clos
comp "--sort" ps --sor
comp "--socket --sort" ps --so
comp "" ps --sy
comp "--syscall" events --sy
comp "--follow" leaks --fo
comp "--interval" top --int
comp "cat init worker" --socket "$sock" events --comm ""

# the syscall list is every syscall the golden test has (all traced ones)
want=$(grep -v '^ ' "$golden" | awk '{print $1}' | sort -u | tr '\n' ' ' | sed 's/ $//')
have=$(printf '%s\n' $_fdwatch_syscalls | sort -u | tr '\n' ' ' | sed 's/ $//')
if [ "$want" = "$have" ]; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
	printf 'FAIL: syscall names\n  golden: %s\n  script: %s\n' "$want" "$have"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

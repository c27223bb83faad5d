#!/usr/bin/env bash
# Runs scripts/demo for 7 s on an existing build and checks what a user would see.
set -euo pipefail
src=$1 build=$2
if [[ $(id -u) -ne 0 ]]; then echo "demo_smoke: SKIPPED: needs root (the demo refuses otherwise)"; exit 77; fi
shopt -s nullglob
demo_dirs() { local d=(/tmp/corral-demo.*); echo ${#d[@]}; }
before=$(demo_dirs)
out=$("$src/scripts/demo" --no-build --build-dir "$build" --seconds 7 </dev/null 2>&1)
echo "$out" | tail -n 30
fail() { echo "demo_smoke: $*" >&2; exit 1; }
for p in ticker flaky worker; do
  grep -q "^$p " <<<"$out" || fail "plugin $p missing from corralctl list"
done
grep -Eq '^ticker +running' <<<"$out" || fail "ticker is not running"
grep -Eq '^worker +running' <<<"$out" || fail "worker is not running"
grep -q 'tick [0-9]' <<<"$out" || fail "no ticker output through corralctl logs"
grep -q 'hello from the worker' <<<"$out" || fail "worker did not print its environment"
grep -q 'exited with code 1' <<<"$out" || fail "flaky's failure was not shown"
grep -q 'corral top: 3 plugin(s)' <<<"$out" || fail "corralctl top showed no table"
grep -q 'memory_percent [0-9.]* >= 2 (warning)' <<<"$out" || fail "the worker's threshold did not fire"
grep -q 'corrald exited with status 0' <<<"$out" || fail "corrald did not exit cleanly"
after=$(demo_dirs)
[[ $after -eq $before ]] || fail "the demo left its directory behind"
echo "demo_smoke: ok"

#!/usr/bin/env bash
# Runs inside the VM: every test binary of lane.txt once, filtered to its listed tests.
set -uo pipefail
build=$1 lane=$2
echo "corral-vm: kernel $(uname -r); cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
status=0
binaries=$(grep -v '^#' "$lane" | awk 'NF == 2 && !seen[$1]++ {print $1}')
for binary in $binaries; do
  filter=$(awk -v b="$binary" '$1 == b {print $2}' "$lane" | paste -sd: -)
  "$build/$binary" --gtest_filter="$filter" --gtest_color=no || status=1
done
exit $status

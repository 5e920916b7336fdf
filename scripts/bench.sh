#!/usr/bin/env bash
# Runs the Consumers benchmark: starts the local stack (scripts/stack.sh up; services already
# running are reused), builds the solution in Release and runs bench/Consumers.Bench with the
# arguments given here. Results: a table on stdout and .bench/results-<timestamp>.json.
#
# usage: scripts/bench.sh [bench options, e.g. --only throughput,latency --jobs 5000]
#        scripts/bench.sh --help
#
# Environment:
#   CONSUMERS_SKIP_STACK=1   do not start the stack (services already provided; point the bench at
#                            them with CONSUMERS_DB_ADMIN, CONSUMERS_RABBIT_HOST/PORT/USER/PASS/MGMT)
# Exit codes: those of the bench (0 ok; 1 a section failed; 2 usage; 4 stack unreachable),
#             or the failing step's.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

if [[ "${CONSUMERS_SKIP_STACK:-}" != "1" ]]; then
  # Prints the stack's settings on stdout; keep stdout for the results.
  scripts/stack.sh up >&2
  eval "$(scripts/stack.sh env)"
fi

dotnet build bench/Consumers.Bench/Consumers.Bench.csproj -c Release --nologo -v quiet >&2
exec dotnet bench/Consumers.Bench/bin/Release/net10.0/consumers-bench.dll "$@"

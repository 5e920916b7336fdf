#!/usr/bin/env bash
# Runs the whole Consumers test suite: installs what is missing, starts the local stack
# (PostgreSQL + RabbitMQ, scripts/stack.sh), runs `dotnet test` on the solution with TRX
# results, and ends with one line:  N passed, N failed, N skipped
#
# usage: scripts/test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~Retry]
#
# Environment:
#   CONSUMERS_SOLUTION        solution to test (default: Consumers.sln, else Consumers.slnx)
#   CONSUMERS_TEST_TIMEOUT    wall-clock limit for dotnet test (default 75m; 0 = none)
#   CONSUMERS_TEST_HANG_TIMEOUT  per-test-host hang limit passed to --blame-hang-timeout
#                             (default 20m; empty = off)
#   CONSUMERS_SKIP_STACK=1    do not install/start anything (services already provided)
# Exit codes: 0 all tests passed; 1 a test failed, the run failed, or no test ran.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

RESULTS_DIR="$REPO_ROOT/TestResults"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export DOTNET_CLI_WORKLOAD_UPDATE_NOTIFY_DISABLE=1 MSBUILDDISABLENODEREUSE=1

# ---- TRX summary ------------------------------------------------------------------------------

# Sum the <Counters .../> of every .trx under the results folder: prints "total passed failed skipped".
# Errors, timeouts and aborts count as failures; everything else not passed/failed is skipped.
sum_counters() {
  local -a files=()
  mapfile -t files < <(find "$RESULTS_DIR" -name '*.trx' -type f 2>/dev/null | sort)
  if [[ "${#files[@]}" -eq 0 ]]; then
    echo "0 0 0 0"
    return
  fi
  awk '
    function attr(s, name,   re, m) {
      re = "[[:space:]]" name "=\"[0-9]+\""
      if (match(s, re)) { m = substr(s, RSTART, RLENGTH); gsub(/[^0-9]/, "", m); return m + 0 }
      return 0
    }
    /<Counters[[:space:]]/ {
      t += attr($0, "total");  p += attr($0, "passed")
      f += attr($0, "failed") + attr($0, "error") + attr($0, "timeout") + attr($0, "aborted")
    }
    END { s = t - p - f; if (s < 0) s = 0; printf "%d %d %d %d\n", t, p, f, s }
  ' "${files[@]}"
}

# Names of failed tests (UnitTestResult elements whose outcome is not a pass or a skip).
failed_tests() {
  find "$RESULTS_DIR" -name '*.trx' -type f -print0 2>/dev/null |
    xargs -0 -r grep -ho '<UnitTestResult [^>]*>' 2>/dev/null |
    grep -E 'outcome="(Failed|Error|Timeout|Aborted)"' |
    sed -E 's/.* testName="([^"]*)".*/\1/' |
    sed -e 's/&quot;/"/g' -e "s/&apos;/'/g" -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&amp;/\&/g' |
    sort -u
}

# The first lines of each failed test's message (python3 reads the TRX; without it only the names above).
failure_messages() {
  command -v python3 >/dev/null 2>&1 || return 0
  find "$RESULTS_DIR" -name '*.trx' -type f -print0 2>/dev/null | xargs -0 -r python3 -c '
import sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
for path in sys.argv[1:]:
    for r in ET.parse(path).getroot().iterfind(".//t:UnitTestResult", ns):
        if r.get("outcome") not in ("Failed", "Error", "Timeout", "Aborted"):
            continue
        message = r.findtext("t:Output/t:ErrorInfo/t:Message", default="(no message)", namespaces=ns).strip().splitlines()
        print("why: " + r.get("testName", "?"))
        for line in message[:8]:
            print("    " + line[:300])
'
}

summary_and_exit() {
  local run_rc="$1" total passed failed skipped
  read -r total passed failed skipped < <(sum_counters)
  local -a names=()
  mapfile -t names < <(failed_tests)
  if [[ "${#names[@]}" -gt 0 ]]; then
    echo "failed tests:"
    local n
    for n in "${names[@]}"; do echo "  - $n"; done
    # Why, too: a CI log is often read only from its end.
    failure_messages || true
  fi
  local rc=0
  if [[ "$failed" -gt 0 ]]; then
    err "$failed test(s) failed"
    rc=1
  fi
  if [[ "$run_rc" -ne 0 && "$failed" -eq 0 ]]; then
    case "$run_rc" in
      124) err "dotnet test was stopped after CONSUMERS_TEST_TIMEOUT=${CONSUMERS_TEST_TIMEOUT:-75m}" ;;
      *)   err "dotnet test exited with code $run_rc without a failed test: build/restore error or a crashed test host (see the output above)" ;;
    esac
    rc=1
  fi
  if [[ "$total" -eq 0 || $(( passed + failed )) -eq 0 ]]; then
    err "no test ran (no results in $RESULTS_DIR)"
    rc=1
  fi
  echo "$passed passed, $failed failed, $skipped skipped"
  exit "$rc"
}

# ---- steps ------------------------------------------------------------------------------------

find_solution() {
  if [[ -n "${CONSUMERS_SOLUTION:-}" ]]; then
    echo "$CONSUMERS_SOLUTION"
  elif [[ -f "$REPO_ROOT/Consumers.sln" ]]; then
    echo "$REPO_ROOT/Consumers.sln"
  elif [[ -f "$REPO_ROOT/Consumers.slnx" ]]; then
    echo "$REPO_ROOT/Consumers.slnx"
  fi
}

main() {
  case "${1:-}" in -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0;; esac

  local solution
  solution="$(find_solution)"
  if [[ -z "$solution" || ! -e "$solution" ]]; then
    err "no solution found (Consumers.sln or Consumers.slnx in $REPO_ROOT, or CONSUMERS_SOLUTION)"
    echo "0 passed, 0 failed, 0 skipped"
    exit 1
  fi

  if [[ "${CONSUMERS_SKIP_STACK:-0}" != 1 ]]; then
    info "installing missing dependencies"
    bash "$REPO_ROOT/scripts/install-deps.sh" || { echo "0 passed, 0 failed, 0 skipped"; exit 1; }
    info "starting the local stack"
    CONSUMERS_SKIP_INSTALL=1 bash "$REPO_ROOT/scripts/stack.sh" up >/dev/null || {
      err "the stack did not start (scripts/stack.sh up)"; echo "0 passed, 0 failed, 0 skipped"; exit 1; }
    local envs
    envs="$(bash "$REPO_ROOT/scripts/stack.sh" env)" || { echo "0 passed, 0 failed, 0 skipped"; exit 1; }
    eval "$envs"
  fi

  rm -rf "$RESULTS_DIR"
  mkdir -p "$RESULTS_DIR"

  local -a args=(test "$solution" -c Release
    --logger "trx;LogFilePrefix=results"
    --logger "console;verbosity=normal"
    --results-directory "$RESULTS_DIR")
  local hang="${CONSUMERS_TEST_HANG_TIMEOUT-20m}"
  if [[ -n "$hang" ]]; then
    args+=(--blame-hang-timeout "$hang" --blame-hang-dump-type none)
  fi
  args+=("$@")

  local limit="${CONSUMERS_TEST_TIMEOUT:-75m}" rc=0
  info "dotnet ${args[*]}"
  if [[ "$limit" == 0 ]]; then
    dotnet "${args[@]}" </dev/null || rc=$?
  else
    timeout --kill-after=60s "$limit" dotnet "${args[@]}" </dev/null || rc=$?
  fi
  summary_and_exit "$rc"
}

main "$@"

#!/usr/bin/env bash
# Runs the fault suite (tests/Consumers.IntegrationTests/Faults) in its long form: the same tests the whole suite
# runs in a bounded form, plus the 5-minute PostgreSQL outage and the 10-minute idle transaction
# (CONSUMERS_FAULTS_LONG=1). Frozen and partitioned role holders and workers, database outages, starved and
# terminated connections, SIGTERM during an outage, poison jobs, and a three-node RabbitMQ cluster losing a node.
# Ends with "N passed, N failed, N skipped" like scripts/test.sh.
#
# usage: scripts/faults.sh [extra dotnet test arguments]
set -euo pipefail
export CONSUMERS_FAULTS_LONG=1
exec bash "$(dirname "${BASH_SOURCE[0]}")/test.sh" --filter "FullyQualifiedName~Consumers.IntegrationTests.Faults" "$@"

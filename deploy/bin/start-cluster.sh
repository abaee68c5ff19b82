#!/usr/bin/env bash
# Starts a standalone Eddy cluster: a JobManager on every host of
# conf/masters, then a TaskManager for every line of conf/workers (a host
# listed twice runs two TaskManagers).
#
# Usage: start-cluster.sh
#
# conf/masters lines are host[:webui-port]; a port is passed to that
# JobManager as -D rest.port=<port>. Hosts that are this machine (localhost,
# 127.0.0.1, its host names and addresses) are started directly; others with
#   ssh -n <host> "<EDDY_HOME>/bin/jobmanager.sh start ..."
# which needs password-less ssh and the distribution at the same path there.
# Environment: EDDY_CONF_DIR, EDDY_LOG_DIR, EDDY_PID_DIR, EDDY_SSH_OPTS
# (see config.sh).
set -euo pipefail

# shellcheck source=config.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/config.sh"

readMasters
readWorkers

echo "Starting cluster."

failed=0
remote_pids=()

# startOn HOST SCRIPT ARGS...: local hosts in turn, remote ones in parallel.
startOn() {
  local host="$1"
  shift
  if isLocalHost "${host}"; then
    runOnHost "${host}" bash "$@" || failed=1
  else
    runOnHost "${host}" bash "$@" &
    remote_pids+=("$!")
  fi
}

# waitRemote: waits for the ssh sessions started so far.
waitRemote() {
  local pid
  for pid in "${remote_pids[@]}"; do
    wait "${pid}" || failed=1
  done
  remote_pids=()
}

for i in "${!MASTERS[@]}"; do
  args=()
  if [[ -n "${WEBUIPORTS[${i}]}" ]]; then args+=(-D "rest.port=${WEBUIPORTS[${i}]}"); fi
  startOn "${MASTERS[${i}]}" "${EDDY_BIN_DIR}/jobmanager.sh" start "${args[@]}"
done
# TaskManagers register with a JobManager that is already up.
waitRemote

for worker in "${WORKERS[@]}"; do
  startOn "${worker}" "${EDDY_BIN_DIR}/taskmanager.sh" start
done
waitRemote

exit "${failed}"

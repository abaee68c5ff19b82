#!/usr/bin/env bash
# Stops the standalone Eddy cluster that start-cluster.sh started: every
# TaskManager on the hosts of conf/workers, then every JobManager on the
# hosts of conf/masters (taskmanager.sh / jobmanager.sh stop-all on each host,
# over ssh -n for hosts that are not this machine).
#
# Usage: stop-cluster.sh
#
# Each daemon gets SIGTERM and, if still alive after EDDY_STOP_TIMEOUT (10)
# seconds, SIGKILL. Environment: EDDY_CONF_DIR, EDDY_PID_DIR, EDDY_SSH_OPTS
# (see config.sh).
set -euo pipefail

# shellcheck source=config.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/config.sh"

readMasters
readWorkers

failed=0

# stopAllOn SCRIPT HOST...: SCRIPT stop-all once per distinct host (all local
# names count as one host), remote hosts in parallel.
stopAllOn() {
  local script="$1" host local_done=0 pids=() pid
  shift
  local -A seen=()
  for host in "$@"; do
    if isLocalHost "${host}"; then
      ((local_done)) && continue
      local_done=1
      runOnHost "${host}" bash "${script}" stop-all || failed=1
    else
      [[ -n "${seen[${host}]:-}" ]] && continue
      seen["${host}"]=1
      runOnHost "${host}" bash "${script}" stop-all &
      pids+=("$!")
    fi
  done
  for pid in "${pids[@]}"; do
    wait "${pid}" || failed=1
  done
}

stopAllOn "${EDDY_BIN_DIR}/taskmanager.sh" "${WORKERS[@]}"
stopAllOn "${EDDY_BIN_DIR}/jobmanager.sh" "${MASTERS[@]}"

exit "${failed}"

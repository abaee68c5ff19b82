#!/usr/bin/env bash
# Starts or stops a TaskManager on this host; run "start" again for more
# TaskManagers on the same host.
#
# Usage: taskmanager.sh (start|start-foreground|stop|stop-all) [args]
#
#   start             runs the taskmanager daemon in the background (see
#                     eddy-daemon.sh: pid file in $EDDY_PID_DIR, output in
#                     $EDDY_LOG_DIR/eddy-taskmanager-<n>-<host>.out)
#   start-foreground  runs it in this terminal until it exits or gets SIGTERM
#   stop              stops the taskmanager started last on this host
#   stop-all          stops every taskmanager on this host
#
# Args after the action go to the daemon, e.g.
#   taskmanager.sh start -D taskmanager.numberOfTaskSlots=4
#   taskmanager.sh stop-all
# Environment: EDDY_CONF_DIR, EDDY_LOG_DIR, EDDY_PID_DIR (see config.sh).
set -euo pipefail

USAGE="Usage: taskmanager.sh (start|start-foreground|stop|stop-all) [args]"

if [[ $# -lt 1 ]]; then
  echo "${USAGE}" >&2
  exit 1
fi
ACTION="$1"
shift

# shellcheck source=config.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/config.sh"

case "${ACTION}" in
  start | stop | stop-all)
    exec bash "${EDDY_BIN_DIR}/eddy-daemon.sh" "${ACTION}" taskmanager "$@"
    ;;
  start-foreground)
    exec "${EDDY_BIN_DIR}/taskmanager" --configDir "${EDDY_CONF_DIR}" "$@"
    ;;
  *)
    echo "${USAGE}" >&2
    exit 1
    ;;
esac

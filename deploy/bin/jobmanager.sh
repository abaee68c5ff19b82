#!/usr/bin/env bash
# Starts or stops the JobManager (Dispatcher, ResourceManager, JobMasters and
# the REST endpoint) on this host.
#
# Usage: jobmanager.sh (start|start-foreground|stop|stop-all) [args]
#
#   start             runs the jobmanager daemon in the background (see
#                     eddy-daemon.sh: pid file in $EDDY_PID_DIR, output in
#                     $EDDY_LOG_DIR/eddy-jobmanager-<n>-<host>.out)
#   start-foreground  runs it in this terminal until it exits or gets SIGTERM
#   stop              stops the jobmanager started last on this host
#   stop-all          stops every jobmanager on this host
#
# Args after the action go to the daemon, e.g.
#   jobmanager.sh start -D rest.port=8082
#   jobmanager.sh start-foreground --configDir /etc/eddy
# Environment: EDDY_CONF_DIR, EDDY_LOG_DIR, EDDY_PID_DIR (see config.sh).
set -euo pipefail

USAGE="Usage: jobmanager.sh (start|start-foreground|stop|stop-all) [args]"

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
    exec bash "${EDDY_BIN_DIR}/eddy-daemon.sh" "${ACTION}" jobmanager "$@"
    ;;
  start-foreground)
    exec "${EDDY_BIN_DIR}/jobmanager" --configDir "${EDDY_CONF_DIR}" "$@"
    ;;
  *)
    echo "${USAGE}" >&2
    exit 1
    ;;
esac

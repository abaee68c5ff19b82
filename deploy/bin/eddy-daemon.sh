#!/usr/bin/env bash
# Starts and stops Eddy daemons (jobmanager, taskmanager) on this host in the
# background; the common back end of jobmanager.sh and taskmanager.sh.
#
# Usage: eddy-daemon.sh (start|stop|stop-all) (jobmanager|taskmanager) [args]
#
#   start     runs <EDDY_HOME>/bin/<role> --configDir $EDDY_CONF_DIR [args]
#             with nohup, stdout and stderr going to
#             $EDDY_LOG_DIR/eddy-<role>-<n>-<host>.out, and appends its pid to
#             $EDDY_PID_DIR/eddy-$USER-<role>.pid. Several instances of a role
#             may run on one host; <n> counts those already running (0, 1, ...).
#   stop      stops the most recently started instance: SIGTERM, then SIGKILL
#             if it is still alive after $EDDY_STOP_TIMEOUT (10) seconds.
#   stop-all  stops every instance of the role on this host.
#
# Args after the role (e.g. -D key=value) are passed to the daemon. If
# EDDY_LOG_DIR is set in the environment, -D env.log.dir=$EDDY_LOG_DIR is
# passed too, so the daemon's own log goes to the same place.
set -euo pipefail

USAGE="Usage: eddy-daemon.sh (start|stop|stop-all) (jobmanager|taskmanager) [args]"

if [[ $# -lt 2 ]]; then
  echo "${USAGE}" >&2
  exit 1
fi
ACTION="$1"
DAEMON="$2"
shift 2

case "${DAEMON}" in
  jobmanager | taskmanager) ;;
  *)
    echo "Unknown daemon '${DAEMON}'. ${USAGE}" >&2
    exit 1
    ;;
esac

# Whether EDDY_LOG_DIR came from the user, before config.sh defaults it.
LOG_DIR_FROM_ENV="${EDDY_LOG_DIR:+yes}"

# shellcheck source=config.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/config.sh"

PID_FILE="${EDDY_PID_DIR}/eddy-${EDDY_IDENT_STRING}-${DAEMON}.pid"
BINARY="${EDDY_BIN_DIR}/${DAEMON}"

# isAlive PID: the process exists and is not a zombie (in a container whose
# init does not reap, a stopped daemon stays a zombie).
isAlive() {
  local pid="$1" stat
  kill -0 "${pid}" 2>/dev/null || return 1
  if [[ -r "/proc/${pid}/stat" ]]; then
    stat="$(cat "/proc/${pid}/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ "${stat:0:1}" != "Z" ]] || return 1
  fi
  return 0
}

# isDaemonPid PID: the process is alive and (where /proc tells) is one of our
# daemons, so a pid recycled after a reboot is never killed.
isDaemonPid() {
  local pid="$1"
  [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
  isAlive "${pid}" || return 1
  if [[ -r "/proc/${pid}/cmdline" ]]; then
    tr '\0' ' ' < "/proc/${pid}/cmdline" | grep -q -- "${DAEMON}" || return 1
  fi
  return 0
}

# livePids: the pids in the pid file that still belong to running daemons.
livePids() {
  local pid
  [[ -f "${PID_FILE}" ]] || return 0
  while IFS= read -r pid || [[ -n "${pid}" ]]; do
    if isDaemonPid "${pid}"; then printf '%s\n' "${pid}"; fi
  done < "${PID_FILE}"
}

# writePids PID...: rewrites the pid file; removes it when no pid is left.
writePids() {
  if [[ $# -eq 0 ]]; then
    rm -f -- "${PID_FILE}"
  else
    printf '%s\n' "$@" > "${PID_FILE}"
  fi
}

# lockPidFile: serialises this script's runs for one role on one host (e.g.
# two TaskManagers started over ssh at once) until the script exits.
lockPidFile() {
  mkdir -p -- "${EDDY_PID_DIR}"
  if command -v flock >/dev/null 2>&1; then
    exec {lock_fd}>> "${PID_FILE}"
    flock "${lock_fd}"
  fi
}

# rotateOutFile FILE: keeps the previous five generations as FILE.1 .. FILE.5.
rotateOutFile() {
  local file="$1" i
  [[ -f "${file}" ]] || return 0
  for ((i = 4; i >= 1; i--)); do
    if [[ -f "${file}.${i}" ]]; then mv -f -- "${file}.${i}" "${file}.$((i + 1))"; fi
  done
  mv -f -- "${file}" "${file}.1"
}

# stopPids PID...: SIGTERM to all, wait up to EDDY_STOP_TIMEOUT, then SIGKILL.
stopPids() {
  local pid waited=0 alive
  for pid in "$@"; do
    echo "Stopping ${DAEMON} daemon (pid: ${pid}) on host ${HOSTNAME}."
    kill -TERM "${pid}" 2>/dev/null || true
  done
  while true; do
    alive=()
    for pid in "$@"; do
      if isAlive "${pid}"; then alive+=("${pid}"); fi
    done
    [[ ${#alive[@]} -eq 0 ]] && return 0
    if ((waited >= EDDY_STOP_TIMEOUT * 10)); then break; fi
    sleep 0.1
    waited=$((waited + 1))
  done
  for pid in "${alive[@]}"; do
    echo "${DAEMON} daemon (pid: ${pid}) did not stop within ${EDDY_STOP_TIMEOUT} s;" \
      "killing it with SIGKILL." >&2
    kill -KILL "${pid}" 2>/dev/null || true
  done
}

start() {
  if [[ ! -x "${BINARY}" ]]; then
    echo "Cannot start ${DAEMON}: '${BINARY}' is missing or not executable." >&2
    exit 1
  fi
  mkdir -p -- "${EDDY_LOG_DIR}"
  lockPidFile
  local pids=()
  mapfile -t pids < <(livePids)
  local id=${#pids[@]}
  if [[ ${id} -gt 0 ]]; then
    echo "[INFO] ${id} instance(s) of ${DAEMON} are already running on ${HOSTNAME}."
  fi
  local out="${EDDY_LOG_DIR}/eddy-${DAEMON}-${id}-${HOSTNAME}.out"
  rotateOutFile "${out}"

  local args=(--configDir "${EDDY_CONF_DIR}")
  if [[ -n "${LOG_DIR_FROM_ENV}" ]]; then args+=(-D "env.log.dir=${EDDY_LOG_DIR}"); fi
  args+=("$@")

  echo "Starting ${DAEMON} daemon on host ${HOSTNAME}."
  # The lock descriptor must not leak into the daemon, or it would hold the
  # lock for its whole life.
  nohup "${BINARY}" "${args[@]}" > "${out}" 2>&1 < /dev/null {lock_fd}>&- &
  local pid=$!
  # A daemon that cannot start (bad flags, missing libraries) usually dies at
  # once: report it instead of recording a dead pid.
  local i
  for ((i = 0; i < 5; i++)); do
    if ! isAlive "${pid}"; then
      echo "Error starting ${DAEMON} daemon on host ${HOSTNAME}; see ${out}:" >&2
      tail -n 20 -- "${out}" >&2 || true
      writePids "${pids[@]}"
      exit 1
    fi
    sleep 0.05
  done
  pids+=("${pid}")
  writePids "${pids[@]}"
}

stop() {
  local all="$1"
  lockPidFile
  local pids=()
  mapfile -t pids < <(livePids)
  if [[ ${#pids[@]} -eq 0 ]]; then
    writePids
    echo "No ${DAEMON} daemon to stop on host ${HOSTNAME}."
    return 0
  fi
  if [[ "${all}" == "all" ]]; then
    stopPids "${pids[@]}"
    writePids
  else
    local last=$((${#pids[@]} - 1))
    stopPids "${pids[${last}]}"
    unset "pids[${last}]"
    writePids "${pids[@]}"
  fi
}

lock_fd=9  # replaced by lockPidFile's descriptor when flock is available

case "${ACTION}" in
  start) start "$@" ;;
  stop) stop one ;;
  stop-all) stop all ;;
  *)
    echo "${USAGE}" >&2
    exit 1
    ;;
esac

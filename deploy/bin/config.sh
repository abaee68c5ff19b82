#!/usr/bin/env bash
# Shared settings for Eddy's cluster scripts; sourced, never run.
#
# Sets (all but EDDY_HOME and EDDY_BIN_DIR may be preset in the environment):
#   EDDY_HOME       the distribution directory: always the parent of this bin/
#   EDDY_BIN_DIR    $EDDY_HOME/bin
#   EDDY_CONF_DIR   default $EDDY_HOME/conf
#   EDDY_LOG_DIR    default $EDDY_HOME/log
#   EDDY_PID_DIR    default /tmp
#   EDDY_IDENT_STRING  default $USER: names the pid files
#   EDDY_SSH_OPTS   extra ssh options for remote hosts (word-split)
#   EDDY_STOP_TIMEOUT  seconds to wait after SIGTERM before SIGKILL (10)
# and puts $EDDY_HOME/lib first on LD_LIBRARY_PATH.
# Defines:
#   readMasters   MASTERS=(host...) WEBUIPORTS=(port-or-empty...) from conf/masters
#   readWorkers   WORKERS=(host...) from conf/workers
#   isLocalHost HOST   true for localhost, loopback and this machine's names
# Both files hold one entry per line (masters: host[:webui-port]); blank
# lines and # comments are ignored.

# shellcheck disable=SC2034  # the variables are for the scripts sourcing this

_eddy_bin="$(cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
EDDY_HOME="$(cd -P -- "${_eddy_bin}/.." && pwd -P)"
EDDY_BIN_DIR="${EDDY_HOME}/bin"
EDDY_CONF_DIR="${EDDY_CONF_DIR:-${EDDY_HOME}/conf}"
EDDY_LOG_DIR="${EDDY_LOG_DIR:-${EDDY_HOME}/log}"
EDDY_PID_DIR="${EDDY_PID_DIR:-/tmp}"
EDDY_IDENT_STRING="${EDDY_IDENT_STRING:-${USER:-$(id -un)}}"
EDDY_SSH_OPTS="${EDDY_SSH_OPTS:-}"
EDDY_STOP_TIMEOUT="${EDDY_STOP_TIMEOUT:-10}"
HOSTNAME="${HOSTNAME:-$(hostname)}"
unset _eddy_bin
# lib/ is where job libraries find the connector libraries they link
# (libeddy-connector-*.so): a TaskManager loads a job library from a copy in a
# temporary directory, where the library's own run path may not reach them.
export LD_LIBRARY_PATH="${EDDY_HOME}/lib${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}"

# _eddyReadHostFile FILE: prints the file's entries, one per line, without
# comments, surrounding blanks or carriage returns.
_eddyReadHostFile() {
  local line
  while IFS= read -r line || [[ -n "${line}" ]]; do
    line="${line%%#*}"
    line="${line//$'\r'/}"
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    if [[ -n "${line}" ]]; then printf '%s\n' "${line}"; fi
  done < "$1"
}

readMasters() {
  local file="${EDDY_CONF_DIR}/masters" entry host port
  if [[ ! -f "${file}" ]]; then
    echo "No masters file. Please specify masters in '${file}'." >&2
    exit 1
  fi
  MASTERS=()
  WEBUIPORTS=()
  while IFS= read -r entry; do
    host="${entry}"
    port=""
    # host:port, [ipv6]:port; a bare IPv6 address has no port.
    if [[ "${entry}" =~ ^\[(.*)\]:([0-9]+)$ ]]; then
      host="${BASH_REMATCH[1]}"
      port="${BASH_REMATCH[2]}"
    elif [[ "${entry}" =~ ^([^:]+):([0-9]+)$ ]]; then
      host="${BASH_REMATCH[1]}"
      port="${BASH_REMATCH[2]}"
    fi
    MASTERS+=("${host}")
    WEBUIPORTS+=("${port}")
  done < <(_eddyReadHostFile "${file}")
  if [[ ${#MASTERS[@]} -eq 0 ]]; then
    echo "No masters listed in '${file}'." >&2
    exit 1
  fi
}

readWorkers() {
  local file="${EDDY_CONF_DIR}/workers" entry
  if [[ ! -f "${file}" ]]; then
    echo "No workers file. Please specify workers in '${file}'." >&2
    exit 1
  fi
  WORKERS=()
  while IFS= read -r entry; do
    WORKERS+=("${entry}")
  done < <(_eddyReadHostFile "${file}")
  if [[ ${#WORKERS[@]} -eq 0 ]]; then
    echo "No workers listed in '${file}'." >&2
    exit 1
  fi
}

isLocalHost() {
  local host="$1" name
  case "${host}" in
    localhost | localhost.localdomain | 127.0.0.1 | ::1 | "${HOSTNAME}") return 0 ;;
  esac
  for name in $(hostname 2>/dev/null) $(hostname -s 2>/dev/null) \
    $(hostname -I 2>/dev/null); do
    [[ "${host}" == "${name}" ]] && return 0
  done
  return 1
}

# runOnHost HOST COMMAND...: runs an Eddy script locally or over ssh -n.
runOnHost() {
  local host="$1"
  shift
  if isLocalHost "${host}"; then
    "$@"
  else
    local ssh_opts=() remote
    read -r -a ssh_opts <<< "${EDDY_SSH_OPTS}"
    printf -v remote '%q ' "$@"
    ssh -n "${ssh_opts[@]}" "${host}" -- "${remote}"
  fi
}

#!/usr/bin/env bash
# End-to-end test of the standalone cluster scripts (deploy/bin/*.sh) with fake
# daemons: builds a throw-away distribution in a temporary directory whose
# bin/jobmanager and bin/taskmanager are small bash loops, then checks that
# start-cluster.sh starts one JobManager and two TaskManagers with pid files
# and .out files, that arguments reach the daemons, that stop/stop-all stop
# the right processes (SIGKILL after the timeout for one that ignores
# SIGTERM), that stale pids are dropped, that remote hosts go through ssh -n,
# and that stop-cluster.sh leaves no process and no pid file behind.
#
# Usage: EDDY_SOURCE_DIR=/path/to/eddy tests/cluster_scripts_e2e.sh
# (EDDY_SOURCE_DIR defaults to this script's parent directory.) Exits non-zero
# on the first failed check.
set -euo pipefail

EDDY_SOURCE_DIR="${EDDY_SOURCE_DIR:-$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)}"
SCRIPTS="${EDDY_SOURCE_DIR}/deploy/bin"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/eddy-scripts-e2e.XXXXXX")"
DIST="${WORK}/dist"
export EDDY_PID_DIR="${WORK}/pids"   # never touch a real cluster's pid files
export EDDY_IDENT_STRING="e2e"
unset EDDY_CONF_DIR EDDY_LOG_DIR EDDY_HOME EDDY_SSH_OPTS
PID_JM="${EDDY_PID_DIR}/eddy-e2e-jobmanager.pid"
PID_TM="${EDDY_PID_DIR}/eddy-e2e-taskmanager.pid"
HOST="${HOSTNAME:-$(hostname)}"

# Every pid a fake daemon ever had, so cleanup can kill leftovers.
started_pids() { cat "${WORK}"/started-* 2>/dev/null || true; }

cleanup() {
  local pid
  for pid in $(started_pids); do kill -KILL "${pid}" 2>/dev/null || true; done
  rm -rf -- "${WORK}"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  echo "--- pid files:" >&2
  head -n 20 -- "${EDDY_PID_DIR}"/* >&2 2>/dev/null || true
  exit 1
}

check() {
  local what="$1"
  shift
  if ! "$@"; then fail "${what}"; fi
  echo "ok: ${what}"
}

# A stopped daemon may linger as a zombie where init does not reap; it is dead.
alive() { kill -0 "$1" 2>/dev/null && [[ "$(ps -o stat= -p "$1" 2>/dev/null)" != Z* ]]; }
dead() { ! alive "$1"; }

# pid_count FILE: live pids listed in FILE (0 when it does not exist).
pid_count() {
  local n=0 pid
  [[ -f "$1" ]] || {
    echo 0
    return
  }
  while IFS= read -r pid; do
    if alive "${pid}"; then n=$((n + 1)); fi
  done < "$1"
  echo "${n}"
}

# Processes still running from this distribution.
dist_processes() { pgrep -f -- "${DIST}/bin/(jobmanager|taskmanager)( |$)" || true; }

no_processes_left() {
  local pid
  for pid in $(started_pids); do
    if alive "${pid}"; then return 1; fi
  done
  [[ -z "$(dist_processes)" ]]
}

make_fake_daemon() {
  local role="$1" mode="$2"
  local trap_line="trap 'exit 0' TERM"
  [[ "${mode}" == "stubborn" ]] && trap_line="trap '' TERM"
  cat > "${DIST}/bin/${role}" <<EOF
#!/usr/bin/env bash
# A fake ${role}: records its pid and arguments, runs until SIGTERM.
echo "\$\$" >> "${WORK}/started-${role}"
echo "\$*" > "${WORK}/args-${role}-\$\$"
echo "fake ${role} running"
${trap_line}
while true; do sleep 0.2; done
EOF
  chmod +x "${DIST}/bin/${role}"
}

mkdir -p "${DIST}/bin" "${DIST}/conf" "${EDDY_PID_DIR}"
cp -- "${SCRIPTS}"/*.sh "${DIST}/bin/"
chmod +x "${DIST}"/bin/*.sh
make_fake_daemon jobmanager normal
make_fake_daemon taskmanager normal
printf '# the JobManager\nlocalhost:8081\n' > "${DIST}/conf/masters"
printf 'localhost\n\n  # a comment\nlocalhost   # two TaskManagers here\n' > "${DIST}/conf/workers"
: > "${DIST}/conf/config.yaml"

# --- start-cluster: 1 JobManager + 2 TaskManagers -------------------------
out="$("${DIST}/bin/start-cluster.sh")"
echo "${out}"
check "start-cluster reports the JobManager" grep -q "Starting jobmanager daemon on host" <<< "${out}"
check "start-cluster reports two TaskManagers" \
  test "$(grep -c "Starting taskmanager daemon on host" <<< "${out}")" -eq 2
check "one live JobManager pid" test "$(pid_count "${PID_JM}")" -eq 1
check "two live TaskManager pids" test "$(pid_count "${PID_TM}")" -eq 2
check "JobManager .out file" test -s "${DIST}/log/eddy-jobmanager-0-${HOST}.out"
check "TaskManager .out files numbered by instance" \
  test -s "${DIST}/log/eddy-taskmanager-0-${HOST}.out" -a \
  -s "${DIST}/log/eddy-taskmanager-1-${HOST}.out"
jm_pid="$(head -n 1 "${PID_JM}")"
check "JobManager got --configDir and the masters' web UI port" \
  grep -qx -- "--configDir ${DIST}/conf -D rest.port=8081" "${WORK}/args-jobmanager-${jm_pid}"

# --- a third TaskManager with extra args; stop takes the last one ----------
"${DIST}/bin/taskmanager.sh" start -D taskmanager.numberOfTaskSlots=3 -D "x=a b"
check "three live TaskManager pids" test "$(pid_count "${PID_TM}")" -eq 3
tm3="$(tail -n 1 "${PID_TM}")"
check "args after the action reach the daemon" grep -qx -- \
  "--configDir ${DIST}/conf -D taskmanager.numberOfTaskSlots=3 -D x=a b" \
  "${WORK}/args-taskmanager-${tm3}"
"${DIST}/bin/taskmanager.sh" stop
check "stop removed the last pid" test "$(pid_count "${PID_TM}")" -eq 2
check "stop ended the last TaskManager" dead "${tm3}"
check "stop left the other pids" bash -c "! grep -qx ${tm3} '${PID_TM}'"

# --- a stale pid is dropped on the next start ------------------------------
echo 999999 >> "${PID_TM}"
"${DIST}/bin/taskmanager.sh" start > /dev/null
check "stale pid dropped, new one recorded" test "$(wc -l < "${PID_TM}")" -eq 3
check "three live TaskManager pids again" test "$(pid_count "${PID_TM}")" -eq 3
"${DIST}/bin/taskmanager.sh" stop > /dev/null

# --- stop-cluster: nothing left ---------------------------------------------
out="$("${DIST}/bin/stop-cluster.sh")"
echo "${out}"
check "stop-cluster stopped two TaskManagers" \
  test "$(grep -c "Stopping taskmanager daemon" <<< "${out}")" -eq 2
check "stop-cluster stopped the JobManager" grep -q "Stopping jobmanager daemon" <<< "${out}"
check "no pid files left" test -z "$(ls -A "${EDDY_PID_DIR}")"
check "no daemon process left" no_processes_left
out="$("${DIST}/bin/stop-cluster.sh")"
check "stop-cluster on a stopped cluster says so" \
  grep -q "No taskmanager daemon to stop on host" <<< "${out}"

# --- a daemon that ignores SIGTERM is killed after EDDY_STOP_TIMEOUT --------
make_fake_daemon taskmanager stubborn
"${DIST}/bin/taskmanager.sh" start > /dev/null
stubborn="$(tail -n 1 "${PID_TM}")"
sleep 0.3  # let it install its trap
start_time=${SECONDS}
EDDY_STOP_TIMEOUT=1 "${DIST}/bin/taskmanager.sh" stop-all 2> "${WORK}/stderr"
check "SIGKILL after the stop timeout" dead "${stubborn}"
check "the SIGKILL is reported" grep -q "SIGKILL" "${WORK}/stderr"
check "stop-all did not wait much longer than the timeout" test $((SECONDS - start_time)) -le 5
check "stop-all removed the pid file" test ! -e "${PID_TM}"
make_fake_daemon taskmanager normal

# --- start-foreground runs in this process tree, exits 0 on SIGTERM ---------
"${DIST}/bin/taskmanager.sh" start-foreground -D a=b > "${WORK}/fg.out" &
fg_pid=$!
sleep 0.5
check "start-foreground runs the daemon without a pid file" \
  bash -c "kill -0 ${fg_pid} && test ! -e '${PID_TM}'"
check "start-foreground passes args" grep -qx -- "--configDir ${DIST}/conf -D a=b" \
  "${WORK}/args-taskmanager-${fg_pid}"
kill -TERM "${fg_pid}"
fg_status=0
wait "${fg_pid}" || fg_status=$?
check "start-foreground exits cleanly on SIGTERM" test "${fg_status}" -eq 0

# --- a missing binary is an error, not a silent stale pid -------------------
mv "${DIST}/bin/jobmanager" "${WORK}/jobmanager.bak"
if "${DIST}/bin/jobmanager.sh" start 2> "${WORK}/stderr"; then
  fail "jobmanager.sh start succeeded without a binary"
fi
check "missing binary is reported" grep -q "missing or not executable" "${WORK}/stderr"
check "no pid file for a daemon that did not start" test ! -s "${PID_JM}"
mv "${WORK}/jobmanager.bak" "${DIST}/bin/jobmanager"

# --- remote hosts go through ssh -n (a fake ssh that runs locally) ----------
mkdir -p "${WORK}/fakebin"
cat > "${WORK}/fakebin/ssh" <<EOF
#!/usr/bin/env bash
# Fake ssh: logs its arguments, runs the remote command here.
echo "\$*" >> "${WORK}/ssh.log"
[[ "\$1" == "-n" ]] || { echo "ssh called without -n" >&2; exit 2; }
while [[ "\$1" != "--" ]]; do shift; done
shift
exec bash -c "\$*" < /dev/null
EOF
chmod +x "${WORK}/fakebin/ssh"
printf 'localhost\nworker-b.invalid\nworker-b.invalid\n' > "${DIST}/conf/workers"
PATH="${WORK}/fakebin:${PATH}" EDDY_SSH_OPTS="-o BatchMode=yes" \
  "${DIST}/bin/start-cluster.sh" > /dev/null
check "ssh -n used for each remote TaskManager" \
  test "$(grep -c -- "-n -o BatchMode=yes worker-b.invalid -- bash ${DIST}/bin/taskmanager.sh start" \
    "${WORK}/ssh.log")" -eq 2
check "local hosts are not started over ssh" bash -c "! grep -q localhost '${WORK}/ssh.log'"
check "three TaskManagers (one local, two 'remote')" test "$(pid_count "${PID_TM}")" -eq 3
PATH="${WORK}/fakebin:${PATH}" "${DIST}/bin/stop-cluster.sh" > /dev/null
check "remote stop-all once per host" \
  test "$(grep -c -- "worker-b.invalid -- bash ${DIST}/bin/taskmanager.sh stop-all" \
    "${WORK}/ssh.log")" -eq 1
check "no pid files left after the mixed cluster" test -z "$(ls -A "${EDDY_PID_DIR}")"
check "no daemon process left after the mixed cluster" no_processes_left

echo "PASS: cluster scripts"

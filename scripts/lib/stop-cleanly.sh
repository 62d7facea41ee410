# Sourced by the scripts that start Gatehouse and must see it stop well.
#
# stop_cleanly PID LOG: sends SIGTERM to PID (a child of this shell: call it directly, not in
# $(...)) and waits for it; succeeds only when it exited 0 and LOG holds its "shutdown complete"
# line. Otherwise prints LOG to stderr and fails; stop_rc holds the exit status either way.
stop_rc=
stop_cleanly() {
  local pid=$1 log=$2
  stop_rc=0
  kill -TERM "$pid"
  wait "$pid" || stop_rc=$?
  if ((stop_rc != 0)) || ! grep -q '"msg":"shutdown complete"' "$log"; then
    cat "$log" >&2
    return 1
  fi
}

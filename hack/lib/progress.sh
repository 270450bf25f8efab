# Sourced by the scripts that build Go binaries (hack/lib/kube-module.sh, hack/node-binaries.sh,
# hack/kube-binaries.sh): a long step says what it does, that it is still at it, and how long it took.
#
#   with_heartbeat LABEL COMMAND...   # runs COMMAND; on stderr: "LABEL ...", a heartbeat, "LABEL: done in 93 s"
#
# The heartbeat is every 15 s on a terminal and every 60 s elsewhere (a CI log gets a few lines per
# binary, not a bar). COMMAND's exit status is returned; its own output is left as it is.

with_heartbeat() {
  local label="$1" every=60 started=$SECONDS pid beat status
  shift
  [[ -t 2 ]] && every=15
  echo "$label ..." >&2
  "$@" &
  pid=$!
  (
    while sleep "$every"; do
      echo "$label: still running ($((SECONDS - started)) s)" >&2
    done
  ) &
  beat=$!
  status=0
  wait "$pid" || status=$?
  kill "$beat" 2>/dev/null || true
  wait "$beat" 2>/dev/null || true
  if ((status == 0)); then
    echo "$label: done in $((SECONDS - started)) s" >&2
  else
    echo "$label: failed (exit $status) after $((SECONDS - started)) s" >&2
  fi
  return "$status"
}

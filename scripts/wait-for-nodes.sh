#!/usr/bin/env bash
# wait-for-nodes.sh: wait until N Bacalhau compute nodes are connected and approved.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/wait-for-nodes.sh [options] N

Poll `bacalhau node list --output json` until at least N compute nodes are CONNECTED and APPROVED
(optionally only those with a given Bacalhau label), then print them. Use it after `terraform apply`:
nodes join a few minutes after boot, once cloud-init has installed Docker and Bacalhau.

Options:
  --timeout SECONDS   give up after this long (default 900)
  --interval SECONDS  seconds between polls (default 10)
  --label KEY=VALUE   count only nodes carrying this label (e.g. role=log-node); repeatable
  --nodes-out FILE    when done, write every compute node with those labels, in any state, as
                      `bacalhau node list --output json` prints them: the nodes a job should cover, for
                      `edgelog fetch JOB --expect-nodes FILE` (a node that never ran the job is then named)
  -h, --help          show this help

Environment: BACALHAU_API_HOST, BACALHAU_API_PORT, BACALHAU_API_KEY as for the bacalhau CLI
(terraform output bacalhau_env); BACALHAU (path of the bacalhau CLI, default: found on PATH).

Exit status: 0 enough nodes joined, 1 timed out (the last state is printed), 2 usage error.

Example:
  eval "$(terraform -chdir=terraform output -raw bacalhau_env)"
  scripts/wait-for-nodes.sh --label role=log-node --nodes-out log-nodes.json \
    "$(terraform -chdir=terraform output -raw compute_node_count)"
USAGE
}

die_usage() {
  echo "wait-for-nodes.sh: $*" >&2
  echo "Try 'scripts/wait-for-nodes.sh --help'." >&2
  exit 2
}

timeout=900
interval=10
labels='{}'
want=""
nodes_out=""

while (($#)); do
  case $1 in
    -h | --help)
      usage
      exit 0
      ;;
    --timeout)
      (($# >= 2)) || die_usage "--timeout needs a value"
      timeout=$2
      shift 2
      ;;
    --interval)
      (($# >= 2)) || die_usage "--interval needs a value"
      interval=$2
      shift 2
      ;;
    --nodes-out)
      (($# >= 2)) || die_usage "--nodes-out needs a file name"
      nodes_out=$2
      shift 2
      ;;
    --label)
      (($# >= 2)) || die_usage "--label needs KEY=VALUE"
      [[ $2 =~ ^[^=]+=.*$ ]] || die_usage "--label needs KEY=VALUE, got '$2'"
      labels=$(jq -c --arg k "${2%%=*}" --arg v "${2#*=}" '. + {($k): $v}' <<<"$labels")
      shift 2
      ;;
    -*) die_usage "unknown option '$1'" ;;
    *)
      [[ -z $want ]] || die_usage "unexpected argument '$1'"
      want=$1
      shift
      ;;
  esac
done

[[ -n $want ]] || die_usage "missing N (number of compute nodes to wait for)"
[[ $want =~ ^[1-9][0-9]*$ ]] || die_usage "N must be a positive integer, got '$want'"
[[ $timeout =~ ^[1-9][0-9]*$ ]] || die_usage "--timeout must be a positive integer, got '$timeout'"
[[ $interval =~ ^[1-9][0-9]*$ ]] || die_usage "--interval must be a positive integer, got '$interval'"

bacalhau=${BACALHAU:-bacalhau}
command -v "$bacalhau" >/dev/null || die_usage "bacalhau CLI not found ('$bacalhau'); install it or set BACALHAU"
command -v jq >/dev/null || die_usage "jq not found; install jq"

# Compute nodes carrying every requested label (models.NodeState in v1.9: the connection is
# ConnectionState.Status; the top-level Connection is deprecated and only a fallback).
# shellcheck disable=SC2016  # jq programs: the $names are jq variables, not shell ones
readonly LABELLED='
  [ .[]
    | select((.Info.NodeType // "") == "Compute")
    | select(.Info.Labels as $l | $want | to_entries | all(.value == ($l[.key] // null)))
  ]
  | sort_by(.Info.NodeID)'
# ... of which those connected and approved, as "name<TAB>labels".
# shellcheck disable=SC2016
readonly READY='
  .[]
  | select((.ConnectionState.Status // .Connection // "") == "CONNECTED")
  | select((.Membership // "") == "APPROVED")
  | "\(.Info.NodeID)\t\(.Info.Labels | to_entries | map("\(.key)=\(.value)") | join(","))"'

deadline=$((SECONDS + timeout))
ready=""
while :; do
  if listing=$("$bacalhau" node list --output json 2>/dev/null) &&
    labelled=$(jq -c --argjson want "$labels" "$LABELLED" <<<"$listing" 2>/dev/null) &&
    ready=$(jq -r "$READY" <<<"$labelled" 2>/dev/null); then
    count=$(grep -c . <<<"$ready" || true)
    echo "wait-for-nodes.sh: $count/$want compute node(s) connected and approved" >&2
    if ((count >= want)); then
      if [[ -n $nodes_out ]]; then
        jq . <<<"$labelled" >"$nodes_out" || die_usage "cannot write --nodes-out '$nodes_out'"
      fi
      printf '%s\n' "$ready"
      exit 0
    fi
  else
    echo "wait-for-nodes.sh: orchestrator not answering yet (bacalhau node list failed)" >&2
  fi
  if ((SECONDS + interval > deadline)); then
    echo "wait-for-nodes.sh: timed out after ${timeout}s waiting for $want compute node(s)" >&2
    [[ -z $ready ]] || printf '%s\n' "$ready"
    exit 1
  fi
  sleep "$interval"
done

#!/usr/bin/env bash
# Entrypoint of the log-generator image. One image, two roles (docker-compose.yml runs both):
#
#   live          (default) run `edgelog generate live`, writing $EDGELOG_LIVE_DIR/access-$EDGELOG_NODE<ext>
#                 (<ext> from EDGELOG_FORMAT: .log, .jsonl for json, .csv for csv), beside it the streams of
#                 EDGELOG_STREAMS (default "error app": error-$EDGELOG_NODE.log, app-$EDGELOG_NODE.log; empty:
#                 the access log alone) and the status file
#   rotate-loop   run the rotation sidecar: edgelog-rotate every EDGELOG_ROTATE_INTERVAL seconds
#   rotate        one rotation now (edgelog-rotate), then exit
#   health        the HEALTHCHECK: `edgelog generate health` on the status file
#   anything else is executed as given (e.g. `edgelog generate backfill ...`, `bash`)
#
# Settings (log-generator/.env.example and docs/rotation.md document each): EDGELOG_NODE, EDGELOG_RATE,
# EDGELOG_FORMAT, EDGELOG_STREAMS, EDGELOG_SEED, EDGELOG_CONFIG, EDGELOG_FLAT, EDGELOG_LIVE_DIR, EDGELOG_STATUS_FILE,
# EDGELOG_HEALTH_MAX_SILENCE and the EDGELOG_* rotation settings.
set -Eeuo pipefail

ROTATION_DIR=${EDGELOG_ROTATION_LIB:-/opt/edgelog/rotation}

log_extension() {
  case ${EDGELOG_FORMAT:-combined} in
    json) echo .jsonl ;;
    csv) echo .csv ;;
    *) echo .log ;;
  esac
}

case ${1:-live} in
  live)
    shift || true
    node=${EDGELOG_NODE:-local}
    live_dir=${EDGELOG_LIVE_DIR:-/var/log/app}
    args=(generate live
      --output "$live_dir/access-$node$(log_extension)"
      --status-file "${EDGELOG_STATUS_FILE:-/var/lib/edgelog/generator.json}"
      --node "$node"
      --format "${EDGELOG_FORMAT:-combined}")
    for stream in ${EDGELOG_STREAMS-error app}; do
      case $stream in
        error | app) args+=(--format "$stream") ;;
        *)
          echo "entrypoint: EDGELOG_STREAMS: unknown stream '$stream' (use error and/or app)" >&2
          exit 2
          ;;
      esac
    done
    [[ -n ${EDGELOG_RATE:-} ]] && args+=(--rate "$EDGELOG_RATE")
    [[ -n ${EDGELOG_SEED:-} ]] && args+=(--seed "$EDGELOG_SEED")
    [[ -n ${EDGELOG_CONFIG:-} ]] && args+=(--config "$EDGELOG_CONFIG")
    [[ ${EDGELOG_FLAT:-0} == 1 ]] && args+=(--flat)
    exec edgelog "${args[@]}" "$@"
    ;;
  rotate-loop)
    exec "$ROTATION_DIR/edgelog-rotate-loop"
    ;;
  rotate)
    exec "$ROTATION_DIR/edgelog-rotate"
    ;;
  health)
    exec edgelog generate health --status-file "${EDGELOG_STATUS_FILE:-/var/lib/edgelog/generator.json}" \
      --max-silence "${EDGELOG_HEALTH_MAX_SILENCE:-30}"
    ;;
  *)
    exec "$@"
    ;;
esac

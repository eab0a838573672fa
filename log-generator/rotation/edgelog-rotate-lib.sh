# shellcheck shell=bash disable=SC2034  # the variables set here are read by the scripts sourcing this file
# Shared settings and helpers for edgelog's rotation scripts (sourced, never executed).
#
# Every setting is an environment variable with a default; docs/rotation.md documents each one.
# The same file works on a node (installed by cloud-init, run by cron as root) and in the rotation
# sidecar container (run by edgelog-rotate-loop as the non-root image user).

# Rotation stamps are UTC and numbers use '.' as decimal point whatever the host locale says.
export TZ=UTC LC_ALL=C

EDGELOG_ROTATION_LIB=${EDGELOG_ROTATION_LIB:-$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)}

# Where things are.
EDGELOG_LIVE_DIR=${EDGELOG_LIVE_DIR:-/var/log/app}
# Extensions of the live files (space-separated; one logrotate block each). Unless set explicitly they follow
# the generator's format (EDGELOG_FORMAT, as in the container) plus .log, the extension of the error and
# application logs the generator writes beside the access log; without it, every format's extension.
case ${EDGELOG_FORMAT:-} in
  json) _edgelog_ext='.jsonl .log' ;;
  csv) _edgelog_ext='.csv .log' ;;
  '') _edgelog_ext='.log .jsonl .csv' ;;
  *) _edgelog_ext=.log ;;
esac
EDGELOG_LOG_EXTENSION=${EDGELOG_LOG_EXTENSION:-$_edgelog_ext}
# Which live files to rotate; empty means "*<extension>" for each extension.
EDGELOG_LIVE_GLOB=${EDGELOG_LIVE_GLOB:-}
EDGELOG_STAGING_DIR=${EDGELOG_STAGING_DIR:-$EDGELOG_LIVE_DIR/rotated}
EDGELOG_OUTPUT_DIR=${EDGELOG_OUTPUT_DIR:-/var/log/logs_to_process}
EDGELOG_STATE_DIR=${EDGELOG_STATE_DIR:-/var/lib/edgelog}
EDGELOG_STATUS_FILE=${EDGELOG_STATUS_FILE:-$EDGELOG_STATE_DIR/generator.json}
# Prometheus textfile of the rotation (edgelog-rotate.prom), for node_exporter's textfile collector.
EDGELOG_METRICS_DIR=${EDGELOG_METRICS_DIR:-${EDGELOG_STATUS_FILE%/*}}
EDGELOG_ROTATE_TEMPLATE=${EDGELOG_ROTATE_TEMPLATE:-$EDGELOG_ROTATION_LIB/logrotate.conf.tmpl}
EDGELOG_LOGROTATE=${EDGELOG_LOGROTATE:-logrotate}

# How rotated files are finished.
EDGELOG_COMPRESS=${EDGELOG_COMPRESS:-1}
EDGELOG_GZIP_LEVEL=${EDGELOG_GZIP_LEVEL:-6}
EDGELOG_FILE_MODE=${EDGELOG_FILE_MODE:-0644}

# Waiting for the writer to let go of a rotated file.
EDGELOG_REOPEN_TIMEOUT=${EDGELOG_REOPEN_TIMEOUT:-30}
EDGELOG_STATUS_STALE_AFTER=${EDGELOG_STATUS_STALE_AFTER:-10}
EDGELOG_SETTLE_SECONDS=${EDGELOG_SETTLE_SECONDS:-2}
EDGELOG_SEND_HUP=${EDGELOG_SEND_HUP:-auto}

# Retention of published files and the disk-usage guard.
EDGELOG_RETENTION_DAYS=${EDGELOG_RETENTION_DAYS:-7}
EDGELOG_RETENTION_COUNT=${EDGELOG_RETENTION_COUNT:-10000}
EDGELOG_MAX_OUTPUT_MB=${EDGELOG_MAX_OUTPUT_MB:-0}
EDGELOG_MIN_FREE_PERCENT=${EDGELOG_MIN_FREE_PERCENT:-5}
EDGELOG_STAGING_KEEP=${EDGELOG_STAGING_KEEP:-2000}
# The parse cache jobs write (docs/analysis.md, "Parse cache"); pruned with the logs. Empty: none.
EDGELOG_PARSE_CACHE_DIR=${EDGELOG_PARSE_CACHE_DIR-/var/cache/edgelog/parse}

# Running.
EDGELOG_LOCK_TIMEOUT=${EDGELOG_LOCK_TIMEOUT:-120}
EDGELOG_ROTATE_SU=${EDGELOG_ROTATE_SU:-}
EDGELOG_SYSLOG=${EDGELOG_SYSLOG:-auto}
EDGELOG_SYSLOG_TAG=${EDGELOG_SYSLOG_TAG:-edgelog-rotate}

export EDGELOG_ROTATION_LIB EDGELOG_LIVE_DIR EDGELOG_LIVE_GLOB EDGELOG_LOG_EXTENSION EDGELOG_STAGING_DIR \
  EDGELOG_OUTPUT_DIR EDGELOG_STATE_DIR EDGELOG_STATUS_FILE EDGELOG_METRICS_DIR EDGELOG_ROTATE_TEMPLATE EDGELOG_LOGROTATE \
  EDGELOG_COMPRESS EDGELOG_GZIP_LEVEL EDGELOG_FILE_MODE EDGELOG_REOPEN_TIMEOUT EDGELOG_STATUS_STALE_AFTER \
  EDGELOG_SETTLE_SECONDS EDGELOG_SEND_HUP EDGELOG_RETENTION_DAYS EDGELOG_RETENTION_COUNT \
  EDGELOG_MAX_OUTPUT_MB EDGELOG_MIN_FREE_PERCENT EDGELOG_STAGING_KEEP EDGELOG_PARSE_CACHE_DIR \
  EDGELOG_LOCK_TIMEOUT EDGELOG_ROTATE_SU EDGELOG_SYSLOG EDGELOG_SYSLOG_TAG

# A rotated file name: <stream>-<node>-YYYYmmddTHHMMSSZ<ext>[.gz]. This is src/edgelog/naming.py's
# ROTATED_PATTERN character for character (tests/test_naming.py keeps them equal and compares matches).
EDGELOG_ROTATED_RE='^([a-z]+)-([A-Za-z0-9][A-Za-z0-9_.-]{0,62})-([0-9]{8}T[0-9]{6}Z)(\.[A-Za-z0-9]+)(\.gz)?$'

log() {
  # One line per event: UTC timestamp, level, pid, message; to stderr and (when available) syslog.
  local level=$1
  shift
  local line
  printf -v line '%s %s edgelog-rotate[%d] %s' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$level" "$$" "$*"
  # EDGELOG_LOG_FD: the wrapper's own stderr, so lines of scripts run by logrotate are not re-prefixed.
  if [[ ${EDGELOG_LOG_FD:-} =~ ^[0-9]+$ ]] && { true >&"$EDGELOG_LOG_FD"; } 2>/dev/null; then
    printf '%s\n' "$line" >&"$EDGELOG_LOG_FD"
  else
    printf '%s\n' "$line" >&2
  fi
  if [[ $EDGELOG_SYSLOG == 1 || ($EDGELOG_SYSLOG == auto && -S /dev/log) ]] && command -v logger >/dev/null; then
    logger -t "$EDGELOG_SYSLOG_TAG" -- "$level $*" 2>/dev/null || true
  fi
}

die() {
  log ERROR "$*"
  exit 1
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
is_number() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; }

# Paths end up inside a logrotate config and shell commands: allow a conservative character set only.
is_safe_path() { [[ $1 =~ ^/[A-Za-z0-9_./@+:-]*$ && $1 != *..* ]]; }

validate_settings() {
  local var
  for var in EDGELOG_LIVE_DIR EDGELOG_STAGING_DIR EDGELOG_OUTPUT_DIR EDGELOG_STATE_DIR EDGELOG_STATUS_FILE \
    EDGELOG_METRICS_DIR EDGELOG_ROTATE_TEMPLATE EDGELOG_ROTATION_LIB; do
    is_safe_path "${!var}" || die "config: $var='${!var}' must be an absolute path of letters, digits and _./@+:- (no '..')"
  done
  local ext exts
  read -r -a exts <<<"$EDGELOG_LOG_EXTENSION"
  ((${#exts[@]} >= 1)) || die "config: EDGELOG_LOG_EXTENSION is empty"
  for ext in "${exts[@]}"; do
    [[ $ext =~ ^\.[A-Za-z0-9]+$ ]] ||
      die "config: EDGELOG_LOG_EXTENSION='$EDGELOG_LOG_EXTENSION' must be extensions like '.log', '.jsonl' or '.csv'"
  done
  if [[ -n $EDGELOG_LIVE_GLOB ]]; then
    [[ $EDGELOG_LIVE_GLOB =~ ^[A-Za-z0-9_.*?@+-]+$ ]] ||
      die "config: EDGELOG_LIVE_GLOB='$EDGELOG_LIVE_GLOB' must be a file-name glob without '/' (e.g. '*.log')"
    ((${#exts[@]} == 1)) || die "config: EDGELOG_LIVE_GLOB needs a single EDGELOG_LOG_EXTENSION"
  fi
  for var in EDGELOG_REOPEN_TIMEOUT EDGELOG_STATUS_STALE_AFTER EDGELOG_SETTLE_SECONDS; do
    is_number "${!var}" || die "config: $var='${!var}' must be a number of seconds"
  done
  for var in EDGELOG_RETENTION_DAYS EDGELOG_RETENTION_COUNT EDGELOG_MAX_OUTPUT_MB EDGELOG_MIN_FREE_PERCENT \
    EDGELOG_STAGING_KEEP EDGELOG_LOCK_TIMEOUT; do
    is_uint "${!var}" || die "config: $var='${!var}' must be a whole number (0 disables where documented)"
  done
  ((EDGELOG_MIN_FREE_PERCENT < 100)) || die "config: EDGELOG_MIN_FREE_PERCENT must be below 100"
  ((EDGELOG_STAGING_KEEP >= 1)) || die "config: EDGELOG_STAGING_KEEP must be at least 1 (0 would delete every rotated file)"
  [[ -z $EDGELOG_PARSE_CACHE_DIR ]] || is_safe_path "$EDGELOG_PARSE_CACHE_DIR" ||
    die "config: EDGELOG_PARSE_CACHE_DIR='$EDGELOG_PARSE_CACHE_DIR' must be empty or an absolute path of letters, digits and _./@+:- (no '..')"
  [[ $EDGELOG_COMPRESS == 0 || $EDGELOG_COMPRESS == 1 ]] || die "config: EDGELOG_COMPRESS must be 0 or 1"
  [[ $EDGELOG_GZIP_LEVEL =~ ^[1-9]$ ]] || die "config: EDGELOG_GZIP_LEVEL must be 1..9"
  [[ $EDGELOG_FILE_MODE =~ ^0?[0-7]{3}$ ]] || die "config: EDGELOG_FILE_MODE must be an octal mode such as 0644"
  [[ $EDGELOG_SEND_HUP == auto || $EDGELOG_SEND_HUP == never ]] || die "config: EDGELOG_SEND_HUP must be auto or never"
  [[ -z $EDGELOG_ROTATE_SU || $EDGELOG_ROTATE_SU =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*\ [A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] ||
    die "config: EDGELOG_ROTATE_SU must be empty or 'user group'"
}

now_float() { printf '%s' "$EPOCHREALTIME"; }

# stamp_epoch YYYYmmddTHHMMSSZ: the Unix time of a rotation stamp.
stamp_epoch() {
  local stamp=$1
  date -u -d "${stamp:0:4}-${stamp:4:2}-${stamp:6:2} ${stamp:9:2}:${stamp:11:2}:${stamp:13:2}" +%s
}

# float_ge A B: A >= B for decimal numbers (bash arithmetic is integer only).
float_ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }

# Read the generator's status file (JSON written atomically by `edgelog generate live`) into
# ST_PID, ST_PATH, ST_INODE, ST_UPDATED, ST_STATE (starting|running|stopped).
# read_status LIVE_BASENAME: ST_PATH/ST_INODE are those of the stream written to that file name when the
# status lists it under "streams" (a generator writing the access, error and app logs tracks each); without
# one, or without "streams" (an older generator), the top-level path and inode (its first stream).
# Returns 1 when it is missing or unreadable.
read_status() {
  local content want=${1:-} rest obj
  ST_PID='' ST_PATH='' ST_INODE='' ST_UPDATED='' ST_STATE=''
  [[ -f $EDGELOG_STATUS_FILE ]] || return 1
  content=$(<"$EDGELOG_STATUS_FILE") || return 1
  content=${content//$'\n'/ }
  [[ $content =~ \"pid\"[[:space:]]*:[[:space:]]*([0-9]+) ]] && ST_PID=${BASH_REMATCH[1]}
  [[ $content =~ \"state\"[[:space:]]*:[[:space:]]*\"([a-z]*)\" ]] && ST_STATE=${BASH_REMATCH[1]}
  [[ $content =~ \"updated_ts\"[[:space:]]*:[[:space:]]*([0-9]+(\.[0-9]+)?) ]] && ST_UPDATED=${BASH_REMATCH[1]}
  if [[ -n $want && $content == *'"streams"'* ]]; then
    rest=${content#*\"streams\"}
    while [[ $rest =~ \{[^{}]*\} ]]; do
      obj=${BASH_REMATCH[0]}
      rest=${rest#*"$obj"}
      if [[ $obj =~ \"path\"[[:space:]]*:[[:space:]]*\"([^\"]*)\" && ${BASH_REMATCH[1]##*/} == "$want" ]]; then
        ST_PATH=${BASH_REMATCH[1]}
        [[ $obj =~ \"inode\"[[:space:]]*:[[:space:]]*([0-9]+) ]] && ST_INODE=${BASH_REMATCH[1]}
        break
      fi
    done
  fi
  if [[ -z $ST_PATH ]]; then
    # The top level: its "path"/"inode" keys come before "streams" only if sorted so; take the first match
    # outside the streams list.
    local top=${content%%\"streams\"*}${content#*\"streams\"*]}
    [[ $top =~ \"path\"[[:space:]]*:[[:space:]]*\"([^\"]*)\" ]] && ST_PATH=${BASH_REMATCH[1]}
    [[ $top =~ \"inode\"[[:space:]]*:[[:space:]]*([0-9]+) ]] && ST_INODE=${BASH_REMATCH[1]}
  fi
  [[ -n $ST_UPDATED ]]
}

# Print "pid fd" for every process we can see that holds PATH open for writing (best effort: in a
# container only the processes of its own pid namespace are visible; unreadable entries are skipped).
writers_of() {
  local path=$1 link pid fd flags
  while IFS= read -r link; do
    pid=${link#/proc/}
    pid=${pid%%/*}
    fd=${link##*/}
    flags=$(awk '/^flags:/ { print $2 }' "/proc/$pid/fdinfo/$fd" 2>/dev/null) || continue
    [[ -n $flags ]] || continue
    # O_ACCMODE is the low two bits: 1 = O_WRONLY, 2 = O_RDWR.
    if (((8#$flags & 3) != 0)); then
      printf '%s %s\n' "$pid" "$fd"
    fi
  done < <(find /proc/[0-9]*/fd -maxdepth 1 -lname "$path" 2>/dev/null || true)
}

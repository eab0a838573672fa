#!/usr/bin/env bash
# submit-and-fetch.sh: run an edgelog job on the Terraform-built network and fetch the merged results.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/submit-and-fetch.sh [options] [SPEC] [-- EXTRA edgelog job submit ARGS...]

Read the deployment's values from `terraform output` (results bucket, S3 region/endpoint, node role,
orchestrator address, the images the nodes pre-pull), point the bacalhau CLI at the orchestrator, then run
  edgelog job submit SPEC --var bucket=... --var image=... [--var ...] --fetch --out OUT
which checks the image is one the nodes pre-pull, takes the nodes the job should cover from
`bacalhau node list`, submits the Bacalhau job, waits for every node's execution, and downloads, verifies and
merges the per-node results (a node that declined or never ran the job is named: exit 3).
SPEC is a name in jobs/ (default access-log-report) or a YAML file.

Options:
  --image IMAGE       job image built from jobs/Dockerfile (required; or $EDGELOG_JOB_IMAGE)
  --tf-dir DIR        Terraform directory to read outputs from (default: terraform/ next to this script)
  --out DIR           where the merged results go (default: edgelog's ./results/JOB_ID)
  --var NAME=VALUE    extra template variable (e.g. since=2026-11-23T08:00:00Z); repeatable
  --timeout SECONDS   give up waiting for the job after this long (default 1800)
  --api-host HOST     BACALHAU_API_HOST to use (default: $BACALHAU_API_HOST, else terraform output
                      bacalhau_api_host; 127.0.0.1 means "through the IAP tunnel", which you start first)
  -h, --help          show this help

Environment: BACALHAU_API_KEY must hold the API key (see `terraform output -raw bacalhau_api_key_command`);
EDGELOG (path of the edgelog CLI, default: found on PATH); TERRAFORM (default: terraform).

Exit status: that of `edgelog job submit` (0 ok, 1 failed, 2 usage, 3 partial, 4 integrity), or 2 when this
script's own arguments or the Terraform outputs are wrong.

Example:
  export BACALHAU_API_KEY="$(eval "$(terraform -chdir=terraform output -raw bacalhau_api_key_command)")"
  scripts/submit-and-fetch.sh --image us-east1-docker.pkg.dev/p/edgelog/job:0.1.0 access-log-report
USAGE
}

die_usage() {
  echo "submit-and-fetch.sh: $*" >&2
  echo "Try 'scripts/submit-and-fetch.sh --help'." >&2
  exit 2
}

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
tf_dir=$script_dir/../terraform
image=${EDGELOG_JOB_IMAGE:-}
out=""
timeout=1800
api_host=${BACALHAU_API_HOST:-}
spec=""
extra_vars=()
passthrough=()

while (($#)); do
  case $1 in
    -h | --help)
      usage
      exit 0
      ;;
    --image | --tf-dir | --out | --var | --timeout | --api-host)
      (($# >= 2)) || die_usage "$1 needs a value"
      case $1 in
        --image) image=$2 ;;
        --tf-dir) tf_dir=$2 ;;
        --out) out=$2 ;;
        --var)
          [[ $2 =~ ^[A-Za-z_][A-Za-z0-9_-]*=.*$ ]] || die_usage "--var needs NAME=VALUE, got '$2'"
          extra_vars+=(--var "$2")
          ;;
        --timeout) timeout=$2 ;;
        --api-host) api_host=$2 ;;
      esac
      shift 2
      ;;
    --)
      shift
      passthrough=("$@")
      break
      ;;
    -*) die_usage "unknown option '$1'" ;;
    *)
      [[ -z $spec ]] || die_usage "unexpected argument '$1' (one SPEC only)"
      spec=$1
      shift
      ;;
  esac
done

spec=${spec:-access-log-report}
[[ -n $image ]] || die_usage "--image is required (the job image built from jobs/Dockerfile)"
[[ $timeout =~ ^[1-9][0-9]*$ ]] || die_usage "--timeout must be a positive integer, got '$timeout'"
[[ -d $tf_dir ]] || die_usage "Terraform directory '$tf_dir' does not exist (use --tf-dir)"

terraform=${TERRAFORM:-terraform}
edgelog=${EDGELOG:-edgelog}
command -v "$terraform" >/dev/null || die_usage "terraform not found ('$terraform'); set TERRAFORM"
command -v "$edgelog" >/dev/null || die_usage "edgelog CLI not found ('$edgelog'); install edgelog or set EDGELOG"
command -v jq >/dev/null || die_usage "jq not found; install jq"

outputs=$("$terraform" -chdir="$tf_dir" output -json) ||
  die_usage "could not read Terraform outputs in $tf_dir (run terraform apply first)"
tf_out() { jq -er --arg k "$1" '.[$k].value // empty' <<<"$outputs"; }

bucket_url=$(tf_out edgelog_fetch_bucket) ||
  die_usage "Terraform output edgelog_fetch_bucket is missing in $tf_dir (run terraform apply there first)"
api_port=$(tf_out bacalhau_api_port) || die_usage "Terraform output bacalhau_api_port is missing"
if [[ -z $api_host ]]; then
  api_host=$(tf_out bacalhau_api_host) || die_usage "Terraform output bacalhau_api_host is missing"
fi
pairs=$(jq -er '.job_template_vars.value | to_entries[] | "\(.key)=\(.value)"' <<<"$outputs") ||
  die_usage "Terraform output job_template_vars is missing or empty"
job_vars=()
while IFS= read -r pair; do
  job_vars+=(--var "$pair")
done <<<"$pairs"
pre_pulled=$(jq -er '.pre_pulled_images.value | join(" ")' <<<"$outputs") ||
  die_usage "Terraform output pre_pulled_images is missing"

if [[ -z ${BACALHAU_API_KEY:-} ]]; then
  echo "submit-and-fetch.sh: warning: BACALHAU_API_KEY is empty; the orchestrator will refuse the job" >&2
fi

export BACALHAU_API_HOST=$api_host BACALHAU_API_PORT=$api_port EDGELOG_BUCKET=$bucket_url
export EDGELOG_PRE_PULLED_IMAGES=$pre_pulled
cmd=("$edgelog" job submit "$spec" "${job_vars[@]}" --var "image=$image" "${extra_vars[@]}" --fetch
  --timeout "$timeout")
[[ -z $out ]] || cmd+=(--out "$out")
cmd+=("${passthrough[@]}")

echo "submit-and-fetch.sh: BACALHAU_API_HOST=$api_host BACALHAU_API_PORT=$api_port EDGELOG_BUCKET=$bucket_url" >&2
echo "submit-and-fetch.sh: running ${cmd[*]}" >&2
exec "${cmd[@]}"

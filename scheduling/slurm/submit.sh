#!/usr/bin/env bash
# Submits one night of ddrepro to Slurm: a job array of N shards, then the finish job (merge, reports,
# comparison with the last good night, history page), which starts only if every shard succeeded.
#
#   scheduling/slurm/submit.sh <root> <shards> [dd nightly flags…]
#   scheduling/slurm/submit.sh /shared/ddrepro-nightly 4 --profile proxy --tables igds/table1,cmi/table2
#
# <root> (a folder every node sees) holds nights/<UTC time>/ (shard stores, logs, report/, nightly.json),
# history/ (one store per night, behind report/history.html) and last-good.db (the last night that
# finished with exit 0: the next night's baseline). For a nightly cron entry on the login node:
#   17 2 * * *  /path/to/ddrepro/scheduling/slurm/submit.sh /shared/ddrepro-nightly 4 --profile proxy
# Environment: DD_CLI (how to call dd; default `npx -y deno@2.9.6 task dd`, run in the repository),
# SBATCH_ARGS (extra sbatch options for both jobs, e.g. "--partition=gpu --gres=gpu:1").
set -euo pipefail
if [ $# -lt 2 ] || ! [[ "$2" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 <root> <shards ≥ 1> [dd nightly flags…]" >&2
  exit 1
fi
root=$(mkdir -p "$1" && cd "$1" && pwd)
shards=$2
shift 2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
night="$root/nights/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$night"
read -r -a extra <<<"${SBATCH_ARGS:-}"

# Slurm numbers array tasks from 0; shard.sbatch runs task i as shard i+1 of N (dd's k/n is 1-based).
array=$(sbatch --parsable "${extra[@]}" --array="0-$((shards - 1))" --chdir="$repo" \
  --output="$night/shard-%a.log" "$here/shard.sbatch" "$shards" "$night" "$@")
array=${array%%;*} # "id;cluster" on multi-cluster setups
finish=$(sbatch --parsable "${extra[@]}" --dependency="afterok:$array" --kill-on-invalid-dep=yes \
  --chdir="$repo" --output="$night/finish.log" "$here/finish.sbatch" "$shards" "$night" "$root" "$@")
finish=${finish%%;*}
echo "array=$array finish=$finish night=$night"

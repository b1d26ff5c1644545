#!/usr/bin/env bash
# The demo's main job. Until the run engine lands this validates the project and prints
# its DAG; `derived run` takes over once it exists.
set -euo pipefail
derived="${1:?usage: run_demo.sh PATH/TO/derived}"
project="$(cd "$(dirname "$0")" && pwd)"
echo "== derived validate"
"$derived" validate --project "$project"
echo
echo "== derived dag"
"$derived" dag --project "$project"
echo
echo "== derived show ml.user_features"
"$derived" show ml.user_features --project "$project"

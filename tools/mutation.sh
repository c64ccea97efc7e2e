#!/usr/bin/env bash
# Mutation testing of the lifecycle and effect modules: `make mutation` (not part of CI).
#
# mutmut only imports mutated code from ./, src/ or source/, so each module runs in its own staging
# copy of the repo in which functions/ is src/. Each module gets the tests that exercise it (see
# scope_of), so that one module's run stays well within 30 minutes on a 2-core machine.
#
#   make mutation                                  # every module below
#   make mutation MODULES="sweeper/logic"          # one module
#   MUTATION_JOBS=1 make mutation                  # fewer parallel workers on a busy machine
#
# Results: .mutation/<module>/results.txt (every mutant and its verdict) and .mutation/summary.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${MUTATION_DIR:-$root/.mutation}
modules=${MODULES:-"spillway_core/event_store processor/logic sweeper/logic spillway_core/domain_store"}
jobs=${MUTATION_JOBS:-2}
mutmut=${MUTMUT:-$root/.venv/bin/mutmut}

# The tests each module is judged by: fast, deterministic tests that reach the module's code. Of the
# interleaving harness, only the scenarios that a module's races need (each checks every schedule).
scope_of() {
  local common='"tests/unit", "tests/integration/test_processor_handler.py", "tests/integration/test_sweeper.py"'
  local harness="tests/integration/test_interleavings.py"
  local failures="\"tests/integration/test_lifecycle_paths.py\", \"$harness::test_a_stale_worker_fails_an_event_another_worker_now_owns\", \"$harness::test_a_worker_the_sweeper_and_a_replay_on_one_failed_event\""
  local lease_race="\"$harness::test_two_workers_on_one_event_with_the_lease_expiring_in_between\""
  local lead_race="\"$harness::test_two_events_of_one_lead\""
  case "$1" in
    spillway_core/event_store) echo "$common, \"tests/integration/test_ingest_handler.py\", $failures, $lease_race" ;;
    sweeper/logic) echo "$common, $failures" ;;
    # The processor's branches are pinned by fast tests (tests/unit/test_apply_effect.py and the
    # failure paths); with the interleaving scenarios in scope its run took far over 30 minutes.
    processor/logic) echo "$common, \"tests/integration/test_lifecycle_paths.py\"" ;;
    # The races the domain store guards (the marker's and the versions' conditions) are pinned in one
    # schedule each by the failure paths; every schedule of them runs in CI, too slow for each mutant.
    spillway_core/domain_store) echo "$common, \"tests/integration/test_lifecycle_paths.py\"" ;;
    *) echo "$common" ;;
  esac
}

mkdir -p "$out"
: >"$out/summary.txt"
for module in $modules; do
  name=${module//\//.}
  stage=$out/$name
  rm -rf "$stage"
  mkdir -p "$stage"
  cp -r "$root/functions" "$stage/src"
  cp -r "$root/tests" "$stage/tests"
  cp "$root/pyproject.toml" "$stage/pyproject.toml"
  # Only the files that exist (the test scope names the lifecycle suites, which may not be there yet).
  scope=$(scope_of "$module" | tr ',' '\n' | tr -d ' "' | while read -r path; do
    if [ -e "$stage/${path%%::*}" ]; then printf '"%s", ' "$path"; fi
  done)
  cat >>"$stage/pyproject.toml" <<EOF

[tool.mutmut]
source_paths = ["src"]
only_mutate = ["src/$module.py"]
pytest_add_cli_args = ["-n", "0", "-p", "no:cacheprovider", "-q", "-x"]
pytest_add_cli_args_test_selection = [${scope%, }]
use_git_change_detection = false
EOF
  start=$(date +%s)
  (cd "$stage" && "$mutmut" run --max-children "$jobs" >"$stage/run.log" 2>&1) || echo "mutmut run failed for $module (see $stage/run.log)"
  (cd "$stage" && "$mutmut" results --all true >"$stage/results.txt" 2>&1) || true
  killed=$(grep -c ': killed$' "$stage/results.txt" || true)
  survived=$(grep -c ': survived$' "$stage/results.txt" || true)
  other=$(grep -v -c -E ': (killed|survived)$' "$stage/results.txt" || true)
  echo "$module: killed $killed, survived $survived, other $other, $(($(date +%s) - start)) s" | tee -a "$out/summary.txt"
done

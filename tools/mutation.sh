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
#   make mutation MODULES="spillway_core/event_store" MUTANTS="*"   # every mutant of the event store
#
# Results: .mutation/<module>/results.txt (every mutant and its verdict) and .mutation/summary.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${MUTATION_DIR:-$root/.mutation}
modules=${MODULES:-"spillway_core/event_store processor/logic sweeper/logic spillway_core/domain_store"}
jobs=${MUTATION_JOBS:-2}
mutmut=${MUTMUT:-$root/.venv/bin/mutmut}

# Which of a module's mutants are run (mutmut's name globs; MUTANTS overrides, "*" for all). The
# event store's 1,253 mutants take hours here: only its lifecycle functions are run.
mutants_of() {
  case "$1" in
    spillway_core/event_store)
      local f
      for f in event_record claim _transition _outcome mark_succeeded mark_failed mark_retry alert_sent failed_event \
        replay wake _query_due query_due count_due sweep_positions _query_intake query_intake count_intake begun \
        create_pending advance_intake_checkpoint _write; do
        printf '*EventStore?%s__mutmut_* ' "$f"
      done
      # The transitions' request builder; the transitions themselves are constants, which mutmut
      # leaves alone (tests/unit/test_transitions.py pins one whole request, the suites the rest).
      printf "*Transition?request__mutmut_* *Transition?also__mutmut_* *x__typed__mutmut_* "
      ;;
    *) echo "*" ;;
  esac
}

# The tests each module is judged by: fast, deterministic tests that reach the module's code. The
# interleaving harness checks every schedule of a race, which takes minutes for each mutant (with it,
# the sweeper's 193 mutants ran at about 1 a minute); the failure paths pin one schedule of each race
# instead (and CI runs the harness).
scope_of() {
  local common='"tests/unit", "tests/integration/test_processor_handler.py", "tests/integration/test_sweeper.py"'
  local paths='"tests/integration/test_lifecycle_paths.py"'
  case "$1" in
    # The ingest reaches put_new, the operators' commands replay, the layout test every lifecycle write,
    # the reads test what alerts and counts are told.
    spillway_core/event_store)
      echo "$common, \"tests/integration/test_ingest_handler.py\", $paths, \"tests/integration/test_cli_operations.py\", \"tests/integration/test_event_layout_cost.py\", \"tests/integration/test_event_store_reads.py\""
      ;;
    sweeper/logic | processor/logic) echo "$common, $paths" ;;
    spillway_core/domain_store) echo "$common, \"tests/integration/test_domain_writes.py\", $paths" ;;
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
  # Two unit tests read the repo as files (the import rules, functions/ being src/ here; the bench results
  # folder, not copied): they test no behaviour a mutant changes.
  cat >>"$stage/pyproject.toml" <<EOF

[tool.mutmut]
source_paths = ["src"]
only_mutate = ["src/$module.py"]
pytest_add_cli_args = ["-n", "0", "-p", "no:cacheprovider", "-q", "-x", "--ignore=tests/unit/test_import_rules.py", "--ignore=tests/unit/test_bench_results.py"]
pytest_add_cli_args_test_selection = [${scope%, }]
use_git_change_detection = false
EOF
  start=$(date +%s)
  read -r -a patterns <<<"${MUTANTS:-$(mutants_of "$module")}"
  if [ "${patterns[*]}" = "*" ]; then patterns=(); fi
  (cd "$stage" && "$mutmut" run --max-children "$jobs" "${patterns[@]}" >"$stage/run.log" 2>&1) ||
    echo "mutmut run failed for $module (see $stage/run.log)"
  (cd "$stage" && "$mutmut" results --all true >"$stage/results.txt" 2>&1) || true
  killed=$(grep -c ': killed$' "$stage/results.txt" || true)
  survived=$(grep -c ': survived$' "$stage/results.txt" || true)
  not_run=$(grep -c ': not checked$' "$stage/results.txt" || true)
  other=$(grep -v -c -E ': (killed|survived|not checked)$' "$stage/results.txt" || true)
  echo "$module: killed $killed, survived $survived, other $other, not run $not_run, $(($(date +%s) - start)) s" |
    tee -a "$out/summary.txt"
done

#!/usr/bin/env bash
# The course's outstanding GPU work as one command under a time budget, continued across sessions.
#
#   BUDGET_S=540 bash benchmarks/gpu_session.sh [STEP ...]     # default: every step, in this order
#
#   bench        bench_kernels.py --launch-sweep, ours against fla            results/h100.json, bench-h100.log
#   gpu-test     make gpu-test: the suite with the compiled-kernel tests     results/gpu-test-h100.log
#   mamba        parity_table.py: Lesson 04's Mamba row (Table 3), 3 seeds    results/parity-mamba_parity-full.json, -cuda.md
#   experiments  Lessons 08 and 11's experiments at full size, 3 seeds        results/experiments/
#   course       every notebook at SIZE=full on CUDA, one at a time           results/course-full/NAME.md
#
# A GPU lent for minutes cannot finish all of this at once, so every step stops at the budget left
# and skips what benchmarks/results/ already holds: gpu-test and bench when their log carries the
# fingerprint of the code they ran (a hash of lrnn_course/, tests/, sources/ and benchmarks/) and
# passed; a notebook once its summary is there and passed; mamba and an experiment train only the
# runs their record lacks. Commit what a session brings back and the next one goes on from there.
# With OUT set (the folder a GPU host returns), benchmarks/results/ is packed into $OUT/results.tgz
# when the script ends, however it ends; unpack it at the checkout's root.
#
# Environment: BUDGET_S (540 s in all), RESERVE_S (20 s of it kept for packing), PY (python3),
# JOBS (12 pytest workers), TRAIN_JOBS (6 runs trained at once), FORCE=1 (redo finished steps).
# A .whl folder at the checkout's root (benchmarks/README.md) is installed first, for a host
# without network.
set -uo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
BUDGET_S=${BUDGET_S:-540}
RESERVE_S=${RESERVE_S:-20}
PY=${PY:-python3}
JOBS=${JOBS:-12}
TRAIN_JOBS=${TRAIN_JOBS:-6}
FORCE=${FORCE:-0}
RESUME=(--resume)
[ "$FORCE" = 1 ] && RESUME=()
RESULTS=benchmarks/results
# The benchmark first: it takes a minute or two, while the suite is the longest step not yet timed.
ALL_STEPS=(bench gpu-test mamba experiments course)
EXPERIMENTS=(parity arithmetic arithmetic_brackets s5_only_swaps s3 cycle code_swaps code)
# Short notebooks first; Lesson 04 trains Figure 1 and the Mamba row, and Lesson 08 trains whatever
# the experiments step left undone.
NOTEBOOKS=(01 02 03 05 06 07 09 K1 K2 K3 K4 04 08)

# say: a line on the output, and in results/gpu-session.log with the date, so every session's steps
# and their timing are committed with what they wrote
say() {
  local line="[gpu-session $(( $(date +%s) - started )) s] $*"
  echo "$line"
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $line" >> "$RESULTS/gpu-session.log"
}
seconds_left() { echo $(( started + BUDGET_S - RESERVE_S - $(date +%s) )); }
# enough MIN_S: true when at least MIN_S seconds are left, else says the step is skipped
enough() {
  local left; left=$(seconds_left)
  if [ "$left" -lt "$1" ]; then say "skipped $2: ${left} s left, it needs ${1} s"; return 1; fi
}
fingerprint() {
  find lrnn_course tests sources benchmarks -name '*.py' -not -path '*/__pycache__/*' | LC_ALL=C sort | xargs cat \
    | cat - Makefile pyproject.toml | sha256sum | cut -c1-16
}
# passed_log FILE: the log was written by this code (its first line names the fingerprint) and passed
passed_log() {
  [ "$FORCE" != 1 ] && [ -f "$1" ] && head -1 "$1" | grep -qF "fingerprint $(fingerprint)" \
    && tail -1 "$1" | grep -qx "# exit status 0"
}
# logged FILE MIN_S COMMAND...: COMMAND under the budget left, its output in FILE between a header
# (fingerprint, time, GPU) and a last line with its exit status. Out of time it gets SIGINT, so
# pytest still reports what passed and how long each test took.
logged() {
  local file=$1 minimum=$2; shift 2
  enough "$minimum" "the command that writes $file" || return 1
  {
    echo "# fingerprint $(fingerprint), $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null || echo 'no GPU')"
    echo "# $*"
    timeout --signal=INT --kill-after=15 "$(seconds_left)" "$@" 2>&1
    echo "# exit status $?"
  } | tee "$file"
}
# passed_course FILE: a course summary whose row says ok with every check passed
passed_course() {
  [ "$FORCE" != 1 ] && [ -f "$1" ] && grep -Eq '^\| [^|]+ \| ok \| [^|]+ \| [^|]+ \| ([0-9]+)/\1 \|$' "$1"
}

pack() {
  if [ -n "${OUT:-}" ]; then
    tar czf "$OUT/results.tgz" "$RESULTS" && say "packed $RESULTS into $OUT/results.tgz"
  fi
}
trap pack EXIT

if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "no nvidia-smi: a GPU session needs a CUDA machine" >&2
  exit 2
fi
if [ -d .whl ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site:$PWD PATH=/tmp/site/bin:$PATH JUPYTER_PATH=/tmp/site/share/jupyter \
    && "$PY" -m ipykernel install --user --name python3 >/dev/null && say "installed the wheels of .whl"
fi
export PYTHONPATH=${PYTHONPATH:-$PWD} PYTHONUNBUFFERED=1 MPLBACKEND=Agg
mkdir -p "$RESULTS/course-full"

step_gpu_test() {
  if passed_log "$RESULTS/gpu-test-h100.log"; then say "gpu-test already passed for this code"; return; fi
  PYTEST_ADDOPTS="--durations=40" logged "$RESULTS/gpu-test-h100.log" 180 make gpu-test PY="$PY" JOBS="$JOBS"
}

step_bench() {
  if passed_log "$RESULTS/bench-h100.log"; then say "bench already ran for this code"; return; fi
  logged "$RESULTS/bench-h100.log" 120 "$PY" benchmarks/bench_kernels.py --launch-sweep
}

step_mamba() {
  enough 120 mamba || return
  # --resume: a record that has every run trains nothing
  timeout "$(seconds_left)" "$PY" benchmarks/parity_table.py --presets mamba_parity --size full --seeds 3 \
    --device cuda --jobs "$TRAIN_JOBS" "${RESUME[@]}" || say "the Mamba row stopped (status $?)"
}

step_experiments() {
  local name
  for name in "${EXPERIMENTS[@]}"; do
    enough 60 "experiment $name" || return
    # --resume: a record that has every run trains nothing
    timeout "$(seconds_left)" "$PY" -m lrnn_course experiment "$name" --size full --seeds 3 --device cuda \
      --jobs "$TRAIN_JOBS" "${RESUME[@]}" --out "$RESULTS/experiments" --quiet || say "experiment $name stopped (status $?)"
  done
  enough 60 "experiment lm" || return
  # Lesson 11's language models train one run after another: no --jobs, no --resume
  timeout "$(seconds_left)" "$PY" -m lrnn_course experiment lm --size full --seeds 3 --device cuda \
    --out "$RESULTS/experiments" --quiet || say "experiment lm stopped (status $?)"
}

step_course() {
  local notebook out
  for notebook in "${NOTEBOOKS[@]}"; do
    if passed_course "$RESULTS/course-full/$notebook.md"; then continue; fi
    enough 60 "notebook $notebook" || return
    out=build/gpu-session/course-$notebook
    rm -rf "$out"
    timeout "$(seconds_left)" "$PY" -m lrnn_course run "$notebook" --size full --device cuda --jobs "$TRAIN_JOBS" \
      --out "$out" || say "notebook $notebook did not pass (status $?)"
    # a notebook stopped by the budget writes no summary: the next session runs it again
    if [ -f "$out/summary.md" ]; then cp "$out/summary.md" "$RESULTS/course-full/$notebook.md"; fi
  done
}

steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=("${ALL_STEPS[@]}")
for step in "${steps[@]}"; do
  case "$step" in
    gpu-test|bench|mamba|experiments|course) say "step $step"; "step_${step//-/_}" ;;
    *) echo "unknown step $step; the steps are: ${ALL_STEPS[*]}" >&2; exit 2 ;;
  esac
done
say "done; $(seconds_left) s of the budget left"

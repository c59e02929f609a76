#!/usr/bin/env bash
# One call on a lent GPU machine (a copy of the working tree whose .git may be missing or stale,
# hence HARMONIC_GIT_COMMIT below; torch preinstalled):
# the CUDA variants of the tests, then the harmonic-block benchmark on CUDA. Results go to
# $OUT (the device tool's folder) or ./cuda-results. Usage, from the repository root:
#   HARMONIC_GIT_COMMIT=$(git rev-parse HEAD) bash benchmarks/cuda_session.sh [tests] [bench] [bench-graphs] [bench-extra]
set -uo pipefail
out=${OUT:-cuda-results}
mkdir -p "$out"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
parts=${*:-tests bench}
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv | tee "$out/gpu.txt"
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"
status=0
for part in $parts; do
  case $part in
    tests)  # every test with a `device` parameter, on CUDA only
      python3 -m pytest -q -p no:cacheprovider -k cuda tests/test_layers.py tests/test_harmonize.py \
        tests/test_models.py 2>&1 | tee "$out/tests.txt" || status=1 ;;
    bench)  # defaults: cuDNN heuristics, TF32 convolutions as torch ships them
      python3 benchmarks/bench_harmonic_conv.py --device cuda --json "$out/bench.json" 2>&1 \
        | tee "$out/bench.txt" || status=1 ;;
    bench-graphs)  # the same, timed as replays of captured CUDA graphs (the GPU's work alone)
      python3 benchmarks/bench_harmonic_conv.py --device cuda --cuda-graphs --json "$out/bench-graphs.json" 2>&1 \
        | tee "$out/bench-graphs.txt" || status=1 ;;
    bench-extra)  # what GPU training usually turns on: cuDNN autotuning, bfloat16 autocast
      python3 benchmarks/bench_harmonic_conv.py --device cuda --part networks --cudnn-benchmark --amp \
        --json "$out/bench-amp.json" 2>&1 | tee "$out/bench-amp.txt" || status=1 ;;
    *) echo "unknown part: $part (expected tests, bench, bench-graphs or bench-extra)" >&2; exit 2 ;;
  esac
done
exit $status

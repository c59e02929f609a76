#!/bin/bash
# before (6bb6426) and after (main HEAD) on the same machine, one after the other
PY=/work/main/.venv/bin/python
for side in before after; do
  if [ $side = before ]; then dir=/work/bench-before; else dir=/work/main; fi
  ( cd $dir && echo "== $side $(git rev-parse --short HEAD) $(date -u +%H:%M)" &&
    PYTHONPATH=$dir $PY benchmarks/bench_harmonic_conv.py --quick --threads 1 --clock cpu &&
    PYTHONPATH=$dir $PY benchmarks/bench_mlp.py --threads 1 ) > /work/bench/$side.txt 2>&1
done
echo finished > /work/bench/done

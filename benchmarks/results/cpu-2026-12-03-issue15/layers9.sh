#!/bin/bash
# Rerun of the block benchmark with more rounds: before (6bb6426) and after (f13fc6c's block, main HEAD), twice, interleaved.
PY=/work/main/.venv/bin/python
for i in 1 2; do for side in before after; do
  if [ $side = before ]; then dir=/work/bench-before; else dir=/work/main; fi
  ( cd $dir && echo "== $side $i $(git rev-parse --short HEAD) $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)" &&
    PYTHONPATH=$dir $PY benchmarks/bench_harmonic_conv.py --part layers --repeats 9 --threads 1 --clock cpu ) >> /work/bench/layers9.txt 2>&1
done; done
echo finished >> /work/bench/layers9.txt

#!/bin/bash
PY=/work/main/.venv/bin/python
for i in 1 2 3; do for side in before after; do
  if [ $side = before ]; then dir=/work/bench-before; else dir=/work/main; fi
  ( cd $dir && echo "== $side $i $(git rev-parse --short HEAD) $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)" &&
    PYTHONPATH=$dir $PY benchmarks/bench_mlp.py --threads 1 --repeats 9 | tail -2 ) >> /work/bench/mlp3.txt 2>&1
done; done
echo finished >> /work/bench/mlp3.txt

"""Where pairing rows pays in ``harmonic._fast.fold.bank_product`` (CPU, one thread): ``rows @ bank`` with a 9-wide
bank against two rows at a time by a block-diagonal bank built in the call, as ``bank_product`` does it.

    python benchmarks/results/cpu-2026-11-24/bank_product_rows.py
"""

from __future__ import annotations

import json
import statistics
import time

import torch

from harmonic.dct import dct_filters
from harmonic.results import provenance


def main() -> None:
    torch.set_num_threads(1)
    info = provenance({}, seed=0, device="cpu")
    print(json.dumps({key: info[key] for key in ("git", "versions", "hardware", "started")}))
    bank = dct_filters(3).reshape(9, 9)
    print("rows   plain us   paired us   paired/plain  (median of 15 interleaved samples)")
    for rows in (64, 256, 512, 1024, 4096, 16384, 65536):
        values = torch.randn(rows, 9, generator=torch.Generator().manual_seed(0))
        calls = max(5, 200_000 // rows)
        steps = {
            "plain": lambda: values @ bank,
            "paired": lambda: (values.reshape(-1, 18) @ torch.block_diag(bank, bank)).reshape(rows, 9),
        }
        times: dict[str, list[float]] = {name: [] for name in steps}
        for index in range(17):
            for name, step in steps.items():
                start = time.process_time()
                for _ in range(calls):
                    step()
                if index >= 2:
                    times[name].append((time.process_time() - start) / calls)
        plain, paired = (statistics.median(times[name]) * 1e6 for name in ("plain", "paired"))
        ratio = statistics.median(a / b for a, b in zip(times["paired"], times["plain"], strict=True))
        print(f"{rows:6d} {plain:10.1f} {paired:11.1f} {ratio:14.2f}")


if __name__ == "__main__":
    main()

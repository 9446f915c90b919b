"""The same ConvNet-3 as ddrepro's bench (width 128, instance norm, ReLU, avg-pool, 28x28x1), timed in
PyTorch on this machine's CPU, for throughput ratios: training steps at batch 100 and 10 (DD's IPC 1
batch), inference at 500. Prints one JSON object. `convnet3` is shared with torch_paper_eval.py."""
import json
import sys
import time

import torch
import torch.nn as nn


def convnet3():
    layers, c = [], 1
    for d in range(3):
        layers += [nn.Conv2d(c, 128, 3, padding=3 if d == 0 else 1), nn.GroupNorm(128, 128, affine=True),
                   nn.ReLU(), nn.AvgPool2d(2, 2)]
        c = 128
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(2048, 10))


def bench(fn, reps, rounds=3):
    """Seconds per call, best of `rounds` (the least disturbed by other load, as ddrepro's bench)."""
    fn()
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - t0) / reps)
    return best


def main():
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
    torch.manual_seed(0)
    net = convnet3()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def train_step(xb, yb):
        opt.zero_grad()
        nn.functional.cross_entropy(net(xb), yb).backward()
        opt.step()

    x100, y100 = torch.randn(100, 1, 28, 28), torch.randint(0, 10, (100,))
    x10, y10 = torch.randn(10, 1, 28, 28), torch.randint(0, 10, (10,))
    xi = torch.randn(500, 1, 28, 28)

    def infer():
        with torch.no_grad():
            net(xi)

    t_train = bench(lambda: train_step(x100, y100), 5)
    t_train10 = bench(lambda: train_step(x10, y10), 20)
    t_infer = bench(infer, 3)
    print(json.dumps({"torch_version": torch.__version__, "threads": torch.get_num_threads(),
                      "torch_train_img_per_s": 100 / t_train, "torch_train_b10_step_per_s": 1 / t_train10,
                      "torch_infer_img_per_s": 500 / t_infer}))


if __name__ == "__main__":
    main()

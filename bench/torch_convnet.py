"""The same ConvNet-3 as ddrepro's bench (width 128, instance norm, ReLU, avg-pool, 28x28x1), timed in
PyTorch on this machine's CPU, for throughput ratios. Prints one JSON object."""
import json
import sys
import time

import torch
import torch.nn as nn

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
torch.manual_seed(0)


def convnet3():
    layers, c = [], 1
    for d in range(3):
        layers += [nn.Conv2d(c, 128, 3, padding=3 if d == 0 else 1), nn.GroupNorm(128, 128, affine=True),
                   nn.ReLU(), nn.AvgPool2d(2, 2)]
        c = 128
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(2048, 10))


def bench(fn, reps):
    fn()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


net = convnet3()
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
xb, yb = torch.randn(100, 1, 28, 28), torch.randint(0, 10, (100,))


def train_step():
    opt.zero_grad()
    nn.functional.cross_entropy(net(xb), yb).backward()
    opt.step()


xi = torch.randn(500, 1, 28, 28)


def infer():
    with torch.no_grad():
        net(xi)


t_train = bench(train_step, 5)
t_infer = bench(infer, 3)
print(json.dumps({"torch_version": torch.__version__, "threads": torch.get_num_threads(),
                  "torch_train_img_per_s": 100 / t_train, "torch_infer_img_per_s": 500 / t_infer}))

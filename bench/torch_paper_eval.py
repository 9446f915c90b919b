"""The bench's fraction of a `paper`-protocol evaluation of an MNIST IPC 1 set in PyTorch (see
bench/paper_eval_bench.ts): ConvNet-3, 10 images of random data, DC's evaluation loop (SGD 0.01 m0.9
wd 5e-4, lr x0.1 at half with a new optimizer, DC augment crop/scale/rotate per image), holdout
accuracy every `eval_every` passes with a snapshot of the best weights, then `test_passes` test passes
(the last weights, then the best-holdout snapshot). Prints one JSON object with the wall time.

argv: threads passes eval_every holdout_images test_images test_passes"""
import copy
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

from torch_convnet import convnet3


def dc_augment(x, gen):
    """DC's utils.augment for MNIST (crop_scale_rotate): per image one of crop (pad 4 with the channel
    mean, random 28x28 window), scale (nearest resize by U(0.8, 1.2) per axis, centred) or rotate
    (integer angle in [-45, 45), filled with the mean)."""
    n, c, h, w = x.shape
    mean = x.mean(dim=(0, 2, 3))
    out = []
    for i in range(n):
        img = x[i:i + 1]
        kind = int(torch.randint(0, 3, (1,), generator=gen))
        if kind == 0:
            padded = torch.ones(1, c, h + 8, w + 8) * mean.view(1, c, 1, 1)
            padded[:, :, 4:4 + h, 4:4 + w] = img
            r, s = [int(v) for v in torch.randint(0, 8, (2,), generator=gen)]
            out.append(padded[:, :, r:r + h, s:s + w])
        elif kind == 1:
            sh, sw = [int(float(v) * h) for v in 0.8 + 0.4 * torch.rand(2, generator=gen)]
            tmp = F.interpolate(img, size=(sh, sw), mode="nearest")
            canvas = torch.zeros(1, c, max(h, sh), max(w, sw))
            r, s = (canvas.shape[2] - sh) // 2, (canvas.shape[3] - sw) // 2
            canvas[:, :, r:r + sh, s:s + sw] = tmp
            r, s = (canvas.shape[2] - h) // 2, (canvas.shape[3] - w) // 2
            out.append(canvas[:, :, r:r + h, s:s + w])
        else:
            angle = math.radians(int(torch.randint(-45, 45, (1,), generator=gen)))
            theta = torch.tensor([[math.cos(angle), -math.sin(angle), 0.0], [math.sin(angle), math.cos(angle), 0.0]])
            grid = F.affine_grid(theta.unsqueeze(0), list(img.shape), align_corners=False)
            m = mean.mean()
            out.append(F.grid_sample(img - m, grid, mode="bilinear", align_corners=False) + m)
    return torch.cat(out)


def accuracy(net, x, y, batch=500):
    net.eval()
    correct = 0
    with torch.no_grad():
        for b in range(0, len(x), batch):
            correct += int((net(x[b:b + batch]).argmax(1) == y[b:b + batch]).sum())
    net.train()
    return 100 * correct / len(x)


def main():
    threads, passes, eval_every, n_hold, n_test, test_passes = [int(a) for a in sys.argv[1:7]]
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(10, 1, 28, 28), torch.arange(10)
    xh, yh = torch.randn(n_hold, 1, 28, 28), torch.randint(0, 10, (n_hold,))
    xt, yt = torch.randn(n_test, 1, 28, 28), torch.randint(0, 10, (n_test,))
    t0 = time.perf_counter()
    net = convnet3()
    make = lambda lr: torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    opt = make(0.01)
    best, snapshot = -1.0, None
    for ep in range(passes):
        if ep == passes // 2:
            opt = make(0.001)  # DC: lr x0.1 at half, with a new optimizer
        for b in torch.randperm(10, generator=gen).split(256):
            opt.zero_grad()
            F.cross_entropy(net(dc_augment(x[b], gen)), y[b]).backward()
            opt.step()
        if (ep + 1) % eval_every == 0 or ep == passes - 1:
            acc = accuracy(net, xh, yh)
            if acc > best:
                best = acc
                snapshot = copy.deepcopy(net.state_dict()) if ep < passes - 1 else None
    accuracy(net, xt, yt)
    if test_passes > 1:
        if snapshot is not None:
            net.load_state_dict(snapshot)
        accuracy(net, xt, yt)
    print(json.dumps({"torch_paper_eval_ipc1_s": time.perf_counter() - t0}))


if __name__ == "__main__":
    main()

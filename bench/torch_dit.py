"""The bench's DiT workloads in PyTorch on this machine's CPU, for same-run ratios: one training step (the hybrid
loss L_simple + L_vb of a learned-sigma DiT at t ~ U{0..999}, AdamW) and DDIM-50 sampling with classifier-free
guidance (scale 4; conditional and null rows in one batch), on the small DiT ddrepro pretrains (8x8x4 latents).
Usage: python3 torch_dit.py <threads> '<config json>' <train batch> <sample batch>. Prints one JSON object."""
import json
import sys
import time

import numpy as np
import torch

from torch_models import DiT

torch.set_num_threads(int(sys.argv[1]))
torch.manual_seed(0)
cfg = json.loads(sys.argv[2])
train_batch, sample_batch = int(sys.argv[3]), int(sys.argv[4])
model = DiT(cfg["inputSize"], cfg["patchSize"], cfg["inChannels"], cfg["hiddenSize"], cfg["depth"], cfg["numHeads"],
            cfg["mlpRatio"], cfg["numClasses"], cfg["learnSigma"])
opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0)

T = 1000
betas = np.linspace(1e-4, 0.02, T, dtype=np.float64)
ac = np.cumprod(1 - betas)
ac_prev = np.append(1.0, ac[:-1])
post_var = betas * (1 - ac_prev) / (1 - ac)
post_logvar = np.log(np.append(post_var[1], post_var[1:]))
coef1 = betas * np.sqrt(ac_prev) / (1 - ac)
coef2 = (1 - ac_prev) * np.sqrt(1 - betas) / (1 - ac)


def col(a, t):
    return torch.from_numpy(a[t]).float().view(-1, 1, 1, 1)


def normal_kl(m1, lv1, m2, lv2):
    return 0.5 * (-1.0 + lv2 - lv1 + torch.exp(lv1 - lv2) + (m1 - m2) ** 2 * torch.exp(-lv2))


def cdf(x):
    return 0.5 * (1.0 + torch.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def decoder_nll(x, means, log_scales):
    c = x - means
    inv = torch.exp(-log_scales)
    plus, minus = cdf(inv * (c + 1 / 255)), cdf(inv * (c - 1 / 255))
    lp = torch.where(x < -0.999, torch.log(plus.clamp(min=1e-12)),
                     torch.where(x > 0.999, torch.log((1 - minus).clamp(min=1e-12)),
                                 torch.log((plus - minus).clamp(min=1e-12))))
    return -lp


def hybrid_loss(x0, y):
    n, c = x0.shape[0], x0.shape[1]
    t = torch.randint(0, T, (n,))
    tn = t.numpy()
    noise = torch.randn_like(x0)
    xt = col(np.sqrt(ac), tn) * x0 + col(np.sqrt(1 - ac), tn) * noise
    out = model(xt, t.float(), y)
    eps, v = out[:, :c], out[:, c:]
    mse = ((noise - eps) ** 2).mean()
    frac = (v + 1) / 2
    logvar = frac * col(np.log(betas), tn) + (1 - frac) * col(post_logvar, tn)
    x0_hat = col(np.sqrt(1 / ac), tn) * xt - col(np.sqrt(1 / ac - 1), tn) * eps.detach()
    mean = col(coef1, tn) * x0_hat + col(coef2, tn) * xt
    true_mean = col(coef1, tn) * x0 + col(coef2, tn) * xt
    kl = normal_kl(true_mean, col(post_logvar, tn), mean, logvar).mean(dim=(1, 2, 3)) / np.log(2.0)
    nll = decoder_nll(x0, mean, 0.5 * logvar).mean(dim=(1, 2, 3)) / np.log(2.0)
    return mse + torch.where(t == 0, nll, kl).mean()


s = cfg["inputSize"]
x0 = torch.randn(train_batch, cfg["inChannels"], s, s)
y = torch.arange(train_batch) % (cfg["numClasses"] + 1)


def train_step():
    opt.zero_grad()
    hybrid_loss(x0, y).backward()
    opt.step()


# DDIM-50 (stride 20 over the 1000 steps, eta 0) with CFG 4.
steps = list(range(0, T, T // 50))


@torch.no_grad()
def sample():
    n, c = sample_batch, cfg["inChannels"]
    x = torch.randn(n, c, s, s)
    labels = torch.cat([torch.arange(n) % cfg["numClasses"], torch.full((n,), cfg["numClasses"])])
    for i in reversed(range(len(steps))):
        t = steps[i]
        out = model(torch.cat([x, x]), torch.full((2 * n,), float(t)), labels)[:, :c]
        eps = out[n:] + 4.0 * (out[:n] - out[n:])
        a, a_prev = ac[t], (ac[steps[i - 1]] if i > 0 else 1.0)
        x0_hat = (x - np.sqrt(1 - a) * eps) / np.sqrt(a)
        x = np.sqrt(a_prev) * x0_hat + np.sqrt(1 - a_prev) * eps
    return x


def best_of(fn, reps, rounds=2):
    fn()
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - t0) / reps)
    return best


t_train = best_of(train_step, 3)
t_sample = best_of(sample, 1)
print(json.dumps({"torch_dit_train_img_per_s": train_batch / t_train,
                  "torch_dit_ddim50_img_per_s": sample_batch / t_sample}))

"""PyTorch peer of bench/encoder.cpp: the same encoder (per-subject linear adapter, residual
LayerNorm -> Linear -> GELU -> Dropout blocks, final LayerNorm + linear head), CLIP + MSE loss,
AdamW (no decay on biases/LayerNorm/logit scale), linear warm-up + cosine schedule, clip_grad_norm_.
CPU, 2 threads.
    encoder_torch.py [VOXELS LATENT BLOCKS CLIP_DIM BATCH WARMUP_STEPS TIMED_STEPS]
Prints one line: torch_samples_per_s torch_peak_mib
"""
import math
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, L, p):
        super().__init__()
        self.ln = nn.LayerNorm(L)
        self.lin = nn.Linear(L, L)
        self.drop = nn.Dropout(p)

    def forward(self, h):
        return h + self.drop(F.gelu(self.lin(self.ln(h))))


class Encoder(nn.Module):
    def __init__(self, p, L, blocks, D, dropout):
        super().__init__()
        self.adapter = nn.Linear(p, L)
        self.blocks = nn.ModuleList([Block(L, dropout) for _ in range(blocks)])
        self.ln = nn.LayerNorm(L)
        self.head = nn.Linear(L, D)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, x):
        h = self.adapter(x)
        for b in self.blocks:
            h = b(h)
        return self.head(self.ln(h))


def main():
    a = [int(v) for v in sys.argv[1:]]
    p, L, blocks, D, B, warm, timed = a + [20000, 1024, 2, 512, 128, 3, 30][len(a):]
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = Encoder(p, L, blocks, D, 0.15)
    decay = [q for n, q in model.named_parameters() if q.ndim == 2]
    no_decay = [q for n, q in model.named_parameters() if q.ndim != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}], lr=3e-4)
    total = warm + timed

    def lr_at(step):
        if step < 2:
            return (step + 1) / 2
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - 2) / max(1, total - 2))))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    X = [torch.randn(B, p) for _ in range(4)]
    T = [torch.randn(B, D) for _ in range(4)]
    labels = torch.arange(B)

    def step(x, t):
        y = model(x)
        pn, tn = F.normalize(y, dim=-1), F.normalize(t, dim=-1)
        logits = model.logit_scale.exp() * pn @ tn.T
        clip = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
        loss = clip + F.mse_loss(y, t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        return loss.item()

    model.train()
    for s in range(warm):
        step(X[s % 4], T[s % 4])
    t0 = time.perf_counter()
    for s in range(timed):
        loss = step(X[s % 4], T[s % 4])
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"encoder_torch: {timed} steps in {secs:.3f} s, last loss {loss:.4f}", file=sys.stderr)
    print(f"{timed * B / secs:.1f} {peak:.1f}")


if __name__ == "__main__":
    main()

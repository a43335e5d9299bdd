"""PyTorch peer of v2c-pretrain's model for the memory entry of bench/run.sh: one linear adapter per
subject (voxels -> latent) into the shared residual blocks and head of encoder_torch.py, CLIP + MSE
loss, AdamW (no decay on biases/LayerNorm/logit scale), clip_grad_norm_, batches of one subject at a
time, subjects in turn, on random data generated per step (no data set held). Every adapter gets
its AdamW state, as after one epoch of v2c-pretrain. CPU, 1 thread.
    pretrain_torch.py SUBJECTS VOXELS LATENT BLOCKS CLIP_DIM BATCH ROUNDS
Prints one line: torch_peak_mib model_and_optimizer_mib
"""
import math
import resource
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from encoder_torch import Block


class PretrainEncoder(nn.Module):
    def __init__(self, subjects, p, L, blocks, D, dropout):
        super().__init__()
        self.adapters = nn.ModuleList([nn.Linear(p, L) for _ in range(subjects)])
        self.blocks = nn.ModuleList([Block(L, dropout) for _ in range(blocks)])
        self.ln = nn.LayerNorm(L)
        self.head = nn.Linear(L, D)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, s, x):
        h = self.adapters[s](x)
        for b in self.blocks:
            h = b(h)
        return self.head(self.ln(h))


def main():
    subjects, p, L, blocks, D, B, rounds = [int(v) for v in sys.argv[1:8]]
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = PretrainEncoder(subjects, p, L, blocks, D, 0.15)
    decay = [q for n, q in model.named_parameters() if q.ndim == 2]
    no_decay = [q for n, q in model.named_parameters() if q.ndim != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}], lr=3e-4)
    labels = torch.arange(B)
    model.train()
    for r in range(rounds):
        for s in range(subjects):
            x, t = torch.randn(B, p), torch.randn(B, D)
            y = model(s, x)
            pn, tn = F.normalize(y, dim=-1), F.normalize(t, dim=-1)
            logits = model.logit_scale.exp() * pn @ tn.T
            loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2 + F.mse_loss(y, t)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, math.log(100))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    state = sum(q.numel() for q in model.parameters()) * 3 * 4 / 2**20  # weights + AdamW moments
    print(f"pretrain_torch: {rounds} rounds of {subjects} subjects, last loss {loss.item():.4f}", file=sys.stderr)
    print(f"{peak:.1f} {state:.1f}")


if __name__ == "__main__":
    main()

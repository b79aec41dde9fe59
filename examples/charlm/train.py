"""The editable part of the charlm example: a byte-level GPT trained for a fixed time.

Anything in this file may change: the hyperparameters below, the model, the optimiser, the
schedule. prepare.py (the corpus, the time budget, the evaluation) is fixed. The script trains
for TIME_BUDGET seconds of wall-clock time (the first step, which compiles, is not counted),
scores the model on the validation windows and prints val_bpb (the metric) with secondary
figures: params, tokens_per_s, peak_mem_mb, mfu (on a GPU whose peak is known), steps and the
seconds spent in each phase.

On a CUDA GPU it trains in bfloat16 with torch.compile; without one it falls back to the small
CPU_* model, which learns something in its 20 s on a laptop's cores.
"""

import time

STARTED = time.perf_counter()  # before the imports: startup_seconds counts them

import math  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from contextlib import nullcontext  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from prepare import TIME_BUDGET, VOCAB_SIZE, evaluate, load_train  # noqa: E402

# Model on a CUDA GPU (about 25.6M parameters)
DEPTH = 8  # transformer blocks
WIDTH = 512  # channels of the residual stream; a multiple of HEADS
HEADS = 8  # attention heads per block
CONTEXT = 512  # bytes the model sees at once, in training and in evaluation
BATCH_SIZE = 64  # windows per step

# Model on the CPU, used when there is no CUDA GPU (about 0.4M parameters)
CPU_DEPTH = 2
CPU_WIDTH = 128
CPU_HEADS = 4
CPU_CONTEXT = 128
CPU_BATCH_SIZE = 16

# Optimisation: AdamW, a linear warm-up, then a cosine decay over the time budget
LEARNING_RATE = 0.001  # peak step size
FINAL_LR_FRACTION = 0.1  # the step size at the end of the budget, as a share of the peak
WARMUP = 0.05  # share of the time budget spent raising the step size from zero
WEIGHT_DECAY = 0.1  # decoupled decay of the matrices (not of biases, norms or embeddings)
BETA1 = 0.9  # AdamW's momentum
BETA2 = 0.95  # AdamW's second-moment decay
GRAD_CLIP = 1.0  # largest gradient norm; 0 turns clipping off

# Regularisation and initialisation
DROPOUT = 0.0  # after attention and MLP, during training only
MLP_RATIO = 4  # hidden units of each MLP per channel
INIT_STD = 0.02  # spread of the initial weights

# Runtime
COMPILE = True  # torch.compile the model on a CUDA GPU
SEED = 0  # seeds the initial weights and the batches

ON_GPU = torch.cuda.is_available()
DEVICE = "cuda" if ON_GPU else "cpu"
depth, width, heads, context, batch_size = (
    (DEPTH, WIDTH, HEADS, CONTEXT, BATCH_SIZE)
    if ON_GPU
    else (CPU_DEPTH, CPU_WIDTH, CPU_HEADS, CPU_CONTEXT, CPU_BATCH_SIZE)
)
# Peak dense bfloat16 flop/s of known GPUs, for the model flops utilisation (first match wins)
PEAK_FLOPS = {
    "H200": 989e12,
    "H100 PCIe": 756e12,
    "H100": 989e12,
    "A100": 312e12,
    "L40S": 362e12,
    "L40": 181e12,
    "L4": 121e12,
    "4090": 165e12,
}


class Block(nn.Module):
    """Pre-norm attention and MLP, each added to the residual stream."""

    def __init__(self) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width)
        self.up = nn.Linear(width, MLP_RATIO * width)
        self.down = nn.Linear(MLP_RATIO * width, width)
        self.dropout = nn.Dropout(DROPOUT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, heads, c // heads).unbind(dim=2)
        q, k, v = (y.transpose(1, 2) for y in (q, k, v))  # (batch, heads, time, head size)
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.dropout(self.proj(attended.transpose(1, 2).reshape(b, t, c)))
        return x + self.dropout(self.down(F.gelu(self.up(self.norm2(x)))))


class GPT(nn.Module):
    """Byte embeddings plus learned positions, the blocks, and a head tied to the embeddings."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB_SIZE, width)
        self.position = nn.Embedding(context, width)
        self.blocks = nn.ModuleList(Block() for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, VOCAB_SIZE, bias=False)
        self.head.weight = self.embed.weight
        for name, param in self.named_parameters():
            if param.dim() == 2:
                # the layers that write into the residual stream start smaller, one per block
                scale = (
                    1 / math.sqrt(2 * depth) if name.endswith(("proj.weight", "down.weight")) else 1
                )
                nn.init.normal_(param, std=INIT_STD * scale)
            elif name.endswith("bias"):
                nn.init.zeros_(param)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(idx.shape[1], device=idx.device)
        x = self.embed(idx) + self.position(positions)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def flops_per_token(params: int) -> float:
    """Training flops per token: 6 per weight, plus attention over the context."""
    return 6 * params + 12 * depth * width * context


def peak_flops() -> float | None:
    name = torch.cuda.get_device_name() if ON_GPU else ""
    return next((flops for key, flops in PEAK_FLOPS.items() if key in name), None)


def learning_rate(progress: float) -> float:
    """Warm-up, then cosine decay to FINAL_LR_FRACTION, over the share of the budget spent."""
    if progress < WARMUP:
        return LEARNING_RATE * progress / WARMUP
    decay = (progress - WARMUP) / (1 - WARMUP)
    floor = LEARNING_RATE * FINAL_LR_FRACTION
    return floor + (LEARNING_RATE - floor) * 0.5 * (1 + math.cos(math.pi * min(decay, 1.0)))


def optimizer_for(model: nn.Module) -> torch.optim.Optimizer:
    """AdamW, with weight decay on the matrices only."""
    params = [p for p in model.parameters() if p.requires_grad]
    matrices = [p for p in params if p.dim() >= 2]
    others = [p for p in params if p.dim() < 2]
    groups = [
        {"params": matrices, "weight_decay": WEIGHT_DECAY},
        {"params": others, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=LEARNING_RATE, betas=(BETA1, BETA2), fused=ON_GPU)


def batches(data: torch.Tensor, generator: torch.Generator):
    """Endless (inputs, targets) pairs of random windows, the targets one byte ahead."""
    offsets = torch.arange(context + 1, device=data.device)
    while True:
        starts = torch.randint(len(data) - context - 1, (batch_size, 1), generator=generator)
        windows = data[starts.to(data.device) + offsets].long()
        yield windows[:, :-1], windows[:, 1:]


def main() -> None:
    seed = SEED + int(os.environ.get("OVERNIGHT_SEED", "0"))  # varies with evaluate.seeds: vary
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    if ON_GPU:
        torch.backends.cuda.matmul.allow_tf32 = True
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if ON_GPU else nullcontext()
    data = load_train().to(DEVICE)  # 10 MB: the whole corpus sits on the GPU
    model = GPT().to(DEVICE)
    params = sum(p.numel() for p in model.parameters())
    compiled = torch.compile(model) if ON_GPU and COMPILE else model
    optimizer = optimizer_for(model)

    def train_step(inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        with autocast:
            logits = compiled(inputs)
        loss = F.cross_entropy(logits.float().view(-1, VOCAB_SIZE), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if GRAD_CLIP > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        return loss

    # The clock starts after the first step, which pays for compiling
    stream = batches(data, generator)
    for group in optimizer.param_groups:
        group["lr"] = 0.0
    loss = train_step(*next(stream))
    if ON_GPU:
        torch.cuda.synchronize()
    train_start = time.perf_counter()
    startup = train_start - STARTED
    steps, elapsed = 0, 0.0
    while elapsed < TIME_BUDGET:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(elapsed / TIME_BUDGET)
        loss = train_step(*next(stream))
        steps += 1
        if steps % 100 == 0 and not math.isfinite(loss.item()):  # .item() waits for the GPU
            sys.exit(f"training diverged at step {steps} (loss {loss.item()})")
        elapsed = time.perf_counter() - train_start
    if ON_GPU:
        torch.cuda.synchronize()
    train_seconds = time.perf_counter() - train_start
    if not math.isfinite(loss.item()):
        sys.exit(f"training diverged (final loss {loss.item()})")

    model.eval()

    def predict(inputs: torch.Tensor) -> torch.Tensor:
        with autocast:  # the model as written: compiling it again for inference costs more
            return model(inputs)

    scores = evaluate(predict, context, batch_size, DEVICE)
    tokens_per_s = steps * batch_size * context / train_seconds
    print(f"val_bpb: {scores['val_bpb']:.6f}")
    print(f"train_bpb: {loss.item() / math.log(2):.4f}")  # the last batch's
    print(f"params: {params}")
    print(f"tokens_per_s: {tokens_per_s:.0f}")
    if ON_GPU:
        print(f"peak_mem_mb: {torch.cuda.max_memory_allocated() / 2**20:.0f}")
    else:
        print(f"peak_mem_mb: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
    if peak := peak_flops():
        print(f"mfu: {100 * flops_per_token(params) * tokens_per_s / peak:.2f}")
    print(f"steps: {steps}")
    print(f"train_seconds: {train_seconds:.2f}")
    print(f"startup_seconds: {startup:.2f}")
    print(f"eval_seconds: {scores['eval_seconds']:.2f}")
    print(f"total_seconds: {time.perf_counter() - STARTED:.2f}")
    print(f"device: {torch.cuda.get_device_name() if ON_GPU else 'cpu'}")


if __name__ == "__main__":
    try:
        main()
    except torch.cuda.OutOfMemoryError as error:  # one line, not a traceback, then a crash
        detail = (str(error).strip().splitlines() or ["CUDA out of memory"])[0]
        sys.exit(f"out of GPU memory: {detail} (try a smaller BATCH_SIZE, CONTEXT, WIDTH or DEPTH)")

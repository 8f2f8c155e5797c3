"""Retrain the exported model with the settings of the Convas run it came from.

    python train.py                                    # one process (GPU if there is one)
    torchrun --nproc_per_node=N train.py               # N processes, DistributedDataParallel
    python train.py --data-root DIR --epochs 5         # the full MNIST idx files in DIR
    python train.py --data-root DIR                    # a language model: ptb.{train,valid}.txt[.gz] in DIR

Data: with --data-root, the standard idx files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]: MNIST or Fashion-MNIST); without it, the small sample of
the run's data shipped in this bundle (data_sample.safetensors). Pixels go to the model as uint8 / 255, exactly as
Convas fed them. Settings come from train_config.json (the run's); flags override them.

Splits, as Convas makes them: validation is --val-fraction of the training examples (the same ones Convas held
out for the same --seed); it picks the epoch whose weights are kept and written. The test split (the t10k files,
ptb.test, or the sample's test examples) is scored once, at the end, on those weights, never during training.

Distributed: the batch size in train_config.json is the global batch; each of the N processes takes batch/N
examples of a shard chosen by rank from one permutation every process draws with the same seed, and DDP averages
the gradients, so N processes follow the same optimisation as one. Backend nccl on GPUs, gloo on CPU.
Needs only torch and safetensors; nothing here imports Convas.
"""
from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import struct
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
IDX = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
       "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


# ---- settings ------------------------------------------------------------------------------------------------

def load_settings(argv: list[str] | None = None) -> argparse.Namespace:
    """train_config.json (the run's settings) overridden by command-line flags."""
    cfg_path = HERE / "train_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8")) if cfg_path.exists() else {}
    train = cfg.get("train", {})
    ap = argparse.ArgumentParser(description="Retrain the exported Convas model (runs under torchrun too).")
    ap.add_argument("--data-root", default=None, help="folder with the MNIST-format idx files (default: the "
                    "bundled sample)")
    ap.add_argument("--epochs", type=int, default=train.get("epochs", 1))
    ap.add_argument("--batch-size", type=int, default=train.get("batch_size", 128), help="global batch size")
    ap.add_argument("--lr", type=float, default=train.get("lr", 1e-3))
    ap.add_argument("--optimizer", default=train.get("optimizer", "adam"),
                    choices=["sgd", "adam", "adamw", "rmsprop"])
    ap.add_argument("--schedule", default=train.get("schedule", "constant"),
                    choices=["constant", "step", "cosine", "onecycle"])
    ap.add_argument("--weight-decay", type=float, default=train.get("weight_decay", 0.0))
    ap.add_argument("--momentum", type=float, default=train.get("momentum", 0.9))
    ap.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=train.get("nesterov", False))
    ap.add_argument("--clip-grad-norm", type=float, default=train.get("clip_grad_norm") or 0.0)
    ap.add_argument("--label-smoothing", type=float, default=train.get("label_smoothing", 0.0))
    ap.add_argument("--augment", default=train.get("augment", "none"), choices=["none", "crop", "flip", "crop+flip"])
    ap.add_argument("--seed", type=int, default=train.get("seed", 0))
    ap.add_argument("--val-fraction", type=float, default=train.get("val_fraction", 0.1),
                    help="of the training examples held out for validation with --data-root (as Convas did)")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: no limit)")
    ap.add_argument("--lr-decay", type=float, default=train.get("lr_decay", 1.0),
                    help="multiply the lr by this once per epoch after --lr-decay-after epochs")
    ap.add_argument("--lr-decay-after", type=int, default=train.get("lr_decay_after", 0))
    ap.add_argument("--init-uniform", type=float, default=train.get("init_uniform") or 0.0,
                    help="draw every weight uniformly from [-x, x] (0: torch's initialisation)")
    ap.add_argument("--loss-sum-steps", action=argparse.BooleanOptionalAction,
                    default=train.get("loss_sum_steps", False),
                    help="language model: minimise the loss summed over a window's time steps (the PTB recipe)")
    ap.add_argument("--log-every", type=int, default=train.get("log_every", 50))
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--init", default=None, help="start from these weights (e.g. weights.safetensors) instead "
                    "of a fresh initialisation")
    ap.add_argument("--out", default="retrained.safetensors", help="where rank 0 writes the trained weights")
    args = ap.parse_args(argv)
    args.input_shape = tuple(cfg.get("input_shape", ()))
    args.task = cfg.get("task", "classification")
    args.num_classes = cfg.get("num_classes")
    args.classes = cfg.get("classes")
    return args


# ---- distributed ---------------------------------------------------------------------------------------------

def setup(device: str) -> tuple[int, int, torch.device]:
    """(rank, world size, device); joins the process group when torchrun started several processes."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available() and device != "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda was asked for but torch sees no GPU. Received: device='cuda'.")
    if cuda and world > 1 and local_rank >= torch.cuda.device_count():
        raise SystemExit(f"torchrun started more processes on this machine than it has GPUs "
                         f"({torch.cuda.device_count()}); NCCL needs one GPU per process. Use "
                         f"--nproc_per_node={torch.cuda.device_count()}, or --device cpu to train on the CPU with "
                         f"gloo. Received: LOCAL_RANK={local_rank}.")
    dev = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(dev)
    if world > 1:
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return rank, world, dev


def all_sum(values: list[float], dev: torch.device) -> list[float]:
    t = torch.tensor(values, dtype=torch.float64, device=dev)
    if dist.is_initialized():
        dist.all_reduce(t)
    return t.tolist()


# ---- data ----------------------------------------------------------------------------------------------------

def read_idx(path: Path) -> torch.Tensor:
    """An idx file (plain or .gz) as a tensor; uint8 images or labels."""
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise SystemExit(f"{path} is not an unsigned-byte idx file. Received: first bytes {raw[:4]!r}.")
    dims = struct.unpack(f">{raw[3]}I", raw[4:4 + 4 * raw[3]])
    body = raw[4 + 4 * raw[3]:]
    if len(body) != math.prod(dims):
        raise SystemExit(f"{path} is truncated: its header promises {dims} bytes of data, it holds {len(body)}.")
    return torch.frombuffer(bytearray(body), dtype=torch.uint8).reshape(dims)


def find_idx(root: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (root / name).is_file():
            return root / name
    raise SystemExit(f"{stem}[.gz] is not in {root}. Put the four MNIST-format idx files there, or leave out "
                     f"--data-root to train on the bundled sample. Received: --data-root {root}.")


def carve(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(kept, held) indices: `fraction` of range(n) held out for validation, chosen by `seed` exactly as Convas
    chooses them (engine.data.base._carve), so a run and its retraining validate on the same examples."""
    if not 0.0 < fraction < 1.0:
        raise SystemExit(f"--val-fraction must be between 0 and 1 (exclusive). Received: {fraction}.")
    n_held = max(1, int(round(n * fraction)))
    if n - n_held < 1:
        raise SystemExit(f"{n} training examples are too few to hold out {fraction:.0%} for validation.")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[n_held:], perm[:n_held]


def load_data(args: argparse.Namespace) -> tuple:
    """(x_train uint8 N×C×H×W, y_train, x_val, y_val, x_test, y_test, source) from --data-root or the bundled
    sample; x_test and y_test are None when the sample has no test split."""
    if args.data_root:
        root = Path(args.data_root).expanduser()
        parts = []
        for split in ("train", "test"):
            images, labels = (read_idx(find_idx(root, s)) for s in IDX[split])
            parts += [images.unsqueeze(1) if images.ndim == 3 else images, labels.long()]
        tr, va = carve(len(parts[0]), args.val_fraction, args.seed)
        parts = [parts[0][tr], parts[1][tr], parts[0][va], parts[1][va], parts[2], parts[3]]
        source = f"idx files in {root}"
    else:
        from safetensors.torch import load_file

        z = load_file(str(HERE / "data_sample.safetensors"))
        parts = [z["x_train"], z["y_train"].long(), z["x_val"], z["y_val"].long(), z.get("x_test"),
                 z["y_test"].long() if "y_test" in z else None]
        source = "the bundled sample"
    if args.input_shape and tuple(parts[0].shape[1:]) != args.input_shape:
        raise SystemExit(f"the data's images are {'x'.join(map(str, parts[0].shape[1:]))} but the model takes "
                         f"{'x'.join(map(str, args.input_shape))}. Use data of the model's input shape. "
                         f"Received: {source}.")
    return (*parts, source)


def augment(x: torch.Tensor, y: torch.Tensor, kind: str, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random horizontal flip, then a random shift by up to H/8 pixels (zero fill), per example, as Convas
    trains; segmentation masks (B, H, W) move with their images (filled with class 0, the background)."""
    seg = y.ndim == 3
    if "flip" in kind:
        flip = (torch.rand(x.shape[0], generator=gen) < 0.5).to(x.device)
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
        if seg:
            y = torch.where(flip[:, None, None], y.flip(2), y)
    if "crop" in kind:
        B, C, H, W = x.shape
        pad = max(1, round(H / 8))
        off = torch.randint(0, 2 * pad + 1, (2, B), generator=gen).tolist()
        xp = F.pad(x, (pad, pad, pad, pad))
        x = torch.stack([xp[i, :, r:r + H, c:c + W] for i, (r, c) in enumerate(zip(*off))])
        if seg:
            yp = F.pad(y, (pad, pad, pad, pad))
            y = torch.stack([yp[i, r:r + H, c:c + W] for i, (r, c) in enumerate(zip(*off))])
    return x, y


def keep(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the weights, on the CPU (the best epoch's, kept while training goes on)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


# ---- model, optimiser, schedule ------------------------------------------------------------------------------

def build_model(args: argparse.Namespace, dev: torch.device) -> torch.nn.Module:
    sys.path.insert(0, str(HERE))
    from model import Net

    torch.manual_seed(args.seed)  # every rank builds the same initial weights (DDP also broadcasts rank 0's)
    model = Net()
    if args.init:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(Path(args.init))))
    return model.to(dev)


def make_optimizer(args: argparse.Namespace, params) -> torch.optim.Optimizer:
    wd = args.weight_decay
    if args.optimizer == "sgd":
        return torch.optim.SGD(params, lr=args.lr, momentum=args.momentum, nesterov=args.nesterov and
                               args.momentum > 0, weight_decay=wd)
    if args.optimizer == "adam":
        return torch.optim.Adam(params, lr=args.lr, weight_decay=wd)
    if args.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=args.lr, weight_decay=wd)
    return torch.optim.RMSprop(params, lr=args.lr, alpha=0.9, weight_decay=wd)  # alpha 0.9 as Convas uses


def lr_factor(schedule: str, step: int, total: int) -> float:
    """The learning rate at `step` as a fraction of --lr (step counts from 0)."""
    t = step / max(1, total)
    if schedule == "step":
        return 1.0 if t < 0.5 else 0.1 if t < 0.75 else 0.01  # ×0.1 at 50% and again at 75%
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * t))
    if schedule == "onecycle":
        warm = 0.25  # a quarter of the steps warming up from lr/25 to lr, then cosine down to 0
        if t < warm:
            return 0.04 + 0.96 * t / warm
        return 0.5 * (1 + math.cos(math.pi * (t - warm) / (1 - warm)))
    return 1.0


def loss_and_correct(logits: torch.Tensor, y: torch.Tensor, smoothing: float = 0.0,
                     share: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Cross-entropy (per pixel for segmentation: logits B×K×H×W, y B×H×W), scaled so that DDP's average over
    the ranks is the mean over the whole global batch: `share` = world size / targets in the global batch (1.0
    for a plain mean). Also how many predictions were right, and of how many."""
    if share == 1.0:
        loss = F.cross_entropy(logits.float(), y, label_smoothing=smoothing)
    else:
        loss = F.cross_entropy(logits.float(), y, label_smoothing=smoothing, reduction="sum") * share
    right = (logits.argmax(1) == y).sum()  # a tensor: reading it waits for the GPU, so only when logging
    return loss, right, y.numel()


def steps_per_epoch(n: int, batch: int, world: int) -> int:
    """As Convas counts them: full batches plus the last partial one, unless it is too small to give every
    process an example (Convas drops a last batch of one, which BatchNorm cannot train on)."""
    rest = n % batch
    return max(1, n // batch + (1 if rest > 1 and rest >= world else 0))


def shard(n: int, batch: int, steps: int, gen: torch.Generator) -> list[torch.Tensor]:
    """The global batches of one epoch: one permutation that every process draws alike (same seed)."""
    perm = torch.randperm(n, generator=gen)
    return [perm[s * batch:(s + 1) * batch] for s in range(steps)]


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, rank: int, world: int,
             dev: torch.device, batch: int = 1000, classes: int = 0) -> dict[str, float]:
    """Mean loss and accuracy (per pixel for masks); for masks also the mean IoU over the classes present in the
    truth or the prediction (engine.train.evaluate.mean_iou), which is what Convas picks a segmenter's weights by."""
    model.eval()
    idx = torch.arange(len(x))[rank::world]
    tot_loss = tot_right = tot_n = 0.0
    K = classes if y.ndim == 3 and classes else 0
    cm = torch.zeros(K * K, dtype=torch.float64, device=dev)
    for i in range(0, len(idx), batch):
        j = idx[i:i + batch]
        xb, yb = x[j].to(dev).float().div_(255.0), y[j].to(dev)
        out = model(xb)
        loss, right, n = loss_and_correct(out, yb)
        tot_loss += float(loss) * n
        tot_right += int(right)
        tot_n += n
        if K:
            cm += torch.bincount((yb * K + out.argmax(1)).flatten(), minlength=K * K).double()
    tot_loss, tot_right, tot_n, *cells = all_sum([tot_loss, tot_right, tot_n, *cm.tolist()], dev)
    model.train()
    res = {"loss": tot_loss / max(1.0, tot_n), "acc": tot_right / max(1.0, tot_n)}
    if K:
        m = torch.tensor(cells, dtype=torch.float64).view(K, K)
        tp = m.diag()
        union = m.sum(0) + m.sum(1) - tp
        ious = (tp / union)[union > 0]
        res["miou"] = float(ious.mean()) if len(ious) else 0.0
    return res


# ---- language models ------------------------------------------------------------------------------------------

def read_text_ids(root: Path, split: str, vocab: list[str]) -> torch.Tensor:
    """ptb.<split>.txt[.gz] in root as token ids of the bundle's vocabulary: <eos> at each line end, <unk> for
    words outside it (as Convas reads text)."""
    path = next((root / n for n in (f"ptb.{split}.txt.gz", f"ptb.{split}.txt") if (root / n).is_file()), None)
    if path is None:
        raise SystemExit(f"ptb.{split}.txt[.gz] is not in {root}. Put the PTB text files there, or leave out "
                         f"--data-root to train on the bundled sample. Received: --data-root {root}.")
    with (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    index = {w: i for i, w in enumerate(vocab)}
    unk = index.get("<unk>")
    ids = [index.get(w, unk) for line in lines for w in line.split() + ["<eos>"]]
    if None in ids:
        raise SystemExit(f"{path} has words outside the vocabulary and the vocabulary has no <unk>.")
    return torch.tensor(ids, dtype=torch.int64)


def batchify(ids: torch.Tensor, batch: int) -> torch.Tensor:
    """The token stream cut into `batch` contiguous parallel streams (B, L)."""
    n = len(ids) // batch
    return ids[:n * batch].view(batch, n)


@torch.no_grad()
def evaluate_lm(model: torch.nn.Module, streams: torch.Tensor, steps: int) -> float:
    """Mean cross-entropy per word over every window in order, from a fresh state."""
    model.eval()
    if hasattr(model, "reset_state"):
        model.reset_state()
    total, n = 0.0, 0
    for i in range((streams.shape[1] - 1) // steps):
        x, y = streams[:, i * steps:(i + 1) * steps], streams[:, i * steps + 1:(i + 1) * steps + 1]
        out = model(x)
        total += F.cross_entropy(out.float().reshape(-1, out.shape[-1]), y.reshape(-1), reduction="sum").item()
        n += y.numel()
    model.train()
    return total / max(n, 1)


def train_lm(args: argparse.Namespace) -> dict:
    """Next-word training as Convas does it: B contiguous streams read in windows of T in order, the recurrent
    state carried between windows (the model detaches it) and reset every epoch, lr × lr_decay per epoch after
    lr_decay_after, perplexity = exp(mean loss per word)."""
    rank, world, dev = setup(args.device)
    if world > 1:
        raise SystemExit("train.py trains language models in one process: the carried state follows one text. "
                         "Run python train.py without torchrun.")
    if args.data_root:
        if not args.classes:
            raise SystemExit("train_config.json has no vocabulary ('classes'); --data-root needs it.")
        root = Path(args.data_root).expanduser()
        train_ids, val_ids = (read_text_ids(root, s, args.classes) for s in ("train", "valid"))
        test_path = [root / n for n in ("ptb.test.txt.gz", "ptb.test.txt") if (root / n).is_file()]
        test_ids = read_text_ids(root, "test", args.classes) if test_path else None
        source = f"text files in {root}"
    else:
        from safetensors.torch import load_file

        z = load_file(str(HERE / "data_sample.safetensors"))
        train_ids, val_ids, source = z["x_train"].long(), z["x_val"].long(), "the bundled sample"
        test_ids = z["x_test"].long() if "x_test" in z else None
    T, B = args.input_shape[0], args.batch_size
    tr, va = batchify(train_ids, B).to(dev), batchify(val_ids, B).to(dev)
    spe = (tr.shape[1] - 1) // T
    if spe < 1 or (va.shape[1] - 1) // T < 1:
        raise SystemExit(f"the text is shorter than one batch of {B} streams × {T + 1} words. Use more text or a "
                         f"smaller --batch-size.")
    model = build_model(args, dev)
    if args.init_uniform and not args.init:
        with torch.no_grad():
            for p in model.parameters():
                p.uniform_(-args.init_uniform, args.init_uniform)
    opt = make_optimizer(args, model.parameters())
    total = args.epochs * spe if not args.max_steps else min(args.epochs * spe, args.max_steps)
    te = batchify(test_ids, B).to(dev) if test_ids is not None else None
    if te is not None and (te.shape[1] - 1) // T < 1:
        te = None  # shorter than one window: nothing to score
    test_n = f" / {test_ids.numel():,} test" if te is not None else ""
    print(f"training on {source}: {train_ids.numel():,} train / {val_ids.numel():,} validation{test_n} words on "
          f"{dev}, {total} steps of {B} streams × {T} words")
    step, t0, result, best = 0, time.perf_counter(), {}, None
    for epoch in range(1, args.epochs + 1):
        if hasattr(model, "reset_state"):
            model.reset_state()
        for i in range(spe):
            if step >= total:
                break
            decay = args.lr_decay ** max(epoch - args.lr_decay_after, 0) if args.lr_decay != 1.0 else 1.0
            for g in opt.param_groups:
                g["lr"] = args.lr * lr_factor(args.schedule, step, total) * decay
            x, y = tr[:, i * T:(i + 1) * T], tr[:, i * T + 1:(i + 1) * T + 1]
            out = model(x)
            loss = F.cross_entropy(out.float().reshape(-1, out.shape[-1]), y.reshape(-1))  # mean per word
            opt.zero_grad(set_to_none=True)
            (loss * T if args.loss_sum_steps else loss).backward()  # the PTB recipe sums over the window's T steps
            if args.clip_grad_norm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad_norm)
            opt.step()
            step += 1
            if step % args.log_every == 0 or step == total:
                rate = step * B * T / (time.perf_counter() - t0)
                print(f"epoch {epoch} step {step}/{total}  loss {loss.item():.4f}  perplexity "
                      f"{math.exp(min(loss.item(), 700)):.1f}  lr {opt.param_groups[0]['lr']:.2e}  {rate:,.0f} words/s")
        val_loss = evaluate_lm(model, va, T)
        result = {"epoch": epoch, "step": step, "val_loss": val_loss, "val_ppl": math.exp(min(val_loss, 700))}
        print(f"epoch {epoch}: val loss {val_loss:.4f}  val perplexity {result['val_ppl']:.2f}")
        if best is None or val_loss < best["result"]["val_loss"]:  # lower perplexity is better
            best = {"result": result, "state": keep(model)}
        if step >= total:
            break
    if best is not None:  # the weights validation chose are the ones written and tested
        model.load_state_dict(best["state"])
        result = dict(best["result"])
        print(f"kept the weights of epoch {result['epoch']} (best validation perplexity)")
    if te is not None:
        test_loss = evaluate_lm(model, te, T)
        result |= {"test_loss": test_loss, "test_ppl": math.exp(min(test_loss, 700))}
        print(f"test, once, on those weights: loss {test_loss:.4f}  perplexity {result['test_ppl']:.2f}")
    from safetensors.torch import save_file

    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, args.out)
    print(f"wrote {args.out}")
    return result


def train(args: argparse.Namespace) -> dict:
    if args.task == "language_model":
        return train_lm(args)
    rank, world, dev = setup(args.device)
    say = print if rank == 0 else (lambda *a, **k: None)
    x_tr, y_tr, x_va, y_va, x_te, y_te, source = load_data(args)
    if dev.type == "cuda":  # uint8 images are small: hold them on the GPU, batches are then an index away
        x_tr, y_tr, x_va, y_va = (t.to(dev) for t in (x_tr, y_tr, x_va, y_va))
    model = build_model(args, dev)
    net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None) \
        if world > 1 else model
    opt = make_optimizer(args, net.parameters())
    spe = steps_per_epoch(len(x_tr), args.batch_size, world)
    total = args.epochs * spe
    if args.max_steps:
        total = min(total, args.max_steps)
    test_n = f" / {len(x_te)} test" if x_te is not None else ""
    say(f"training on {source}: {len(x_tr)} train / {len(x_va)} val{test_n} examples, {world} process(es) on {dev}, "
        f"{total} steps of global batch {args.batch_size}")
    gen = torch.Generator().manual_seed(args.seed)
    aug_gen = torch.Generator().manual_seed(args.seed * 1000 + rank)
    pixels = math.prod(y_tr.shape[1:])  # targets per example: 1, or H×W for segmentation
    step, t0, result, best = 0, time.perf_counter(), {}, None
    for epoch in range(1, args.epochs + 1):
        for batch in shard(len(x_tr), args.batch_size, spe, gen):
            if step >= total:
                break
            for g in opt.param_groups:
                g["lr"] = args.lr * lr_factor(args.schedule, step, total)
            idx = batch[rank::world]  # this process's share of the global batch
            xb = x_tr[idx].to(dev).float().div_(255.0)
            yb = y_tr[idx].to(dev)
            if args.augment != "none":
                xb, yb = augment(xb, yb, args.augment, aug_gen)
            share = world / (len(batch) * pixels) if world > 1 else 1.0
            loss, right, n = loss_and_correct(net(xb), yb, args.label_smoothing, share)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if args.clip_grad_norm:
                torch.nn.utils.clip_grad_norm_(net.parameters(), args.clip_grad_norm)
            opt.step()
            step += 1
            if step % args.log_every == 0 or step == total:
                ce_sum = loss.item() / share if world > 1 else loss.item() * n  # summed over this rank's targets
                lsum, rsum, nsum = all_sum([ce_sum, int(right), n], dev)
                rate = step * args.batch_size / (time.perf_counter() - t0)
                say(f"epoch {epoch} step {step}/{total}  loss {lsum / nsum:.4f}  acc {rsum / nsum:.3f}  "
                    f"lr {opt.param_groups[0]['lr']:.2e}  {rate:,.0f} img/s")
        val = evaluate(model, x_va, y_va, rank, world, dev, classes=args.num_classes or 0)
        result = {"epoch": epoch, "step": step, **{f"val_{k}": v for k, v in val.items()}}
        say(f"epoch {epoch}: " + "  ".join(f"val {k} {v:.4f}" for k, v in val.items()))
        score = val.get("miou", val["acc"])  # what Convas picks the weights by: mean IoU for masks, else accuracy
        if best is None or score > best["score"]:
            best = {"score": score, "result": result, "state": keep(model)}
        if step >= total:
            break
    if best is not None:  # the weights validation chose are the ones written and tested
        model.load_state_dict(best["state"])
        result = dict(best["result"])
        say(f"kept the weights of epoch {result['epoch']} (best validation "
            f"{'mean IoU' if 'val_miou' in result else 'accuracy'})")
    if x_te is not None:
        test = evaluate(model, x_te, y_te, rank, world, dev, classes=args.num_classes or 0)
        result |= {f"test_{k}": v for k, v in test.items()}
        say("test, once, on those weights: " + "  ".join(f"{k} {v:.4f}" for k, v in test.items()))
    if rank == 0:
        from safetensors.torch import save_file

        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, args.out)
        say(f"wrote {args.out}")
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return result


def main(argv: list[str] | None = None) -> int:
    train(load_settings(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A PyTorch user's training script for the XAI Lens shapes demo.

The task is the TF.js demo's (demo/README.md): which shape (circle, square, triangle) is drawn at a
random place on a textured background. The images are the TF.js demo's own training and
validation images, exported by demo/export-dataset.ts to demo/.data/shapes/ (see demo/README.md).

The model is a small residual CNN in the style of a torchvision ResNet: a conv-BN-ReLU `stem`,
two BasicBlocks (`layer1`, `layer2`, with a residual add), `avgpool` and `fc`. It takes
[N, 3, 64, 64] RGB in [0, 1] (XAI Lens preprocessing "unit") and returns logits.

Like a user who watches their model in XAI Lens while it trains, the script exports the
checkpoint to ONNX after every epoch (TorchScript exporter, opset 17, dynamic batch):

    demo/models/shapes-pytorch/model.onnx

and, at the end, also with the torch.export-based exporter (dynamo=True, its default opset):

    demo/models/shapes-pytorch-dynamo/model.onnx

each with labels.txt and metadata.json. The final weights also go to
demo/.data/pytorch/<name>.pt (git-ignored), which demo/pytorch/make_references.py reads.

Usage (from the repository root, after the dataset export):

    python demo/pytorch/train.py                   # the shapes model, ~2-3 minutes on one core
    python demo/pytorch/train.py --random-labels   # its data-randomization twin (permuted labels)

Seeded and deterministic on the CPU: a rerun writes the same weights.
"""

import argparse
import json
import os
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "demo", ".data", "shapes")
MODELS = os.path.join(ROOT, "demo", "models")
LABELS = ["circle", "square", "triangle"]
SEED = 20240611


class BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock: two 3x3 conv-BN, a residual add, ReLU."""

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=False)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ShapesResNet(nn.Module):
    """stem (4x4 stride 2) 32x32x16 -> layer1 32x32x16 -> layer2 16x16x32 -> avgpool -> fc (logits)."""

    def __init__(self, num_classes=3, widths=(16, 32)):
        super().__init__()
        w1, w2 = widths
        # A 4x4 stride-2 stem with padding 1: on an even-sized input, output cell i is centred
        # between input pixels 2i and 2i+1, as a half-pixel-centred upsampling of the maps assumes.
        self.stem = nn.Sequential(nn.Conv2d(3, w1, 4, 2, 1, bias=False), nn.BatchNorm2d(w1), nn.ReLU(inplace=False))
        self.layer1 = BasicBlock(w1, w1)
        self.layer2 = BasicBlock(w1, w2, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(w2, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.stem(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def load_split(name):
    images = np.load(os.path.join(DATA, f"{name}_images.npy"))  # uint8 [N, 64, 64, 3]
    labels = np.load(os.path.join(DATA, f"{name}_labels.npy")).astype(np.int64)  # -1: no shape
    # NHWC uint8 -> NCHW float in [0, 1]: what torchvision's ToTensor() gives.
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255.0).contiguous()
    return x, torch.from_numpy(labels)


def write_sidecars(out_dir, description, extra=None):
    with open(os.path.join(out_dir, "labels.txt"), "w") as f:
        f.write("\n".join(LABELS) + "\n")
    meta = {"labels": LABELS, "preprocess": "unit", "inputSize": [64, 64], "description": description, "seed": SEED}
    meta.update(extra or {})
    with open(os.path.join(out_dir, "metadata.json"), "w") as f:
        f.write(json.dumps(meta, indent=2) + "\n")


def export_onnx(model, path, dynamo):
    """Exports `model` (eval mode) to `path`, through a temporary file so a watcher never reads half a file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    was_training = model.training
    model.eval()
    dummy = torch.zeros(1, 3, 64, 64)
    with torch.no_grad():
        if dynamo:
            torch.onnx.export(model, (dummy,), tmp, dynamo=True, external_data=False, input_names=["input"],
                              output_names=["logits"], dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1, max=1024)}}, verbose=False)
        else:
            torch.onnx.export(model, (dummy,), tmp, dynamo=False, opset_version=17, input_names=["input"],
                              output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    if dynamo:
        # The torch.export-based exporter records each node's Python stack trace, with the
        # absolute paths of this script and of the installed torch; keep the module scopes
        # (pkg.torch.onnx.name_scopes), drop the traces.
        m = onnx.load(tmp)
        for node in m.graph.node:
            keep = [p for p in node.metadata_props if p.key != "pkg.torch.onnx.stack_trace"]
            del node.metadata_props[:]
            node.metadata_props.extend(keep)
        onnx.save(m, tmp)
    os.replace(tmp, path)
    model.train(was_training)


@torch.no_grad()
def accuracy(model, x, y):
    model.eval()
    pred = torch.cat([model(x[i:i + 250]).argmax(1) for i in range(0, len(x), 250)])
    model.train()
    keep = y >= 0
    return (pred[keep] == y[keep]).float().mean().item()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--random-labels", action="store_true", help="train the data-randomization twin on permuted labels")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)

    x_train, y_train = load_split("train")
    x_val, y_val = load_split("val")
    name = "shapes-pytorch-random-labels" if args.random_labels else "shapes-pytorch"
    if args.random_labels:
        # Every label, the shape-free images' -1 included, goes to a random image.
        y_true = y_train
        y_train = y_train[torch.from_numpy(np.random.RandomState(SEED + 6).permutation(len(y_train)))]
        print(f"labels permuted: {(y_train == y_true).float().mean().item():.1%} kept their label")

    model = ShapesResNet()
    print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters, "
          f"{len(x_train)} training images ({int((y_train >= 0).sum())} with a shape), {len(x_val)} validation")
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = (len(x_train) + args.batch_size - 1) // args.batch_size
    total = steps_per_epoch * args.epochs
    # One epoch of linear warm-up, then cosine decay to 2% (make-fixtures.ts' schedule).
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.1 + 0.9 * s / steps_per_epoch if s < steps_per_epoch
                                              else 0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * (s - steps_per_epoch) / max(1, total - steps_per_epoch))))
    gen = torch.Generator().manual_seed(SEED + 3)
    out_dir = os.path.join(MODELS, name)
    t_start = time.time()
    val_acc = 0.0
    for epoch in range(1, args.epochs + 1):
        t0 = time.time()
        model.train()
        order = torch.randperm(len(x_train), generator=gen)
        loss_sum = 0.0
        for i in range(0, len(order), args.batch_size):
            idx = order[i:i + args.batch_size]
            logits = model(x_train[idx])
            # One-vs-rest, as the TF.js demo model is trained: each logit must rise with its own
            # shape; the shape-free images (label -1) are negatives for every class. With a plain
            # softmax a class can win by the absence of the others, and its Grad-CAM then lights
            # up the background.
            target = F.one_hot(y_train[idx].clamp(min=0), 3).float() * (y_train[idx] >= 0).float()[:, None]
            loss = F.binary_cross_entropy_with_logits(logits, target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
        val_acc = accuracy(model, x_val, y_val)
        # The checkpoint XAI Lens watches: the open panel re-explains when this file changes.
        export_onnx(model, os.path.join(out_dir, "model.onnx"), dynamo=False)
        print(f"epoch {epoch}/{args.epochs}: loss {loss_sum / len(order):.4f}, val acc {val_acc:.1%}, "
              f"{time.time() - t0:.0f} s; wrote {os.path.relpath(os.path.join(out_dir, 'model.onnx'), ROOT)}")
    train_seconds = time.time() - t_start

    arch = ("A small torchvision-style ResNet (stem, layer1, layer2 BasicBlocks, avgpool, fc) returning logits; "
            "input [N, 3, 64, 64] RGB in [0, 1]; last spatial module layer2 (32x16x16).")
    task = "which shape (circle, square, triangle) is drawn at a random place on a textured background"
    if args.random_labels:
        acc_perm = accuracy(model, x_train, y_train)
        desc = (f"Data-randomization twin of the PyTorch shapes demo model: the same network and training images, "
                f"trained on permuted labels, so it knows nothing about shapes. {arch} Made by demo/pytorch/train.py "
                f"--random-labels (ONNX, TorchScript exporter, opset 17); training accuracy {acc_perm:.1%} on the "
                f"permuted labels, validation accuracy {val_acc:.1%} on {len(x_val)} synthetic images (chance 33.3%).")
        write_sidecars(out_dir, desc, {"outputActivation": "softmax", "randomLabels": {
            "twinOf": "shapes-pytorch", "permutationSeed": SEED + 6, "epochs": args.epochs,
            "trainAccuracy": round(acc_perm, 4), "validationAccuracy": round(val_acc, 4)}})
    else:
        desc = (f"Demo model, PyTorch: {task}. {arch} Made by demo/pytorch/train.py, exported with "
                f"torch.onnx.export (TorchScript exporter, opset 17, dynamic batch); validation accuracy "
                f"{val_acc:.1%} on {len(x_val)} synthetic images.")
        write_sidecars(out_dir, desc, {"outputActivation": "softmax"})
        dyn_dir = os.path.join(MODELS, "shapes-pytorch-dynamo")
        export_onnx(model, os.path.join(dyn_dir, "model.onnx"), dynamo=True)
        write_sidecars(dyn_dir, desc.replace("TorchScript exporter, opset 17", "torch.export-based exporter, dynamo=True, default opset"),
                       {"outputActivation": "softmax"})
        print(f"wrote {os.path.relpath(os.path.join(dyn_dir, 'model.onnx'), ROOT)}")
    os.makedirs(os.path.join(ROOT, "demo", ".data", "pytorch"), exist_ok=True)
    torch.save(model.state_dict(), os.path.join(ROOT, "demo", ".data", "pytorch", f"{name}.pt"))
    print(f"trained in {train_seconds:.0f} s; validation accuracy {val_acc:.2%}")


if __name__ == "__main__":
    main()

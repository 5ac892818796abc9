"""Reference outputs computed by PyTorch itself (and onnxruntime) for the PyTorch demo models, on
the demo images, for XAI Lens' tests to compare against. Writes demo/models/<model>/reference/:

    input.npy, logits.npy, probabilities.npy, top_class.npy, layer2.npy, input_gradient.npy,
    gradcam_layer2.npy, onnxruntime_logits.npy and README.md (what each file holds)

for shapes-pytorch and shapes-pytorch-dynamo (the same weights, two exporters), and
shapes-pytorch-random-labels if it has been trained. The PyTorch values come from the trained
weights demo/pytorch/train.py left in demo/.data/pytorch/<model>.pt; onnxruntime's logits from
each model.onnx. The images are demo/.data/shapes/demo_images.npy: demo/images/* as XAI Lens'
own decoder reads them (demo/export-dataset.ts). Usage, from the repository root:

    python demo/pytorch/make_references.py
"""

import json
import os
import sys

import numpy as np
import onnxruntime as ort
import torch

sys.dont_write_bytecode = True  # no __pycache__ in the demo folder
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train import DATA, MODELS, ROOT, LABELS, ShapesResNet  # noqa: E402

LAYER = "layer2"  # the last spatial module: [N, 32, 16, 16]
MODELS_AND_WEIGHTS = [
    ("shapes-pytorch", "shapes-pytorch"),
    ("shapes-pytorch-dynamo", "shapes-pytorch"),
    ("shapes-pytorch-random-labels", "shapes-pytorch-random-labels"),
]


def references(model, x_nhwc):
    """Logits, probabilities, the layer's activation, the input gradient and Grad-CAM of the top class."""
    x = torch.from_numpy(x_nhwc).permute(0, 3, 1, 2).contiguous().requires_grad_(True)  # NCHW, as the model takes it
    store = {}

    def hook(_module, _inputs, output):
        output.retain_grad()
        store["a"] = output

    handle = getattr(model, LAYER).register_forward_hook(hook)
    logits = model(x)
    handle.remove()
    top = logits.argmax(1)
    # The images are independent in eval mode, so the gradient of the sum is each image's own.
    logits.gather(1, top[:, None]).sum().backward()
    a, da = store["a"], store["a"].grad
    # Grad-CAM (Selvaraju et al.): ReLU(sum_c mean_hw(dlogit/dA_c) * A_c), at the layer's resolution.
    cam = torch.relu((da.mean(dim=(2, 3), keepdim=True) * a).sum(1))
    return {
        "logits": logits.detach().numpy(),
        "probabilities": torch.softmax(logits, 1).detach().numpy(),
        "top_class": top.numpy().astype(np.int64),
        LAYER: a.detach().numpy(),
        "input_gradient": x.grad.numpy(),
        f"gradcam_{LAYER}": cam.detach().numpy(),
    }


def main():
    torch.set_num_threads(1)
    images = np.load(os.path.join(DATA, "demo_images.npy"))  # uint8 [9, 64, 64, 3]
    listing = json.load(open(os.path.join(DATA, "demo_images.json")))["images"]
    files = [e["file"] for e in listing]
    # Preprocessing "unit": pixels / 255 in float32, NHWC, as XAI Lens feeds the model.
    x_nhwc = images.astype(np.float32) / np.float32(255)
    for name, weights in MODELS_AND_WEIGHTS:
        onnx_path = os.path.join(MODELS, name, "model.onnx")
        pt = os.path.join(ROOT, "demo", ".data", "pytorch", f"{weights}.pt")
        if not (os.path.exists(onnx_path) and os.path.exists(pt)):
            print(f"skipped {name}: no model.onnx or trained weights")
            continue
        model = ShapesResNet()
        model.load_state_dict(torch.load(pt))
        model.eval()
        refs = {"input": x_nhwc, **references(model, x_nhwc)}
        sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        refs["onnxruntime_logits"] = sess.run(None, {sess.get_inputs()[0].name: np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2))})[0]
        out = os.path.join(MODELS, name, "reference")
        os.makedirs(out, exist_ok=True)
        for k, v in refs.items():
            np.save(os.path.join(out, f"{k}.npy"), v)
        diff = float(np.abs(refs["onnxruntime_logits"] - refs["logits"]).max())
        n = len(files)
        pred = ", ".join(f"{f} {LABELS[c]}" for f, c in zip(files, refs["top_class"]))
        readme = f"""# Reference outputs: {name}

Computed by PyTorch {torch.__version__.split('+')[0]} (CPU, float32) and onnxruntime {ort.__version__} from
`model.onnx` beside this folder, by `demo/pytorch/make_references.py`, on the nine demo images
`demo/images/*`, in this order (sorted file names):
{', '.join(files)}.

Preprocessing: each image decoded by XAI Lens' own decoder (`loadModelInput`, sharp; all nine are
64x64 already, so there is no resizing; the JPEGs' pixels are those sharp decodes), then
"unit": pixels / 255 in float32. The model takes NCHW: `input.npy` transposed (0, 3, 1, 2).
Class order: {', '.join(LABELS)}. "Top class": the argmax of the logits (here: {pred}).

| File | Shape | What |
| --- | --- | --- |
| `input.npy` | [{n}, 64, 64, 3] float32, NHWC | the input batch as XAI Lens feeds it, after preprocessing ([0, 1]) |
| `logits.npy` | [{n}, 3] float32 | PyTorch's logits (the model's output; it has no softmax) |
| `probabilities.npy` | [{n}, 3] float32 | `torch.softmax(logits, 1)` |
| `top_class.npy` | [{n}] int64 | argmax of the logits |
| `{LAYER}.npy` | [{n}, 32, 16, 16] float32, NCHW | activation of module `{LAYER}` (its output, after the block's final ReLU), the last spatial module |
| `input_gradient.npy` | [{n}, 3, 64, 64] float32, NCHW | autograd gradient of the top class's logit with respect to the model input (the [0, 1] pixels) |
| `gradcam_{LAYER}.npy` | [{n}, 16, 16] float32 | Grad-CAM of the top class's logit at `{LAYER}`: ReLU(sum_c mean_hw(dlogit/dA_c) * A_c), at the layer's own 16x16 resolution, not upsampled nor normalised |
| `onnxruntime_logits.npy` | [{n}, 3] float32 | onnxruntime's (CPUExecutionProvider) logits from `model.onnx`; largest difference from `logits.npy`: {diff:.2g} |
"""
        if name == "shapes-pytorch-dynamo":
            readme += "\nThe PyTorch values are those of `shapes-pytorch` (the same weights, exported by the other exporter).\n"
        with open(os.path.join(out, "README.md"), "w") as f:
            f.write(readme)
        print(f"wrote {os.path.relpath(out, ROOT)}: top classes {refs['top_class'].tolist()}, onnxruntime vs torch {diff:.2g}")


if __name__ == "__main__":
    main()

"""Reference outputs computed by Keras / TensorFlow itself for the Keras demo models, on the demo
images, for XAI Lens' tests to compare against. Writes demo/models/<model>/reference/:

    input.npy, logits.npy, probabilities.npy, top_class.npy, conv3_block1_out.npy,
    input_gradient.npy, gradcam_conv3_block1_out.npy and README.md (what each file holds)

for shapes-keras (model.keras) and shapes-keras-h5 (model.h5), each from its own file loaded
back with keras.saving.load_model. The images are demo/.data/shapes/demo_images.npy:
demo/images/* as XAI Lens' own decoder reads them (demo/export-dataset.ts). Usage, from the
repository root:

    python demo/keras/make_references.py
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "demo", ".data", "shapes")
MODELS = os.path.join(ROOT, "demo", "models")
LABELS = ["circle", "square", "triangle"]
LAYER = "conv3_block1_out"  # the last spatial layer: [N, 16, 16, 32]
FILES = [("shapes-keras", "model.keras"), ("shapes-keras-h5", "model.h5")]


def references(model, x):
    dense = model.get_layer("predictions")
    # The logit model: the layer's activation and the pooled features, then a copy of the
    # `predictions` Dense layer with a linear activation (the pre-softmax logits).
    features = keras.Model(model.inputs, [model.get_layer(LAYER).output, dense.input])
    logit_dense = keras.layers.Dense(dense.units, activation="linear", name="logits")
    logit_dense.build(dense.input.shape)
    logit_dense.set_weights(dense.get_weights())
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        a, pooled = features(xt, training=False)
        logits = logit_dense(pooled)
        top = tf.argmax(logits, axis=1)
        # The images are independent in inference mode, so the gradient of the sum is each image's own.
        selected = tf.reduce_sum(tf.gather(logits, top, axis=1, batch_dims=1))
    dx, da = tape.gradient(selected, [xt, a])
    # Grad-CAM (Selvaraju et al.): ReLU(sum_c mean_hw(dlogit/dA_c) * A_c), at the layer's resolution.
    cam = tf.nn.relu(tf.reduce_sum(tf.reduce_mean(da, axis=(1, 2), keepdims=True) * a, axis=-1))
    return {
        "logits": logits.numpy(),
        "probabilities": model(xt, training=False).numpy(),
        "top_class": top.numpy().astype(np.int64),
        LAYER: a.numpy(),
        "input_gradient": dx.numpy(),
        f"gradcam_{LAYER}": cam.numpy(),
    }


def main():
    images = np.load(os.path.join(DATA, "demo_images.npy"))  # uint8 [9, 64, 64, 3]
    files = [e["file"] for e in json.load(open(os.path.join(DATA, "demo_images.json")))["images"]]
    # Preprocessing "raw": the pixels 0..255 as float32; the model's own Rescaling(1/255) scales them.
    x = images.astype(np.float32)
    for name, file in FILES:
        path = os.path.join(MODELS, name, file)
        if not os.path.exists(path):
            print(f"skipped {name}: no {file}")
            continue
        model = keras.saving.load_model(path, compile=False)
        refs = {"input": x, **references(model, x)}
        out = os.path.join(MODELS, name, "reference")
        os.makedirs(out, exist_ok=True)
        for k, v in refs.items():
            np.save(os.path.join(out, f"{k}.npy"), v)
        n = len(files)
        soft = tf.nn.softmax(refs["logits"]).numpy()
        pred = ", ".join(f"{f} {LABELS[c]}" for f, c in zip(files, refs["top_class"]))
        readme = f"""# Reference outputs: {name}

Computed by Keras {keras.__version__} on TensorFlow {tf.__version__} (CPU, float32) from `{file}` beside
this folder, loaded back with `keras.saving.load_model`, by `demo/keras/make_references.py`, on
the nine demo images `demo/images/*`, in this order (sorted file names):
{', '.join(files)}.

Preprocessing: each image decoded by XAI Lens' own decoder (`loadModelInput`, sharp; all nine are
64x64 already, so there is no resizing; the JPEGs' pixels are those sharp decodes), then "raw":
the pixels 0..255 as float32 (the model's first layer, `Rescaling(1/255)`, scales them).
Class order: {', '.join(LABELS)}. "Top class": the argmax of the logits (here: {pred}).

| File | Shape | What |
| --- | --- | --- |
| `input.npy` | [{n}, 64, 64, 3] float32, NHWC | the input batch as XAI Lens feeds it (raw 0..255) |
| `logits.npy` | [{n}, 3] float32 | pre-softmax logits: the `predictions` Dense layer's weights applied with a linear activation to `avg_pool`'s output |
| `probabilities.npy` | [{n}, 3] float32 | the model's output (softmax); largest difference from softmax(`logits.npy`): {float(np.abs(soft - refs['probabilities']).max()):.2g} |
| `top_class.npy` | [{n}] int64 | argmax of the logits |
| `{LAYER}.npy` | [{n}, 16, 16, 32] float32, NHWC | activation of layer `{LAYER}` (the ReLU after the last residual `Add`), the last spatial layer |
| `input_gradient.npy` | [{n}, 64, 64, 3] float32, NHWC | tf.GradientTape gradient of the top class's logit with respect to the model input (raw 0..255 pixels) |
| `gradcam_{LAYER}.npy` | [{n}, 16, 16] float32 | Grad-CAM of the top class's logit at `{LAYER}`: ReLU(sum_c mean_hw(dlogit/dA_c) * A_c), at the layer's own 16x16 resolution, not upsampled nor normalised |
"""
        with open(os.path.join(out, "README.md"), "w") as f:
            f.write(readme)
        print(f"wrote {os.path.relpath(out, ROOT)}: top classes {refs['top_class'].tolist()}")


if __name__ == "__main__":
    main()

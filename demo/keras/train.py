"""A Keras user's training script for the XAI Lens shapes demo (Keras 3, TensorFlow backend).

The task is the TF.js demo's (demo/README.md): which shape (circle, square, triangle) is drawn at a
random place on a textured background. The images are the TF.js demo's own training and
validation images, exported by demo/export-dataset.ts to demo/.data/shapes/ (see demo/README.md).

The model is a small functional network in keras.applications' ResNet style and naming: a
`Rescaling(1/255)` layer first, so it takes raw 0..255 pixels (XAI Lens preprocessing "raw"), a
conv-BN-ReLU stem (`conv1_*`), two residual blocks (`conv2_block1_*` with an identity skip,
`conv3_block1_*` with a strided projection skip, each ending in an `Add` and a ReLU `*_out`),
`avg_pool` (GlobalAveragePooling2D) and `predictions` (Dense, softmax). It is the PyTorch demo
model's architecture (demo/pytorch/train.py) layer for layer; strided convolutions are
ZeroPadding2D + 'valid', as in keras.applications, so the padding is symmetric like PyTorch's.

Like a user who watches their model in XAI Lens while it trains, a ModelCheckpoint-style callback
saves the model after every epoch to

    demo/models/shapes-keras/model.keras

and at the end the script also saves the legacy HDF5 format to

    demo/models/shapes-keras-h5/model.h5

each with labels.txt and metadata.json. Usage (from the repository root, after the dataset export):

    python demo/keras/train.py          # about 3-4 minutes on one core

Seeded, with TensorFlow's deterministic ops: a rerun trains the same weights.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "demo", ".data", "shapes")
MODELS = os.path.join(ROOT, "demo", "models")
LABELS = ["circle", "square", "triangle"]
SEED = 20240611
LAST_SPATIAL = "conv3_block1_out"


def conv_bn(x, filters, kernel, stride, name):
    """[ZeroPadding2D +] Conv2D (no bias) + BatchNormalization, keras.applications names."""
    if stride > 1 and kernel > 1:
        x = layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
        x = layers.Conv2D(filters, kernel, strides=stride, padding="valid", use_bias=False, name=f"{name}_conv")(x)
    else:
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    return layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_bn")(x)


def residual_block(x, filters, stride, name):
    if stride != 1 or x.shape[-1] != filters:
        shortcut = conv_bn(x, filters, 1, stride, f"{name}_0")
    else:
        shortcut = x
    y = conv_bn(x, filters, 3, stride, f"{name}_1")
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = conv_bn(y, filters, 3, 1, f"{name}_2")
    x = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(x)


def build_model(num_classes=3, widths=(16, 32)):
    inputs = keras.Input(shape=(64, 64, 3), name="image")
    x = layers.Rescaling(1.0 / 255, name="rescaling")(inputs)
    x = conv_bn(x, widths[0], 4, 2, "conv1")  # 32x32
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = residual_block(x, widths[0], 1, "conv2_block1")  # 32x32x16
    x = residual_block(x, widths[1], 2, "conv3_block1")  # 16x16x32: the last spatial layer
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="shapes_keras")


def write_sidecars(out_dir, description):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "labels.txt"), "w") as f:
        f.write("\n".join(LABELS) + "\n")
    meta = {"labels": LABELS, "preprocess": "raw", "inputSize": [64, 64], "description": description, "seed": SEED}
    with open(os.path.join(out_dir, "metadata.json"), "w") as f:
        f.write(json.dumps(meta, indent=2) + "\n")


def accuracy(model, x, y):
    pred = model.predict(x, batch_size=250, verbose=0).argmax(1)
    keep = y >= 0
    return float((pred[keep] == y[keep]).mean())


class SaveEveryEpoch(keras.callbacks.Callback):
    """ModelCheckpoint for the inference model: after every epoch, copy the trained one-vs-rest head
    into `predictions` and save the softmax model (through a temporary file, so a watcher never
    reads half a file)."""

    def __init__(self, model, head, path, x_val, y_val):
        super().__init__()
        self.infer, self.head, self.path, self.x_val, self.y_val = model, head, path, x_val, y_val
        self.val_acc = 0.0

    def on_epoch_end(self, epoch, logs=None):
        self.infer.get_layer("predictions").set_weights(self.head.get_weights())
        self.val_acc = accuracy(self.infer, self.x_val, self.y_val)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        tmp = os.path.join(os.path.dirname(self.path), ".saving.keras")
        self.infer.save(tmp)
        os.replace(tmp, self.path)
        print(f"epoch {epoch + 1}: loss {logs['loss']:.4f}, val acc {self.val_acc:.1%}; wrote {os.path.relpath(self.path, ROOT)}",
              flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(2)
    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()

    x_train = np.load(os.path.join(DATA, "train_images.npy")).astype(np.float32)  # raw 0..255, NHWC
    y_train = np.load(os.path.join(DATA, "train_labels.npy")).astype(np.int64)  # -1: no shape
    x_val = np.load(os.path.join(DATA, "val_images.npy")).astype(np.float32)
    y_val = np.load(os.path.join(DATA, "val_labels.npy")).astype(np.int64)
    # One-vs-rest targets, as the TF.js demo model is trained: each class score must rise with its
    # own shape; the shape-free images (label -1) are negatives for every class (all zeros). With
    # a plain softmax a class can win by the absence of the others, and its Grad-CAM then lights up
    # the background.
    t_train = (y_train[:, None] == np.arange(3)[None, :]).astype(np.float32)

    model = build_model()
    # The training view: the same layers, with a sigmoid copy of the head (copied into the softmax
    # `predictions` after every epoch, so the saved model's logits are the trained ones).
    head = layers.Dense(3, activation="sigmoid", name="train_head")
    train_model = keras.Model(model.input, head(model.get_layer("avg_pool").output), name="shapes_keras_train")
    head.set_weights(model.get_layer("predictions").get_weights())
    steps_per_epoch = (len(x_train) + args.batch_size - 1) // args.batch_size
    total = steps_per_epoch * args.epochs
    # One epoch of linear warm-up, then cosine decay to 2% (make-fixtures.ts' schedule).
    schedule = keras.optimizers.schedules.CosineDecay(0.1 * args.lr, total - steps_per_epoch, alpha=0.02,
                                                      warmup_target=args.lr, warmup_steps=steps_per_epoch)
    train_model.compile(optimizer=keras.optimizers.Adam(schedule), loss="binary_crossentropy")
    print(f"{model.name}: {model.count_params()} parameters, {len(x_train)} training images "
          f"({int((y_train >= 0).sum())} with a shape), {len(x_val)} validation", flush=True)

    out_dir = os.path.join(MODELS, "shapes-keras")
    saver = SaveEveryEpoch(model, head, os.path.join(out_dir, "model.keras"), x_val, y_val)
    t0 = time.time()
    train_model.fit(x_train, t_train, batch_size=args.batch_size, epochs=args.epochs, shuffle=True, verbose=0,
                    callbacks=[saver])
    train_seconds = time.time() - t0
    val_acc = saver.val_acc

    desc = (f"Demo model, Keras 3: which shape (circle, square, triangle) is drawn at a random place on a textured "
            f"background. A small keras.applications-style residual CNN (Rescaling(1/255) first, so it takes raw "
            f"0..255 pixels; conv1, conv2_block1, conv3_block1, avg_pool, predictions softmax); last spatial layer "
            f"{LAST_SPATIAL} (16x16x32). Made by demo/keras/train.py; validation accuracy {val_acc:.1%} on "
            f"{len(x_val)} synthetic images.")
    write_sidecars(out_dir, desc + " Saved in the Keras 3 format (.keras).")
    h5_dir = os.path.join(MODELS, "shapes-keras-h5")
    os.makedirs(h5_dir, exist_ok=True)
    model.save(os.path.join(h5_dir, "model.h5"))
    write_sidecars(h5_dir, desc + " Saved in the legacy HDF5 format (.h5).")
    print(f"wrote {os.path.relpath(os.path.join(h5_dir, 'model.h5'), ROOT)}")
    print(f"trained in {train_seconds:.0f} s; validation accuracy {val_acc:.2%}")


if __name__ == "__main__":
    main()

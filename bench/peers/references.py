"""The framework's own output for a bench model, to check XAI Lens against on real architectures:
a seeded input batch (NHWC float32, as XAI Lens feeds it) and the model's output on it, computed
by onnxruntime for an .onnx file and by Keras for a .keras file. Writes <model>.input.npy and
<model>.output.npy beside the model.

usage: python3 bench/peers/references.py <model file> [batch]
"""
import sys

import numpy as np


def main():
    path = sys.argv[1]
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    rng = np.random.default_rng(7)
    x = rng.random((batch, 224, 224, 3), dtype=np.float32)
    if path.endswith('.onnx'):
        import onnxruntime as ort
        session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
        name = session.get_inputs()[0].name
        out = session.run(None, {name: np.ascontiguousarray(x.transpose(0, 3, 1, 2))})[0]
    else:
        import keras
        x = x * 255  # keras.applications models take 0..255 pixels
        out = keras.saving.load_model(path).predict(x, verbose=0)
    np.save(path + '.input.npy', x)
    np.save(path + '.output.npy', out.astype(np.float32))
    print(path + '.output.npy', flush=True)


if __name__ == '__main__':
    main()

"""Models for the format benchmarks (bench/formats.ts), seeded, never committed: the files are
large (a ResNet-18 ONNX is 45 MB, a ViT-B/16 330 MB). torchvision's architectures (bench/peers/architectures.py) with
seeded random weights (no pretrained weights are downloaded), exported with the TorchScript
exporter; a Keras ResNet50 from keras.applications with weights=None.

usage: python3 bench/peers/make_models.py <out dir> [resnet18 mobilenet_v2 vit_b_16 resnet50_keras]
"""
import os
import sys


def torch_model(name, out):
    import torch
    from architectures import ARCHITECTURES
    torch.manual_seed(0)
    model = ARCHITECTURES[name]().eval()
    size = 224
    x = torch.rand(1, 3, size, size)
    torch.onnx.export(model, (x,), out, dynamo=False, opset_version=17, input_names=['input'], output_names=['logits'],
                      dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})


def keras_resnet50(out):
    import keras
    keras.utils.set_random_seed(0)
    model = keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3), classes=1000)
    model.save(out)


def main():
    out_dir = sys.argv[1]
    wanted = sys.argv[2:] or ['resnet18', 'mobilenet_v2', 'vit_b_16', 'resnet50_keras']
    os.makedirs(out_dir, exist_ok=True)
    for name in wanted:
        if name == 'resnet50_keras':
            path = os.path.join(out_dir, 'resnet50.keras')
            if not os.path.exists(path):
                keras_resnet50(path)
        else:
            path = os.path.join(out_dir, f'{name}.onnx')
            if not os.path.exists(path):
                torch_model(name, path)
        print(path, flush=True)


if __name__ == '__main__':
    main()

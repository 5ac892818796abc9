"""The peer to beat: PyTorch (CPU) on the same architectures, the same thread count, the same
seeded weights as bench/peers/make_models.py. Prints one JSON line per model with median ms of a
forward pass, Grad-CAM at the last spatial module (forward + backward to it) and the input
gradient of one logit.

usage: python3 bench/peers/torch_peer.py <threads> [resnet18 mobilenet_v2]
"""
import json
import statistics
import sys
import time


def median_ms(f, reps=7, warmup=2):
    times = []
    for i in range(warmup + reps):
        t0 = time.perf_counter()
        f()
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main():
    import torch
    from architectures import ARCHITECTURES
    threads = int(sys.argv[1])
    torch.set_num_threads(threads)
    for name in sys.argv[2:] or ['resnet18', 'mobilenet_v2']:
        torch.manual_seed(0)
        model = ARCHITECTURES[name]().eval()
        layer = model.layer4 if name.startswith('resnet') else model.features
        x = torch.rand(1, 3, 224, 224)
        saved = {}
        layer.register_forward_hook(lambda m, i, o: saved.__setitem__('a', o))

        def forward():
            with torch.no_grad():
                model(x)

        def gradcam():
            out = model(x)
            a = saved['a']
            (g,) = torch.autograd.grad(out[0, 3], a)
            torch.relu((g.mean(dim=(2, 3), keepdim=True) * a).sum(1))

        def input_gradient():
            xi = x.clone().requires_grad_(True)
            out = model(xi)
            torch.autograd.grad(out[0, 3], xi)

        print(json.dumps({'model': name, 'threads': threads, 'forward': median_ms(forward), 'gradcam': median_ms(gradcam),
                          'inputGradient': median_ms(input_gradient)}), flush=True)


if __name__ == '__main__':
    main()

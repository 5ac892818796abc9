"""The peer to beat: PyTorch (CPU) on the same architectures, the same thread count, the same
seeded weights as bench/peers/make_models.py. Prints one JSON line per model with median ms of a
forward pass, Grad-CAM at the last spatial module (forward + backward to it) and the input
gradient of one logit.

Options, for bench/peers-compare.ts (bench/formats.ts asks for neither: they take time):
  --batch N    also the median ms of a batched forward pass of N images under torch.no_grad()
               (`batch`, `batchForward`, `batchImagesPerSecond`): the most a perturbation method
               could get out of PyTorch at that batch size.
  --profile    also Grad-CAM and the input gradient (and the batched forward, with --batch) under
               torch.profiler, as self CPU ms per category (`gradcamProfile`, `inputGradientProfile`,
               `batchForwardProfile`; categories as in bench/peers-compare.ts) and per operator
               (`gradcamOps`, `inputGradientOps`, `batchForwardOps`).
  With either option the fastest run of each timing is printed too (`forwardBest`, `gradcamBest`,
  `inputGradientBest`, `batchForwardBest`).

usage: python3 bench/peers/torch_peer.py <threads> [resnet18 mobilenet_v2] [--batch N] [--profile]
"""
import argparse
import json
import re
import statistics
import time


def times_ms(f, reps=7, warmup=2):
    times = []
    for i in range(warmup + reps):
        t0 = time.perf_counter()
        f()
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
    return times


def conv_category(event):
    """A convolution's category: depthwise when its weight is [C, 1, k, k] with C > 1."""
    backward = 'backward' in event.name
    # aten::conv2d / aten::convolution(input, weight, …); aten::convolution_backward(grad_output, input, weight, …).
    shapes = event.input_shapes or []
    i = 2 if backward else 1
    weight = shapes[i] if len(shapes) > i else []
    depthwise = len(weight) == 4 and weight[1] == 1 and weight[0] > 1
    return f"{'depthwise conv' if depthwise else 'conv'}{' backward' if backward else ''}"


ELEMENTWISE = {'relu', 'hardtanh', 'clamp', 'threshold_backward', 'hardtanh_backward', 'add', 'mul', 'sub', 'div', 'fill', 'zero', 'ones_like',
               'zeros_like', 'dropout', 'where', 'ge', 'gt', 'le', 'lt', 'logical_and'}
LAYOUT = {'copy', 'clone', 'empty', 'empty_like', 'empty_strided', 'contiguous', 'view', 'reshape', 'flatten', 'transpose', 'permute', 't',
          'as_strided', 'resize', 'zeros', 'select', 'slice', 'expand', 'unsqueeze', 'squeeze', 'detach', 'to', '_to_copy', 'cat', 'stack',
          'set_', 'lift_fresh', 'alias', 'result_type'}


def leaf_category(name):
    """The category of an operator that runs outside any convolution, from its name."""
    n = name.lower()
    if n.startswith('autograd::') or re.search(r'backward\d+$', n):
        return 'framework'  # the autograd engine's own bookkeeping around each backward node
    base = n.split('::')[-1].strip('_')
    if 'batch_norm' in base:
        return 'batch norm'  # folded into the convolutions in the ONNX export: PyTorch only
    if 'pool' in base:
        return 'pooling backward' if 'backward' in base else 'pooling'
    if base in ('addmm', 'mm', 'matmul', 'linear', 'bmm'):
        return 'matmul'
    if base in ('mean', 'sum'):
        return 'reduction'
    if base in ELEMENTWISE:
        return 'elementwise'
    if base in LAYOUT:
        return 'layout & copies'
    return 'other'


def category(event):
    """The category of the operator the model code called that `event` runs in.

    Operators nest (aten::conv2d → aten::convolution → aten::_slow_conv2d_forward → aten::copy_;
    aten::hardtanh_ → aten::clone → aten::copy_): each event is charged to its outermost aten::
    ancestor, as tfjs charges everything a kernel does to that kernel.
    """
    top = None
    a = event
    while a is not None and a.name.startswith('aten::'):
        top = a
        a = a.cpu_parent
    if top is None:
        return leaf_category(event.name)
    if top.name in ('aten::conv2d', 'aten::convolution', 'aten::_convolution', 'aten::convolution_backward'):
        return conv_category(top)
    return leaf_category(top.name)


def profile_ms(f, runs=3):
    """`runs` calls of `f` under torch.profiler: self CPU ms per category and per operator, the
    least over the calls (on a shared machine, time lost to other processes only ever adds).
    Self time, so nothing is counted twice.
    """
    from torch.profiler import ProfilerActivity, profile
    per_run = []
    for _ in range(runs):
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            f()
        categories = {}
        ops = {}
        for e in prof.events():
            ms = e.self_cpu_time_total / 1000
            c = category(e)
            categories[c] = categories.get(c, 0) + ms
            ops[e.name] = ops.get(e.name, 0) + ms
        per_run.append((categories, ops))

    def least(k):
        keys = {key for run in per_run for key in run[k]}
        return {key: min(run[k].get(key, 0) for run in per_run) for key in keys}
    categories = least(0)
    top = dict(sorted(least(1).items(), key=lambda kv: -kv[1])[:12])
    return categories, top


def main():
    import torch
    from architectures import ARCHITECTURES
    parser = argparse.ArgumentParser()
    parser.add_argument('threads', type=int)
    parser.add_argument('models', nargs='*')
    parser.add_argument('--batch', type=int)
    parser.add_argument('--profile', action='store_true')
    args = parser.parse_args()
    threads = args.threads
    torch.set_num_threads(threads)
    for name in args.models or ['resnet18', 'mobilenet_v2']:
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

        times = {'forward': times_ms(forward), 'gradcam': times_ms(gradcam), 'inputGradient': times_ms(input_gradient)}
        result = {'model': name, 'threads': threads, **{k: statistics.median(v) for k, v in times.items()}}
        if args.batch or args.profile:
            # The fastest run too: on a shared machine it is the steadiest estimate of the work itself.
            result.update({f'{k}Best': min(v) for k, v in times.items()})
        if args.batch:
            xb = torch.rand(args.batch, 3, 224, 224)

            def batch_forward():
                with torch.no_grad():
                    model(xb)

            # Each call takes a second or more on one thread: one warm-up is enough, and a few runs.
            t = times_ms(batch_forward, reps=3, warmup=1)
            ms = statistics.median(t)
            result.update({'batch': args.batch, 'batchForward': ms, 'batchForwardBest': min(t), 'batchImagesPerSecond': args.batch * 1000 / ms})
        if args.profile:
            result['gradcamProfile'], result['gradcamOps'] = profile_ms(gradcam)
            result['inputGradientProfile'], result['inputGradientOps'] = profile_ms(input_gradient)
            if args.batch:
                result['batchForwardProfile'], result['batchForwardOps'] = profile_ms(batch_forward, runs=2)
        print(json.dumps(result), flush=True)


if __name__ == '__main__':
    main()

"""Backbone images/s and model FLOP utilisation (MFU) at the scorer's batch sizes, any device.

Times the model directory's own embedder (``model.json`` + ``embedder.weights.h5``, built by
:func:`cursorprint.model.nets.backbone.build_embedder`, the same code the scorer loads) on
Keras 3's current backend: JAX (the GPU machine: it has no TensorFlow), TensorFlow (CPU here) or
any other, which runs uncompiled. Batch sizes default to those the scorer's backbone calls
have: 1 (one short session), 16 (``SCORER_BATCH_SIZE``'s default, one window each), 64 and 256
(``EMBED_BATCH``, the most images one call gets).

For each batch size it reports the median time of one call on inputs already on the device,
images/s from it, the same with the input copied from host numpy and the output copied back
(what the scorer pays per call), FLOP/s achieved and MFU = achieved ÷ peak. FLOPs per image
are counted from the Keras layers: 2 × the multiply-accumulates of every Conv and Dense layer
(bias adds, ReLU, pooling and the input scaling are left out, the usual MFU convention). The
peak comes from ``--peak-tflops`` or, on a known GPU, from :data:`PEAK_TFLOPS` (NVIDIA's
datasheets, dense); on a CPU there is no table, so MFU is reported only with ``--peak-tflops``.

    KERAS_BACKEND=jax python bench/gpu_backbone.py --model runs/motion_sapi/model \\
        --dtype bfloat16 [--batches 1,16,64,256] [--seconds 3] [--json out.json]

Imports nothing from TensorFlow itself unless Keras' backend is TensorFlow: the model
directory and backbone modules import Keras lazily and no TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cursorprint.model.nets.backbone import build_embedder
from cursorprint.model.nets.modeldir import WEIGHTS_FILE, ModelDirError, read_info

DEFAULT_BATCHES = (1, 16, 64, 256)
DTYPES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}

# Dense (no sparsity) tensor-core peaks in TFLOP/s per GPU, from NVIDIA's datasheets, which
# print the sparse figure (twice these) with an asterisk. "half": BF16/FP16; "tf32": TF32, what
# float32 convolutions and matmuls run as on these GPUs under JAX's default precision (and
# TensorFlow's default since 2.4); for strict FP32 pass --peak-tflops. Matched in order by
# substring of the device name, so the longer names come first.
PEAK_TFLOPS: tuple[tuple[str, float, float, str], ...] = (
    # (name contains, half, tf32, source)
    ("H200 NVL", 835.0, 418.0, "H200 datasheet, H200 NVL: BF16 1,671 / TF32 835 sparse"),
    ("H200", 989.5, 494.5, "H200 datasheet, H200 SXM: BF16 1,979 / TF32 989 sparse"),
    ("H100 NVL", 835.0, 418.0, "H100 datasheet, H100 NVL: BF16 1,671 / TF32 835 sparse"),
    ("H100 PCIe", 756.5, 378.0, "H100 datasheet, H100 PCIe: BF16 1,513 / TF32 756 sparse"),
    ("H100", 989.5, 494.5, "H100 datasheet, H100 SXM: BF16 1,979 / TF32 989 sparse"),
    ("A100", 312.0, 156.0, "A100 datasheet: BF16 312 / TF32 156 dense"),
    ("L40S", 366.0, 183.0, "L40S datasheet: BF16 733 / TF32 366 sparse"),
    ("L4", 121.0, 60.0, "L4 datasheet: BF16 242 / TF32 120 sparse"),
    ("A10", 125.0, 62.5, "A10 datasheet: BF16 125 / TF32 62.5 dense"),
)


class BenchError(RuntimeError):
    """The benchmark cannot run as asked (bad model directory, batch size, peak)."""


@dataclass(frozen=True)
class BatchFigures:
    batch: int
    calls: int                   # timed calls (after warm-up)
    median_s: float              # one call, input already on the device, output synced
    images_per_s: float
    tflops_per_s: float          # achieved, from the analytic FLOPs per image
    mfu: float | None            # achieved / peak (None without a peak)
    from_host_images_per_s: float  # numpy in, numpy out: what a scorer's call pays


# --- FLOPs ------------------------------------------------------------------------------------

def _leaf_layers(model: Any) -> Iterator[Any]:
    """The model's layers, nested models (the VGG16 blocks are one) opened up."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer)
        else:
            yield layer


def flops_per_image(model: Any) -> int:
    """2 × multiply-accumulates of the Conv and Dense layers for one input image.

    A layer applies its whole kernel once per output position: positions = output elements ÷
    output channels (holds for strides, padding and either data format).
    """
    import keras

    counted = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D, keras.layers.Dense)
    total = 0
    for layer in _leaf_layers(model):
        if isinstance(layer, counted):
            out = tuple(layer.output.shape[1:])
            if any(d is None for d in out):
                raise BenchError(f"layer {layer.name} has an unknown output size {out}: "
                                 "FLOPs per image need a fixed input size")
            channels = layer.units if isinstance(layer, keras.layers.Dense) else layer.filters
            positions = math.prod(out) // channels
            total += 2 * positions * math.prod(layer.kernel.shape)
        elif hasattr(layer, "kernel"):
            # e.g. a depthwise or transposed convolution: its MACs follow another rule
            raise BenchError(f"layer {layer.name} ({type(layer).__name__}) has a kernel this "
                             "FLOP count does not know how to count")
    return total


# --- device and peak --------------------------------------------------------------------------

def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} logical cores)"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} logical cores)"


def device_of_backend() -> tuple[str, str]:
    """``(kind, name)`` of the device Keras computes on: kind ``gpu``, ``cpu`` or ``tpu``."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        dev = jax.devices()[0]
        kind = dev.platform.lower()
        return kind, (_cpu_name() if kind == "cpu" else str(dev.device_kind))
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return "gpu", str(details.get("device_name", gpus[0].name))
        return "cpu", _cpu_name()
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return "gpu", str(torch.cuda.get_device_name(0))
    return "cpu", _cpu_name()


def peak_for(device_name: str, dtype: str) -> tuple[float, str] | None:
    """Known dense peak TFLOP/s for a GPU name and compute dtype, with its source."""
    for needle, half, tf32, source in PEAK_TFLOPS:
        if needle.lower() in device_name.lower():
            if dtype == "float32":
                return tf32, f"{source} (TF32, float32's default on tensor cores)"
            return half, f"{source} (BF16/FP16)"
    return None


# --- the timed forward pass -------------------------------------------------------------------

Forward = tuple[Callable[[np.ndarray], Any], Callable[[Any], Any], Callable[[Any], Any], bool]


def compiled_forward(model: Any) -> Forward:
    """``(to_device, call, sync, compiled)`` for the current backend: ``call`` runs the model
    compiled where the backend allows (``jax.jit``, ``tf.function``) on an input placed by
    ``to_device``; ``sync`` waits for a result (and returns it) so a timing covers the work."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        @jax.jit
        def fwd(trainable: Any, non_trainable: Any, x: Any) -> Any:
            y, _ = model.stateless_call(trainable, non_trainable, x, training=False)
            return y

        tv = [v.value for v in model.trainable_variables]
        ntv = [v.value for v in model.non_trainable_variables]
        return (jax.device_put, lambda x: fwd(tv, ntv, x),
                lambda y: y.block_until_ready(), True)
    if backend == "tensorflow":
        import tensorflow as tf

        fn = tf.function(lambda x: model(x, training=False))
        return tf.constant, fn, lambda y: y.numpy(), True
    # torch and others: eager calls (still what the scorer's `embedder(images)` does there)
    return (keras.ops.convert_to_tensor, lambda x: model(x, training=False),
            keras.ops.convert_to_numpy, False)


def _median_call(fn: Callable[[], Any], seconds: float, min_calls: int = 5) -> tuple[float, int]:
    """Median seconds of ``fn()`` over at least ``min_calls`` calls filling ``seconds``."""
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), len(times)


def time_batch(forward: Forward, image_shape: tuple[int, ...], batch: int, seconds: float,
               flops: int, peak: float | None, seed: int = 0) -> BatchFigures:
    to_device, call, sync, _ = forward
    host = np.random.default_rng(seed).random((batch, *image_shape), dtype=np.float32)
    dev = to_device(host)
    for _ in range(2):                       # compile / trace for this shape, first-call costs
        sync(call(dev))
    median, calls = _median_call(lambda: sync(call(dev)), seconds)
    host_median, _ = _median_call(lambda: np.asarray(sync(call(to_device(host)))), seconds / 2)
    ips = batch / median
    achieved = flops * ips / 1e12
    return BatchFigures(batch=batch, calls=calls, median_s=median, images_per_s=ips,
                        tflops_per_s=achieved, mfu=(achieved / peak if peak else None),
                        from_host_images_per_s=batch / host_median)


# --- the run ----------------------------------------------------------------------------------

def _load(model_dir: Path) -> tuple[Any, dict[str, Any], str]:
    info = read_info(model_dir)
    weights = model_dir / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelDirError(f"model directory {model_dir} lacks {WEIGHTS_FILE}")
    embedder = build_embedder(info.backbone)
    embedder.load_weights(str(weights))
    return embedder, dict(info.backbone.to_dict()), info.version


def measure(model_dir: Path, batches: Sequence[int], dtype: str = "float32",
            seconds: float = 3.0, peak_tflops: float | None = None) -> dict[str, Any]:
    """The report: model, backend, device, FLOPs per image, peak and figures per batch size."""
    import keras

    if dtype not in DTYPES:
        raise BenchError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    if not batches or any(b < 1 for b in batches):
        raise BenchError(f"batch sizes must be >= 1, got {list(batches)}")
    if peak_tflops is not None and peak_tflops <= 0:
        raise BenchError(f"--peak-tflops must be > 0, got {peak_tflops}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(DTYPES[dtype])   # only while this model is built
    try:
        model, backbone, version = _load(Path(model_dir))
    finally:
        keras.config.set_dtype_policy(previous)
    kind, device = device_of_backend()
    if peak_tflops is not None:
        peak: float | None = peak_tflops
        peak_source: str | None = "--peak-tflops"
    else:
        known = peak_for(device, dtype) if kind == "gpu" else None
        peak, peak_source = known if known else (None, None)
    flops = flops_per_image(model)
    forward = compiled_forward(model)
    image_shape = tuple(int(d) for d in model.input.shape[1:])
    rows = [time_batch(forward, image_shape, b, seconds, flops, peak) for b in batches]
    return {"model_dir": str(model_dir), "model_version": version, "backbone": backbone,
            "keras_backend": keras.backend.backend(), "keras_version": keras.__version__,
            "device_kind": kind, "device": device, "dtype": dtype,
            "compiled": forward[3], "flops_per_image": flops,
            "peak_tflops": peak, "peak_source": peak_source,
            "batches": [asdict(r) for r in rows]}


def format_report(rep: dict[str, Any]) -> str:
    bb = rep["backbone"]
    lines = [
        f"model {rep['model_dir']} (version {rep['model_version']}): {bb['image_size']} px, "
        f"{bb['blocks']} VGG16 blocks, {bb['emb_dim']}-d embedding",
        f"Keras {rep['keras_version']} on {rep['keras_backend']}"
        f"{'' if rep['compiled'] else ' (eager)'}, {rep['dtype']}, "
        f"{rep['device_kind']}: {rep['device']}",
        f"FLOPs per image {rep['flops_per_image'] / 1e6:,.1f} M (2 x Conv/Dense MACs); peak "
        + (f"{rep['peak_tflops']:,.1f} TFLOP/s ({rep['peak_source']})" if rep["peak_tflops"]
           else "unknown (MFU needs --peak-tflops)"),
        f"{'batch':>6} {'calls':>6} {'ms/call':>9} {'images/s':>12} {'from host':>12} "
        f"{'TFLOP/s':>9} {'MFU':>7}",
    ]
    for r in rep["batches"]:
        mfu = f"{100 * r['mfu']:6.2f}%" if r["mfu"] is not None else "    n/a"
        lines.append(f"{r['batch']:>6} {r['calls']:>6} {1e3 * r['median_s']:>9.3f} "
                     f"{r['images_per_s']:>12,.0f} {r['from_host_images_per_s']:>12,.0f} "
                     f"{r['tflops_per_s']:>9.3f} {mfu}")
    return "\n".join(lines)


def _batches(text: str) -> list[int]:
    try:
        return [int(b) for b in text.split(",") if b.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"batch sizes must be integers like 1,16,256, "
                                         f"got {text!r}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--model", type=Path, required=True, help="model directory (model.json, "
                    f"{WEIGHTS_FILE})")
    ap.add_argument("--batches", type=_batches, default=list(DEFAULT_BATCHES),
                    help="comma-separated images per call (default %(default)s)")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="float32",
                    help="compute dtype: bfloat16/float16 are Keras' mixed policies "
                         "(float32 weights); MFU on GPU needs bfloat16")
    ap.add_argument("--seconds", type=float, default=3.0, help="timing budget per batch size")
    ap.add_argument("--peak-tflops", type=float, default=None,
                    help="device peak for MFU (default: the table for known GPUs)")
    ap.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = ap.parse_args(argv)
    try:
        rep = measure(args.model, args.batches, args.dtype, args.seconds, args.peak_tflops)
    except (BenchError, ModelDirError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_report(rep), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(rep, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""bench/gpu_backbone.py on CPU: its report, its analytic FLOP count, its peak table.

The GPU figures come from running the same script where a GPU is lent (README); here it runs on
a tiny model directory with real Keras weights, as CI can.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from bench.gpu_backbone import (
    DEFAULT_BATCHES,
    BenchError,
    flops_per_image,
    main,
    peak_for,
)
from cursorprint.model.features.descriptors import EMBED_BATCH
from cursorprint.model.features.windows import WindowRule
from cursorprint.model.nets.backbone import BackboneConfig, build_embedder
from cursorprint.model.nets.modeldir import WEIGHTS_FILE, ModelInfo, write_info
from cursorprint.stream.settings.sections import ScorerSettings

REPO = Path(__file__).resolve().parents[3]

# 32 px, VGG16 block 1 only, 8-d embedding: conv 3->64 and conv 64->64 at 32x32 ("same"
# padding), then [avg, max] pooled 128 -> 8 dense.
TINY = BackboneConfig(image_size=32, blocks=1, emb_dim=8)
TINY_FLOPS = 2 * (32 * 32 * (3 * 3 * 3) * 64 + 32 * 32 * (3 * 3 * 64) * 64 + 128 * 8)


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny-model")
    write_info(out, ModelInfo("tiny-bench", TINY, WindowRule()))
    build_embedder(TINY).save_weights(str(out / WEIGHTS_FILE))
    return out


def test_main_reports_each_batch_size_with_the_analytic_flops(tiny_model_dir: Path,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    assert main(["--model", str(tiny_model_dir), "--batches", "1,4", "--seconds", "0.05",
                 "--json", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert rep["model_version"] == "tiny-bench"
    assert rep["backbone"]["blocks"] == 1
    assert rep["keras_backend"] == keras.backend.backend()
    assert rep["flops_per_image"] == TINY_FLOPS
    assert rep["dtype"] == "float32"
    assert [r["batch"] for r in rep["batches"]] == [1, 4]
    for r in rep["batches"]:
        assert r["calls"] >= 5
        assert r["median_s"] > 0 and r["images_per_s"] > 0 and r["from_host_images_per_s"] > 0
        assert r["tflops_per_s"] == pytest.approx(TINY_FLOPS * r["images_per_s"] / 1e12)
        if rep["device_kind"] == "cpu":   # no peak table for CPUs: no MFU without --peak-tflops
            assert rep["peak_tflops"] is None and r["mfu"] is None


def test_a_given_peak_gives_mfu_and_bfloat16_runs(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    assert main(["--model", str(tiny_model_dir), "--batches", "2", "--seconds", "0.05",
                 "--dtype", "bfloat16", "--peak-tflops", "0.5", "--json", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert (rep["dtype"], rep["peak_tflops"], rep["peak_source"]) == ("bfloat16", 0.5,
                                                                      "--peak-tflops")
    assert rep["flops_per_image"] == TINY_FLOPS      # the precision does not change the count
    (row,) = rep["batches"]
    assert row["mfu"] == pytest.approx(row["tflops_per_s"] / 0.5)
    # the mixed policy was only for the benchmark's model
    assert keras.config.dtype_policy().name == "float32"


def test_flops_follow_strides_padding_and_dense_on_a_known_stack() -> None:
    from keras import layers

    model = keras.Sequential([
        keras.Input((10, 10, 2)),
        layers.Conv2D(4, 3, strides=2, padding="valid"),   # 4x4 outputs, 3*3*2 MACs each x 4
        layers.MaxPooling2D(2),                             # not counted -> 2x2x4
        layers.Flatten(),
        layers.Dense(5),                                    # 16 x 5 MACs
    ])
    assert flops_per_image(model) == 2 * (4 * 4 * (3 * 3 * 2) * 4 + 16 * 5)


def test_a_layer_it_cannot_count_is_named() -> None:
    from keras import layers

    model = keras.Sequential([keras.Input((8, 8, 2)),
                              layers.Conv2DTranspose(3, 3, name="upsample")])
    with pytest.raises(BenchError, match="upsample"):
        flops_per_image(model)


def test_a_missing_model_dir_is_an_error_naming_it(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--model", str(tmp_path / "nowhere"), "--batches", "1"]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_default_batches_are_the_scorers() -> None:
    # one scorer micro-batch of single-window sessions, and the most images one backbone call gets
    assert ScorerSettings().batch_size in DEFAULT_BATCHES
    assert max(DEFAULT_BATCHES) == EMBED_BATCH


def _peak(device: str, dtype: str) -> float | None:
    found = peak_for(device, dtype)
    return None if found is None else found[0]


def test_peak_table_matches_device_names() -> None:
    assert _peak("NVIDIA H200", "bfloat16") == 989.5
    assert _peak("NVIDIA H200 NVL", "bfloat16") == 835.0
    assert _peak("NVIDIA H100 80GB HBM3", "float32") == 494.5     # TF32 for float32
    assert _peak("NVIDIA H100 PCIe", "float16") == 756.5
    assert _peak("Intel(R) Xeon(R) CPU", "float32") is None


# An interpreter in which TensorFlow cannot be imported, as on the GPU machine. (Not
# ``sys.modules['tensorflow'] = None``: Keras takes a name in sys.modules for TensorFlow loaded.)
_NO_TF = """
import importlib.abc, sys
class NoTF(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] == 'tensorflow':
            raise ModuleNotFoundError(f'No module named {name!r}', name=name)
sys.meta_path.insert(0, NoTF())
"""


def test_importing_the_bench_pulls_no_tensorflow() -> None:
    # the module and the model code it imports leave the backend to Keras, imported lazily
    code = _NO_TF + ("import bench.gpu_backbone\n"
                     "print(sorted(m for m in sys.modules "
                     "if m.split('.')[0] in ('keras', 'tensorflow')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"

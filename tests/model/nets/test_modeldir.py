"""model.json round trip: the raster settings a model was trained with reach the scorer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cursorprint.model.features.windows import WindowRule
from cursorprint.model.nets.backbone import BackboneConfig
from cursorprint.model.nets.modeldir import ModelDirError, ModelInfo, read_info, write_info


def test_raster_frame_and_encoding_round_trip(tmp_path: Path) -> None:
    info = ModelInfo("v1", BackboneConfig(64, 2), WindowRule(128, 64, 32), frame="screen",
                     encoding="speed_time", users=["a", "b"])
    write_info(tmp_path, info)
    back = read_info(tmp_path)
    assert (back.frame, back.encoding, back.rule, back.users) == ("screen", "speed_time",
                                                                  info.rule, ["a", "b"])


def test_older_model_json_defaults_to_speed_and_bad_encoding_is_named(tmp_path: Path) -> None:
    write_info(tmp_path, ModelInfo("v1", BackboneConfig(64, 2), WindowRule()))
    d = json.loads((tmp_path / "model.json").read_text())
    del d["raster_encoding"]
    (tmp_path / "model.json").write_text(json.dumps(d))
    assert read_info(tmp_path).encoding == "speed"
    d["raster_encoding"] = "sepia"
    (tmp_path / "model.json").write_text(json.dumps(d))
    with pytest.raises(ModelDirError, match="sepia"):
        read_info(tmp_path)

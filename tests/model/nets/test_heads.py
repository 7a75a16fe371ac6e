"""Per-user heads: serialization round trip, bad bytes, fitting and calibration."""

from __future__ import annotations

import numpy as np
import pytest

from cursorprint.model.nets.heads import Head, HeadError, fit_head


def _clusters(seed: int = 0, d: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    owner = rng.normal(0.0, 1.0, (300, d))
    others = rng.normal(0.8, 1.0, (600, d))
    return owner, others


def test_round_trip_is_exact_and_small() -> None:
    head = fit_head(*_clusters(), meta={"owner_windows": 300})
    data = head.to_bytes()
    assert len(data) < 4096
    back = Head.from_bytes(data)
    assert np.array_equal(back.w, head.w)
    assert (back.b, back.a, back.c, back.kind, back.version) == \
        (head.b, head.a, head.c, head.kind, head.version)
    assert back.meta == {"owner_windows": 300}
    emb = np.random.default_rng(1).normal(size=(5, 16))
    assert np.allclose(back.logits(emb), head.logits(emb))


@pytest.mark.parametrize("data", [b"", b"XXXX\x00\x00\x00\x00", b"CPH1\x05\x00\x00\x00{bad}"])
def test_malformed_bytes_raise_head_error(data: bytes) -> None:
    with pytest.raises(HeadError):
        Head.from_bytes(data)


def test_truncated_weights_raise() -> None:
    data = fit_head(*_clusters()).to_bytes()
    with pytest.raises(HeadError, match="weights"):
        Head.from_bytes(data[:-4])


def test_fit_separates_and_is_calibrated() -> None:
    head = fit_head(*_clusters())
    owner, others = _clusters(seed=5)
    p_owner = 1 / (1 + np.exp(-head.logits(owner)))
    p_other = 1 / (1 + np.exp(-head.logits(others)))
    assert p_owner.mean() < 0.3 and p_other.mean() > 0.7
    # calibrated on balanced classes: the mean predicted impostor probability of a 50/50
    # mix is close to 0.5
    mix = np.r_[p_owner, p_other[:300]]
    assert abs(mix.mean() - 0.5) < 0.1
    with pytest.raises(HeadError, match="embeddings of size"):
        head.logits(np.zeros((2, 3)))
    with pytest.raises(HeadError, match=">= 4 windows"):
        fit_head(owner[:2], others)

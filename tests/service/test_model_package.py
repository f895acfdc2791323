"""runtime.repository.package: what the Kubernetes init container runs to fill the model repository."""

import functools
import hashlib
import http.server
import io
import shutil
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.model_repo import ModelRepositoryError
from runtime.repository.package import PackageError, fetch, main, pack


@pytest.fixture
def version_dir(tiny_model_repo: Path) -> Path:
    """The fixture repository's one version folder, <name>/1."""
    (model_dir,) = tiny_model_repo.iterdir()
    return model_dir / "1"


@pytest.fixture
def http_folder(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on 127.0.0.1: (folder, base URL)."""
    folder = tmp_path / "www"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=10)


def test_a_packed_version_is_fetched_over_http_byte_for_byte(version_dir, http_folder, tmp_path):
    folder, base_url = http_folder
    digest = pack([version_dir], folder / "tiny-1.tar.gz")
    assert digest == hashlib.sha256((folder / "tiny-1.tar.gz").read_bytes()).hexdigest()
    repo = tmp_path / "models"
    assert fetch(f"{base_url}/tiny-1.tar.gz", digest.upper(), repo) == [f"{version_dir.parent.name}:1"]
    for source in version_dir.iterdir():
        assert (repo / version_dir.parent.name / "1" / source.name).read_bytes() == source.read_bytes()
    assert sorted(p.name for p in repo.iterdir()) == [version_dir.parent.name], "the download is cleaned up"


def test_a_package_with_another_checksum_is_refused_before_unpacking(version_dir, tmp_path):
    package = tmp_path / "tiny-1.tar.gz"
    pack([version_dir], package)
    repo = tmp_path / "models"
    with pytest.raises(PackageError, match="expected " + "0" * 64):
        fetch(package.as_uri(), "0" * 64, repo)
    assert list(repo.iterdir()) == []


def test_a_model_file_that_fails_its_metadata_checksum_is_refused(version_dir, tmp_path):
    tampered = tmp_path / "repo" / version_dir.parent.name / "1"
    shutil.copytree(version_dir, tampered)
    with open(tampered / "model.onnx", "r+b") as model:
        first = model.read(1)
        model.seek(0)
        model.write(bytes([first[0] ^ 0xFF]))
    package = tmp_path / "tampered.tar.gz"
    digest = pack([tampered], package)
    with pytest.raises(ModelRepositoryError, match="sha256"):
        fetch(package.as_uri(), digest, tmp_path / "models")


def test_a_member_that_escapes_the_repository_is_refused(tmp_path):
    package = tmp_path / "evil.tar.gz"
    with tarfile.open(package, "w:gz") as archive:
        payload = b"owned"
        member = tarfile.TarInfo("../escaped.txt")
        member.size = len(payload)
        archive.addfile(member, io.BytesIO(payload))
    digest = hashlib.sha256(package.read_bytes()).hexdigest()
    with pytest.raises(PackageError, match="cannot unpack"):
        fetch(package.as_uri(), digest, tmp_path / "models")
    assert not (tmp_path / "escaped.txt").exists()


def test_a_package_without_a_model_version_is_refused(tmp_path):
    package = tmp_path / "empty.tar.gz"
    with tarfile.open(package, "w:gz"):
        pass
    digest = hashlib.sha256(package.read_bytes()).hexdigest()
    with pytest.raises(PackageError, match="no model version"):
        fetch(package.as_uri(), digest, tmp_path / "models")


def test_cli_packs_fetches_and_reports_errors_with_exit_status_1(version_dir, tmp_path, capsys):
    package = tmp_path / "tiny-1.tar.gz"
    assert main(["pack", str(version_dir), "--output", str(package)]) == 0
    digest = capsys.readouterr().out.split()[0]
    repo = tmp_path / "models"
    assert main(["fetch", f"--url={package.as_uri()}", f"--sha256={digest}", f"--into={repo}"]) == 0
    assert capsys.readouterr().out == f"fetched {version_dir.parent.name}:1\n"
    missing = (tmp_path / "missing.tar.gz").as_uri()
    assert main(["fetch", f"--url={missing}", f"--sha256={digest}", f"--into={repo}"]) == 1
    assert "cannot download" in capsys.readouterr().err

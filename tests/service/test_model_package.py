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
    with pytest.raises(PackageError, match=f"{version_dir.parent.name}:1 is refused: .*sha256"):
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


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under `root`, hidden ones included."""
    return {
        str(path.relative_to(root)): path.read_bytes() if path.is_file() else None
        for path in sorted(root.rglob("*"))
    }


def package_of(tmp_path: Path, version_dirs: list[Path], name: str = "package.tar.gz") -> tuple[str, str]:
    """A package of `version_dirs` (each <name>/<version>), its file URL and sha256."""
    package = tmp_path / name
    return package.as_uri(), pack(version_dirs, package)


@pytest.fixture
def repo(version_dir: Path, tmp_path: Path) -> Path:
    """A repository holding the fixture's version 1."""
    repo = tmp_path / "models"
    shutil.copytree(version_dir, repo / version_dir.parent.name / "1")
    return repo


@pytest.fixture
def other_network(export_model, tmp_path: Path, version_dir: Path) -> Path:
    """Version 1 of the same model name, another network (another seed): a valid replacement."""
    return export_model(tmp_path / "other", name=version_dir.parent.name, version=1, seed=1)


def test_a_package_that_fails_verification_changes_nothing(repo, version_dir, other_network, tmp_path):
    # tiny/1 (a replacement, asked for) is valid, tiny/2 cut to 7 bytes: the whole package is refused.
    broken = tmp_path / "broken" / version_dir.parent.name / "2"
    shutil.copytree(version_dir, broken)
    metadata = (broken / "metadata.json").read_text().replace('"version": 1,', '"version": 2,', 1)
    (broken / "metadata.json").write_text(metadata)
    (broken / "model.onnx").write_bytes(b"7 bytes")
    url, digest = package_of(tmp_path, [other_network, broken])
    before = tree(repo)
    with pytest.raises(PackageError, match=r":2 is refused: tiny/2/model\.onnx has 7 bytes"):
        fetch(url, digest, repo, replace=True)
    assert tree(repo) == before, "nothing in the repository changed, no staging folder is left"


def test_an_existing_version_is_replaced_only_when_asked(repo, version_dir, other_network, tmp_path):
    url, digest = package_of(tmp_path, [other_network])
    before = tree(repo)
    with pytest.raises(PackageError, match="already in the repository"):
        fetch(url, digest, repo)
    assert tree(repo) == before
    assert fetch(url, digest, repo, replace=True) == [f"{version_dir.parent.name}:1"]
    assert tree(repo) == {
        f"{version_dir.parent.name}": None,
        **{f"{version_dir.parent.name}/{key}": value for key, value in tree(other_network.parent).items()},
    }


def test_fetching_the_same_package_again_changes_nothing(repo, version_dir, tmp_path):
    url, digest = package_of(tmp_path, [version_dir])
    before = tree(repo)
    assert fetch(url, digest, repo) == [f"{version_dir.parent.name}:1"]  # identical: nothing to replace
    assert tree(repo) == before


@pytest.mark.parametrize("stray", ["README.txt", "tiny/notes.txt", "tiny/latest/model.onnx"])
def test_a_package_with_files_outside_version_folders_is_refused(repo, version_dir, tmp_path, stray):
    package = tmp_path / "stray.tar.gz"
    with tarfile.open(package, "w:gz") as archive:
        archive.add(version_dir, arcname=f"{version_dir.parent.name}/2")
        member = tarfile.TarInfo(stray)
        member.size = 2
        archive.addfile(member, io.BytesIO(b"hi"))
    before = tree(repo)
    with pytest.raises(PackageError, match="outside"):
        fetch(package.as_uri(), hashlib.sha256(package.read_bytes()).hexdigest(), repo)
    assert tree(repo) == before

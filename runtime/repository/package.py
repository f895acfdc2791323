"""Model packages: model-repository versions as one .tar.gz, fetched and checked before the server starts.

`pack` writes version folders (`<name>/<version>/...`) into a tarball and prints its sha256. `fetch`
downloads one (https, http or file URL), refuses it unless its sha256 is the expected one, unpacks it into
the repository folder (Python's "data" filter: no absolute paths, no links or paths out of the folder) and
checks every version it brought against its metadata's checksums. A Kubernetes init container runs `fetch`
into the volume the server then mounts read-only (deploy/k8s/components/model-package).
"""

import argparse
import hashlib
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

from core.model_repo import ModelRepositoryError, read_version_metadata, sha256_file, verify_file
from runtime.repository.folders import version_folders

CHUNK_BYTES = 1 << 20
DOWNLOAD_TIMEOUT_S = 60


class PackageError(RuntimeError):
    """The package could not be downloaded, does not match its checksum, or holds no valid version."""


def pack(version_dirs: list[Path], output: Path) -> str:
    """Write each `<name>/<version>` folder into `output` (.tar.gz) under that relative path; its sha256."""
    with tarfile.open(output, "w:gz") as archive:
        for version_dir in version_dirs:
            version_dir = Path(version_dir).resolve()
            read_version_metadata(version_dir)
            archive.add(version_dir, arcname=f"{version_dir.parent.name}/{version_dir.name}")
    return sha256_file(output)


def _download(url: str, target: Path) -> str:
    """Stream `url` into `target`; its sha256."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(target, "wb") as out:
            for block in iter(lambda: response.read(CHUNK_BYTES), b""):
                digest.update(block)
                out.write(block)
    except OSError as error:
        raise PackageError(f"cannot download {url}: {error}") from error
    return digest.hexdigest()


def verify_repository(root: Path) -> list[str]:
    """`name:version` of every version under `root`, each checked against its metadata's checksums."""
    labels = []
    for (name, version), version_dir in version_folders(root).items():
        metadata = read_version_metadata(version_dir)
        for file_name in metadata.files:
            verify_file(version_dir, metadata, file_name)
        labels.append(f"{name}:{version}")
    if not labels:
        raise PackageError(f"the package put no model version into {root}")
    return labels


def fetch(url: str, sha256: str, into: Path) -> list[str]:
    """Download, check and unpack the package at `url` into `into`; the versions it brought."""
    into = Path(into)
    into.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=into, prefix=".download-") as scratch:
        archive = Path(scratch) / "package.tar.gz"
        actual = _download(url, archive)
        if actual != sha256.lower():
            raise PackageError(f"{url} has sha256 {actual}, expected {sha256.lower()}")
        try:
            with tarfile.open(archive, "r:gz") as package:
                package.extractall(into, filter="data")
        except (tarfile.TarError, OSError) as error:
            raise PackageError(f"cannot unpack {url}: {error}") from error
    return verify_repository(into)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime.repository.package", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    pack_cmd = commands.add_parser("pack", help="write version folders into a .tar.gz; print its sha256")
    pack_cmd.add_argument("version_dirs", nargs="+", type=Path, help="REPO/<name>/<version> folders")
    pack_cmd.add_argument("--output", "-o", type=Path, required=True)
    fetch_cmd = commands.add_parser("fetch", help="download, check and unpack a package into a repository")
    fetch_cmd.add_argument("--url", required=True)
    fetch_cmd.add_argument("--sha256", required=True, help="expected sha256 of the .tar.gz")
    fetch_cmd.add_argument("--into", type=Path, required=True, help="model repository folder")
    args = parser.parse_args(argv)
    try:
        if args.command == "pack":
            print(f"{pack(args.version_dirs, args.output)}  {args.output}")
        else:
            for label in fetch(args.url, args.sha256, args.into):
                print(f"fetched {label}")
    except (PackageError, ModelRepositoryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

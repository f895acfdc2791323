"""Model packages: model-repository versions as one .tar.gz, fetched and checked before the server starts.

`pack` writes version folders (`<name>/<version>/...`) into a tarball and prints its sha256. `fetch`
downloads one (https, http or file URL), refuses it unless its sha256 is the expected one, unpacks it into a
staging folder inside the repository folder (hidden, so on the same filesystem; Python's "data" filter: no
absolute paths, no links or paths out of the folder), checks that everything in it lies in a version folder
and that every version matches its metadata (name, number, checksums), and only then moves each whole
version folder into the repository with a rename. A version already in the repository is replaced only with
`--replace` (one identical to the package's is left as it is). On any failure the repository is as it was.
A Kubernetes init container runs `fetch` into the volume the server then mounts read-only
(deploy/k8s/components/model-package).
"""

import argparse
import hashlib
import os
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

from core.model_repo import (
    METADATA_FILE,
    ModelRepositoryError,
    VersionMetadata,
    list_versions,
    read_version_metadata,
    sha256_file,
    verify_file,
)

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


def _staged_versions(staging: Path) -> dict[tuple[str, int], Path]:
    """The version folders of an unpacked package; PackageError for anything outside `<name>/<version>/`."""
    versions: dict[tuple[str, int], Path] = {}
    for model_dir in sorted(staging.iterdir()):
        if not model_dir.is_dir() or model_dir.name.startswith("."):
            raise PackageError(f"the package holds {model_dir.name!r} outside a <name>/<version>/ folder")
        version_names = {str(version) for version in list_versions(model_dir)}
        for entry in sorted(model_dir.iterdir()):
            if entry.name not in version_names:
                where = f"{model_dir.name}/{entry.name}"
                raise PackageError(f"the package holds {where!r} outside a <name>/<version>/ folder")
            versions[(model_dir.name, int(entry.name))] = entry
    if not versions:
        raise PackageError("the package holds no model version")
    return versions


def verify_version(version_dir: Path, name: str, version: int) -> VersionMetadata:
    """The version's metadata, checked against its folder's name and number and every file's checksum."""
    metadata = read_version_metadata(version_dir)
    if (metadata.name, metadata.version) != (name, version):
        raise ModelRepositoryError(
            f"{name}/{version}/{METADATA_FILE} describes {metadata.name} version {metadata.version}"
        )
    for file_name in metadata.files:
        verify_file(version_dir, metadata, file_name)
    return metadata


def _same_version(installed: Path, staged: Path) -> bool:
    """The installed folder holds the staged version's metadata and files, byte for byte (by checksum)."""
    try:
        if (installed / METADATA_FILE).read_bytes() != (staged / METADATA_FILE).read_bytes():
            return False
        metadata = read_version_metadata(staged)
        for file_name in metadata.files:
            verify_file(installed, metadata, file_name)
    except (OSError, ModelRepositoryError):
        return False
    return True


def _move_in(staged: dict[tuple[str, int], Path], into: Path, retired_dir: Path) -> None:
    """Rename each staged version folder into `into`, an existing one first aside into `retired_dir`; undo
    every move when one fails."""
    done: list[tuple[Path, Path, Path | None]] = []
    made_dirs: list[Path] = []
    try:
        for (name, version), source in staged.items():
            model_dir = into / name
            if not model_dir.is_dir():
                model_dir.mkdir()
                made_dirs.append(model_dir)
            target = model_dir / str(version)
            retired = None
            if target.exists():
                retired = retired_dir / name / str(version)
                retired.parent.mkdir(parents=True, exist_ok=True)
                target.rename(retired)
            try:
                source.rename(target)
            except OSError:
                if retired is not None:
                    retired.rename(target)
                raise
            done.append((source, target, retired))
    except OSError as error:
        for source, target, retired in reversed(done):
            target.rename(source)
            if retired is not None:
                retired.rename(target)
        for model_dir in made_dirs:
            model_dir.rmdir()
        raise PackageError(f"cannot move the package's versions into the repository: {error}") from error


def fetch(url: str, sha256: str, into: Path, replace: bool = False) -> list[str]:
    """Download, check and install the package at `url` into `into`; the versions it holds, as name:version.

    Nothing in `into` changes unless every check passes; an existing version is replaced only with
    `replace` (an identical one stays as it is).
    """
    into = Path(into)
    into.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=into, prefix=".download-") as scratch:
        archive = Path(scratch) / "package.tar.gz"
        actual = _download(url, archive)
        if actual != sha256.lower():
            raise PackageError(f"{url} has sha256 {actual}, expected {sha256.lower()}")
        staging = Path(scratch) / "staging"
        staging.mkdir()
        try:
            with tarfile.open(archive, "r:gz") as package:
                package.extractall(staging, filter="data")
        except (tarfile.TarError, OSError) as error:
            raise PackageError(f"cannot unpack {url}: {error}") from error
        staged = _staged_versions(staging)
        for (name, version), version_dir in staged.items():
            try:
                verify_version(version_dir, name, version)
            except ModelRepositoryError as error:
                problem = str(error).replace(f"{staging}{os.sep}", "")
                raise PackageError(f"the package's version {name}:{version} is refused: {problem}") from error
        targets = {(name, version): into / name / str(version) for name, version in staged}
        installed = {key: path for key, path in targets.items() if path.exists()}
        unchanged = {key for key, path in installed.items() if _same_version(path, staged[key])}
        conflicts = sorted(set(installed) - unchanged)
        if conflicts and not replace:
            labels = ", ".join(f"{name}:{version}" for name, version in conflicts)
            raise PackageError(f"{labels} already in the repository with other files (use --replace)")
        _move_in({k: v for k, v in staged.items() if k not in unchanged}, into, Path(scratch) / "retired")
    return [f"{name}:{version}" for name, version in staged]


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
    fetch_cmd.add_argument(
        "--replace", action="store_true", help="replace versions already in the repository with other files"
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "pack":
            print(f"{pack(args.version_dirs, args.output)}  {args.output}")
        else:
            for label in fetch(args.url, args.sha256, args.into, args.replace):
                print(f"fetched {label}")
    except (PackageError, ModelRepositoryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

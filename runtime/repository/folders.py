"""Where the versions are on disk: model_repo/<name>/<version>/, as core.model_repo lays it out.

The one place that lists the repository folder; the loader, the live repository, model packages and the
command-line tools all read it through here.
"""

from pathlib import Path

from core.model_repo import list_versions
from runtime.errors import RepositoryUnavailableError

# Each model folder's versions by model name; None for a model folder that cannot be listed now.
RepositoryListing = dict[str, dict[int, Path] | None]


def model_dirs(root: Path) -> list[Path]:
    """The model folders under the repository root (hidden ones, e.g. a download in progress, skipped)."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def versions_on_disk(model_dir: Path) -> dict[int, Path]:
    """Version folders of one model; none when the folder is gone or being changed under the scan."""
    try:
        return {v: model_dir / str(v) for v in list_versions(model_dir)}
    except OSError:
        return {}


def version_folders(root: Path) -> dict[tuple[str, int], Path]:
    """Every version folder under the repository root by (name, version), in name and version order."""
    return {(d.name, v): path for d in model_dirs(root) for v, path in versions_on_disk(d).items()}


def scan_repository(root: Path) -> RepositoryListing:
    """The repository now, for the live repository to act on: RepositoryUnavailableError when the root is
    missing or cannot be listed, None for a model folder that cannot be; a folder that is away for a moment
    is never read as empty."""
    try:
        entries = sorted(Path(root).iterdir())
    except OSError as error:
        raise RepositoryUnavailableError(
            f"the model repository cannot be read: {error.strerror or type(error).__name__}"
        ) from error
    listing: RepositoryListing = {}
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        try:
            listing[entry.name] = {v: entry / str(v) for v in list_versions(entry)}
        except FileNotFoundError:
            continue  # removed under the scan: gone
        except OSError:
            listing[entry.name] = None
    return listing

"""`python -m service` / `hgpose-serve`: run the pose service with uvicorn."""

import argparse
import sys

NO_MODEL_MESSAGE = """\
error: the model repository {repo} holds no model.
A model version is a folder {repo}/<name>/<version>/ with model.onnx, model.mindir and metadata.json,
written by the training export. Train and export one, for example:
    python -m training.train ...            (see README.md, "Training")
    python -m training.export --ckpt CKPT --name hourglass --version 1 --repo {repo}
or point --model-repo / HGPOSE_MODEL_REPO at an existing repository.
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from runtime.backends import BACKEND_CHOICES
    from service.settings import LOG_LEVELS

    parser = argparse.ArgumentParser(prog="hgpose-serve", description=__doc__)
    parser.add_argument("--host", help="bind address (HGPOSE_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (HGPOSE_PORT, default 8000)")
    parser.add_argument("--model-repo", help="model repository (HGPOSE_MODEL_REPO, default model_repo)")
    parser.add_argument("--backend", choices=BACKEND_CHOICES, help="runtime (HGPOSE_BACKEND)")
    parser.add_argument("--log-level", choices=LOG_LEVELS, help="HGPOSE_LOG_LEVEL")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import uvicorn
    from pydantic import ValidationError

    from runtime.repository.folders import version_folders
    from service.app import create_app
    from service.logs import configure_logging
    from service.server import server_options
    from service.settings import Settings

    args = parse_args(argv)
    overrides = {key: value for key, value in vars(args).items() if value is not None}
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        print(f"error: invalid settings:\n{error}", file=sys.stderr)
        return 2
    if not version_folders(settings.model_repo):
        print(NO_MODEL_MESSAGE.format(repo=settings.model_repo), file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        **server_options(settings),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

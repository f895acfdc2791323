"""Malformed image files, made from valid ones that Pillow encodes here, so the repository holds none.

`corpus()` names one file per kind of damage a client's upload has shown (a cut JPEG, BMP headers Pillow does
not take, PNG text and ICC chunks that unpack too far, a chunk length past the end, a corrupt WebP, a cut
APNG); `mutations()` makes seeded random damage (truncation, bit flips, PNG chunk-length edits) for fuzzing.
`python tests/service/malformed_images.py OUT` writes the corpus into OUT to probe a service by hand.
"""

import io
import struct
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BMP_FILE_HEADER_BYTES = 14  # then the info header: its size (4 bytes), width, height, planes, depth, ...
BMP_DEPTH_OFFSET = 28
BMP_COMPRESSION_OFFSET = 30
MIB = 1 << 20


def sample_pixels(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """Smooth random RGB content (uint8), small enough that each file is a few KB."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BILINEAR))


def encoded(fmt: str, pixels: np.ndarray | None = None, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(sample_pixels() if pixels is None else pixels).save(buffer, fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_chunks(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(offset, length, type) of each chunk of a PNG, from its length fields."""
    offset = len(PNG_SIGNATURE)
    while offset + 8 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        yield offset, length, data[offset + 4 : offset + 8]
        offset += 12 + length


def png_with_chunks_after_header(chunks: list[bytes]) -> bytes:
    """A valid PNG with `chunks` inserted right after IHDR (where iCCP and text may stand)."""
    png = encoded("PNG")
    _, header_length, _ = next(png_chunks(png))
    end_of_header = len(PNG_SIGNATURE) + 12 + header_length
    return png[:end_of_header] + b"".join(chunks) + png[end_of_header:]


def png_with_text(total_bytes: int, per_chunk: int = MIB - 1024) -> bytes:
    """A PNG whose zTXt chunks unpack to `total_bytes` of text in all (each under Pillow's chunk limit)."""
    chunks = []
    for index, start in enumerate(range(0, total_bytes, per_chunk)):
        text = b"a" * min(per_chunk, total_bytes - start)
        chunks.append(png_chunk(b"zTXt", b"note%d\0\0" % index + zlib.compress(text, 9)))
    return png_with_chunks_after_header(chunks)


def _patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    patched = bytearray(data)
    struct.pack_into(fmt, patched, offset, value)
    return bytes(patched)


def _apng(frames: int = 3) -> bytes:
    images = [Image.fromarray(sample_pixels(seed=seed)) for seed in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "PNG", save_all=True, append_images=images[1:])
    return buffer.getvalue()


def mpo(frames: int = 2) -> bytes:
    """A multi-picture JPEG (MPO), as phones write for HDR and depth photos: frame i from seed i."""
    images = [Image.fromarray(sample_pixels(seed=seed)) for seed in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "MPO", save_all=True, append_images=images[1:])
    return buffer.getvalue()


def corpus() -> dict[str, bytes]:
    """One malformed file per kind of damage, by name; none of them is an image a decoder should take."""
    png = encoded("PNG")
    bmp = encoded("BMP")
    webp = encoded("WEBP", lossless=True)
    apng = _apng()
    _, header_length, _ = next(png_chunks(png))
    frame_control = next(offset for offset, _, kind in png_chunks(apng) if kind == b"fcTL")
    return {
        "jpeg-cut-to-200-bytes": encoded("JPEG")[:200],
        "bmp-unsupported-compression": _patched(bmp, BMP_COMPRESSION_OFFSET, "<I", 7),
        "bmp-unsupported-depth": _patched(bmp, BMP_DEPTH_OFFSET, "<H", 7),
        "bmp-unsupported-header": _patched(bmp, BMP_FILE_HEADER_BYTES, "<I", 20),
        "png-iccp-unpacks-past-1mib": png_with_chunks_after_header(
            [png_chunk(b"iCCP", b"profile\0\0" + zlib.compress(bytes(2 * MIB), 9))]
        ),
        "png-ztxt-unpacks-past-1mib": png_with_chunks_after_header(
            [png_chunk(b"zTXt", b"note\0\0" + zlib.compress(b"a" * (2 * MIB), 9))]
        ),
        "png-text-over-64mib": png_with_text(65 * MIB),
        "png-chunk-length-past-the-end": _patched(png, len(PNG_SIGNATURE), ">I", len(png) + header_length),
        "webp-corrupt": webp[:20] + bytes(len(webp) - 40) + webp[-20:],
        "apng-cut-in-its-first-frame-control": apng[: frame_control + 18],
    }


def mutations(data: bytes, count: int, seed: int) -> Iterator[bytes]:
    """`count` damaged copies of an image file: cut short, bits flipped, or (PNG) a chunk length changed."""
    rng = np.random.default_rng(seed)
    chunk_offsets = [offset for offset, _, _ in png_chunks(data)] if data.startswith(PNG_SIGNATURE) else []
    for _ in range(count):
        kind = rng.integers(3 if chunk_offsets else 2)
        if kind == 0:
            yield data[: int(rng.integers(1, len(data)))]
        elif kind == 1:
            flipped = bytearray(data)
            for position in rng.integers(0, len(data), size=int(rng.integers(1, 9))):
                flipped[position] ^= 1 << int(rng.integers(8))
            yield bytes(flipped)
        else:
            offset = chunk_offsets[int(rng.integers(len(chunk_offsets)))]
            length = int(rng.choice([0, 1, len(data), 2**31 - 1, int(rng.integers(0, 2**32))]))
            yield _patched(data, offset, ">I", length)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python tests/service/malformed_images.py OUT_FOLDER", file=sys.stderr)
        return 2
    folder = Path(argv[0])
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in corpus().items():
        (folder / name).write_bytes(data)
        print(f"{len(data):>9}  {folder / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

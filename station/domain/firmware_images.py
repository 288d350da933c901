"""Firmware image files (BIN, Intel HEX, ELF) as the segments the station programs.

The recipe pins each image's *content* hash: SHA-256 over the bytes that get programmed, in
ascending address order, without gaps or addresses; so one firmware as BIN, HEX and ELF has
one hash (see ``image_content_sha256``).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from pathlib import Path

from station.domain.recipe import ImageFormat, ImageSegment


def image_content_sha256(segments: Iterable[ImageSegment]) -> str:
    """The pinned-hash definition: SHA-256 over the segments' bytes in ascending address order."""
    digest = hashlib.sha256()
    for segment in sorted(segments, key=lambda item: item.address):
        digest.update(segment.data)
    return digest.hexdigest()


def read_image(path: Path, image_format: ImageFormat, load_address: int | None = None) -> tuple[ImageSegment, ...]:
    """Parse an image file into segments (sorted by address). Raises ``ValueError`` when it
    cannot be parsed, ``OSError`` when it cannot be read."""
    data = path.read_bytes()
    if image_format is ImageFormat.BIN:
        if load_address is None:
            raise ValueError("a BIN image needs a load address")
        segments = [ImageSegment(load_address, data)] if data else []
    elif image_format is ImageFormat.HEX:
        segments = _hex_segments(data)
    else:
        segments = _elf_segments(data)
    return tuple(sorted(segments, key=lambda item: item.address))



def _hex_segments(data: bytes) -> list[ImageSegment]:
    from intelhex import IntelHex, IntelHexError

    image = IntelHex()
    try:
        image.loadhex(io.StringIO(data.decode("ascii")))
    except UnicodeDecodeError:
        raise ValueError("not ASCII text") from None
    except IntelHexError as error:
        raise ValueError(str(error)) from None
    except Exception as error:  # intelhex raises assorted errors for damaged input
        raise ValueError(f"damaged HEX file ({type(error).__name__}: {error})") from None
    segments = []
    for start, stop in image.segments():
        segments.append(ImageSegment(start, bytes(image.tobinarray(start=start, end=stop - 1))))
    return segments


def _elf_segments(data: bytes) -> list[ImageSegment]:
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        elf = ELFFile(io.BytesIO(data))
        segments = []
        for segment in elf.iter_segments():
            if segment["p_type"] != "PT_LOAD" or segment["p_filesz"] == 0:
                continue
            content = segment.data()[: segment["p_filesz"]]
            if len(content) != segment["p_filesz"]:
                raise ValueError("a PT_LOAD segment runs past the end of the file")
            segments.append(ImageSegment(int(segment["p_paddr"]), bytes(content)))
    except ELFError as error:
        raise ValueError(str(error)) from None
    except ValueError:
        raise
    except Exception as error:  # pyelftools raises assorted errors for damaged input
        raise ValueError(f"damaged ELF file ({type(error).__name__}: {error})") from None
    return segments

"""Files kept on disk by their content: what operators send, until the outbox sends it
and for as long as the conversation shows it.

A file's name is its SHA-256 (``ab/abcdef...`` under the directory), never anything a
client sent, so no upload can choose where it lands and the same file sent twice is
stored once.
"""

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import IO

from core.errors import NotFound

#: A SHA-256 in hex: the only names the store opens.
DIGEST = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20


class FileStore:
    """Content-addressed files under ``root`` (created when first written to)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def put(self, source: IO[bytes]) -> tuple[str, int]:
        """Copy ``source`` from its start into the store; its SHA-256 and size in bytes.

        Written to a temporary file beside its final place and renamed, so a crash
        never leaves half a file under a digest.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        source.seek(0)
        with tempfile.NamedTemporaryFile(dir=self.root, prefix=".upload-", delete=False) as out:
            try:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            except BaseException:
                os.unlink(out.name)
                raise
        sha256 = digest.hexdigest()
        target = self._path(sha256)
        target.parent.mkdir(exist_ok=True)
        os.replace(out.name, target)
        return sha256, size

    def path(self, sha256: str) -> Path:
        """Where the file ``sha256`` is, or :class:`NotFound` when it is not kept."""
        target = self._path(sha256)
        if not target.is_file():
            raise NotFound("the file is no longer kept", field="sha256")
        return target

    def _path(self, sha256: str) -> Path:
        if not DIGEST.match(sha256):
            raise NotFound("no such file", field="sha256")
        return self.root / sha256[:2] / sha256

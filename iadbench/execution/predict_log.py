"""Where ``iadbench predict`` writes: the output checked first, rows appended, resumed after a kill.

Rows are appended to ``<output>.partial`` as they are predicted (flushed after every batch), and
the output file appears only when every image has its row, written from that file in input order
through a temporary file and a rename; the ``.partial`` file is then removed. A killed or
interrupted ``predict`` leaves the ``.partial`` file, and the same command predicts only the
images it lacks, so the output is byte-identical to an uninterrupted one.

The ``.partial`` file belongs to one command: its first line records the command's *identity*
(method, version, options, training, threshold, category and dataset given, the images), and
predict resumes it only under the same identity. Each line carries a digest chained over every
line before it (``chain``: the links of :mod:`iadbench.runs.chain`, as in ``predictions.jsonl``),
so a row edited by hand is refused on resume rather than carried into the output. ``--force``
starts over. While a command works it holds an exclusive lock on the ``.partial`` file
(``flock``; released by the OS when the process dies, even by kill -9), so a second ``predict``
to the same output is refused instead of interleaving its rows.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

from iadbench.contract.errors import IADBenchError, environment_cause, environment_failure
from iadbench.execution.label_files import Row, RowWriter, write_rows, writer_for
from iadbench.runs.chain import GENESIS, link
from iadbench.runs.output_guard import check_output_file

#: Suffix added to the output's name for its unfinished rows.
PARTIAL_SUFFIX: Final = ".partial"
_FORMAT: Final = "iadbench-predict-partial/1"


def partial_path(output: Path) -> Path:
    """The file holding ``output``'s unfinished rows."""
    return output.with_name(output.name + PARTIAL_SUFFIX)


def _canonical(value: Any) -> bytes:
    """What a digest covers: key order and spacing do not matter."""
    return json.dumps(value, sort_keys=True, ensure_ascii=True, separators=(",", ":")).encode()


def _line(value: Any) -> str:
    # Keys keep their order (the output's columns); ASCII escapes, so a file name that is not
    # UTF-8 (a lone surrogate) still writes.
    return json.dumps(value, ensure_ascii=True) + "\n"


class PredictOutput:
    """The output file of one ``predict`` command and its ``.partial`` file of finished rows.

    Use it as a context manager: the ``.partial`` file opened by :meth:`start` stays open and
    locked until the block ends, however it ends.
    """

    def __init__(self, output: Path, writer: RowWriter) -> None:
        self.output = output
        self.partial = partial_path(output)
        self._writer = writer
        self._chain = GENESIS
        self._handle: IO[bytes] | None = None
        self._empty = False  # the .partial file holds only the header this attempt wrote

    @classmethod
    def checked(
        cls, output: Path, *, force: bool, dataset_roots: Iterable[Path | str] = ()
    ) -> PredictOutput:
        """The output, refused before any work if its format or place is wrong.

        Raises:
            IADBenchError: Not ``.jsonl``/``.csv``; a folder; inside a run dir or a dataset root;
                an existing file without ``force``; a place that cannot be written
                (:func:`iadbench.runs.output_guard.check_output_file`).
        """
        writer = writer_for(output)
        target = check_output_file(output, force=force, dataset_roots=dataset_roots)
        if partial_path(target).is_dir():
            raise IADBenchError(f"--output {output}: {partial_path(target)} is a folder; remove it")
        return cls(target, writer)

    def __enter__(self) -> PredictOutput:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # A command refused before its first row (a missing training...) leaves nothing behind.
        if kind is not None and self._empty and self._handle is not None:
            self.partial.unlink(missing_ok=True)
        self._close()

    def start(self, identity: Mapping[str, Any], *, restart: bool) -> dict[str, Row]:
        """Open and lock the ``.partial`` file; return the rows it already holds, by id.

        Args:
            identity: What the rows depend on (JSON values); a ``.partial`` file recorded under
                another identity is refused.
            restart: Discard the rows of any earlier attempt (``--force``).

        Raises:
            IADBenchError: Another ``predict`` is writing this output now, or the ``.partial``
                file belongs to another command or was edited.
        """
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        try:  # O_NOFOLLOW: a link planted at the .partial name must not redirect the rows
            descriptor = os.open(
                self.partial, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o666
            )
        except OSError as exc:
            if not self.partial.is_symlink():
                raise
            raise IADBenchError(
                f"--output {self.output}: {self.partial} is a symbolic link; predict writes its "
                "unfinished rows only to a plain file there: remove the link"
            ) from exc
        handle = self._handle = os.fdopen(descriptor, "a+b")
        _lock(handle, self.output, self.partial)
        if restart:
            handle.truncate(0)
        identity = json.loads(_canonical(identity))  # as it reads back from the file
        lines = self._complete_lines()
        if not lines:
            self._chain = link(GENESIS, {"identity": identity})
            header = {"format": _FORMAT, "identity": identity, "chain": self._chain}
            self._append(_line(header))
            self._empty = True
            return {}
        return self._verified_rows(lines, identity)

    def append(self, rows: Sequence[tuple[str, Row]]) -> None:
        """Append rows (``(sample id, row)``) and flush them to the OS before returning.

        Raises:
            EnvironmentFailure: The disk is full or failing; the rows appended before stay.
        """
        lines = []
        for sample_id, row in rows:
            entry = {"id": sample_id, "row": row}
            self._chain = link(self._chain, entry)
            lines.append(_line({**entry, "chain": self._chain}))
        self._append("".join(lines))
        self._empty = False

    def finish(self, identity: Mapping[str, Any], order: Sequence[str]) -> list[Row]:
        """Write the output file from the ``.partial`` file, rows in ``order``, then remove it.

        The rows are read back from the file whether this attempt predicted them or an earlier
        one did, so a resumed output is byte for byte the uninterrupted one.

        Returns:
            The rows written.

        Raises:
            IADBenchError: The ``.partial`` file was changed meanwhile, or lacks a row.
        """
        stored = self._verified_rows(self._complete_lines(), json.loads(_canonical(identity)))
        missing = [sample_id for sample_id in order if sample_id not in stored]
        if missing:
            raise IADBenchError(
                f"--output {self.output}: {self.partial} lacks the rows of {len(missing)} images "
                f"(first: {missing[0]}); run the same command again"
            )
        rows = [stored[sample_id] for sample_id in order]
        try:
            write_rows(self.output, rows, self._writer)
        except OSError as exc:
            if environment_cause(exc) is None:
                raise
            raise environment_failure(exc, f"writing {self.output}") from exc
        # Removed while still locked: no other command resumes rows that are published.
        self.partial.unlink(missing_ok=True)
        self._close()
        return rows

    def _close(self) -> None:
        if self._handle is not None:
            self._handle.close()  # releases the lock
            self._handle = None

    def _append(self, text: str) -> None:
        assert self._handle is not None, "start() opens the .partial file"
        try:
            self._handle.write(text.encode())
            self._handle.flush()
        except OSError as exc:
            if environment_cause(exc) is None:
                raise
            raise environment_failure(exc, f"appending rows to {self.partial}") from exc

    def _complete_lines(self) -> list[bytes]:
        """The ``.partial`` file's complete lines, a torn last line (a kill mid-write) cut off."""
        assert self._handle is not None, "start() opens the .partial file"
        self._handle.seek(0)
        data = self._handle.read()
        keep = data.rfind(b"\n") + 1
        if keep < len(data):
            self._handle.truncate(keep)
        return data[:keep].splitlines()

    def _verified_rows(self, lines: list[bytes], identity: Any) -> dict[str, Row]:
        def edited(number: int) -> IADBenchError:
            return IADBenchError(
                f"--output {self.output}: line {number} of {self.partial} was changed after "
                "predict wrote it (its digest chain does not hold); add --force to start over"
            )

        try:
            header = json.loads(lines[0])
            entries = [json.loads(line) for line in lines[1:]]
        except ValueError:
            raise edited(1) from None
        if not isinstance(header, dict) or header.get("format") != _FORMAT:
            raise edited(1)
        if header.get("identity") != identity:
            raise IADBenchError(
                f"--output {self.output}: {self.partial} holds the unfinished rows of another "
                "predict command (other images, method, options, training or threshold); add "
                "--force to start over, or name another --output"
            )
        chain = link(GENESIS, {"identity": identity})
        if header.get("chain") != chain:
            raise edited(1)
        rows: dict[str, Row] = {}
        for number, entry in enumerate(entries, start=2):
            if not isinstance(entry, dict) or set(entry) != {"id", "row", "chain"}:
                raise edited(number)
            chain = link(chain, {"id": entry["id"], "row": entry["row"]})
            if entry["chain"] != chain:
                raise edited(number)
            rows[entry["id"]] = entry["row"]
        self._chain = chain
        return rows


def _lock(handle: IO[bytes], output: Path, partial: Path) -> None:
    """Hold an exclusive lock on the open ``.partial`` file, or refuse a second writer."""
    if sys.platform == "win32":  # no flock: concurrent commands are not detected there
        return
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise IADBenchError(
            f"--output {output}: another predict is writing it now (it holds {partial}); wait "
            "for it to finish, or name another --output"
        ) from None

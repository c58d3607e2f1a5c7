"""The storage contract: every :class:`~monolith.ports.storage.FileSystem` passes it.

Subclass :class:`StorageContract` and provide two fixtures::

    class TestMyStorage(StorageContract):
        @pytest.fixture
        def fs(self) -> FileSystem: ...

        @pytest.fixture
        def root(self, fs) -> str:
            return "myscheme://bucket/some-fresh-dir"

``root`` is a fresh, empty (possibly not yet existing) directory URI for one
test; the suite only writes below it.
"""

from __future__ import annotations

import hashlib
import threading

import pytest

from monolith.domain.errors import NotFoundError, StorageError
from monolith.ports.storage import FileSystem

MIB = 1 << 20


def _write(fs: FileSystem, path: str, data: bytes) -> None:
    with fs.open(path, "wb") as handle:
        handle.write(data)


def _read(fs: FileSystem, path: str) -> bytes:
    with fs.open(path, "rb") as handle:
        return handle.read()


class StorageContract:
    """Behaviour every file-system adapter must show."""

    #: Set True for stores whose rename cannot replace atomically (WebHDFS
    #: deletes the target first): a concurrent reader may then briefly see
    #: "not found", but still never a partial file.
    replace_may_vanish: bool = False

    @pytest.fixture
    def fs(self) -> FileSystem:
        raise NotImplementedError("subclasses provide the fs fixture")

    @pytest.fixture
    def root(self, fs: FileSystem) -> str:
        raise NotImplementedError("subclasses provide the root fixture")

    def test_written_bytes_read_back_identically(
        self, fs: FileSystem, root: str
    ) -> None:
        path = f"{root}/a/b/data.bin"
        payload = bytes(range(256)) * 40

        _write(fs, path, payload)

        assert _read(fs, path) == payload
        assert fs.size(path) == len(payload)
        assert fs.exists(path) and not fs.isdir(path)
        assert fs.isdir(f"{root}/a/b")

    def test_reading_in_chunks_returns_the_whole_file(
        self, fs: FileSystem, root: str
    ) -> None:
        path = f"{root}/chunks.bin"
        payload = bytes(range(256)) * 100
        _write(fs, path, payload)

        parts = []
        with fs.open(path, "rb") as handle:
            while chunk := handle.read(1000):
                parts.append(chunk)

        assert b"".join(parts) == payload

    def test_a_reader_can_seek_and_read_a_range(
        self, fs: FileSystem, root: str
    ) -> None:
        path = f"{root}/seek.bin"
        payload = bytes(range(256)) * 64
        _write(fs, path, payload)

        with fs.open(path, "rb") as handle:
            handle.seek(1000)
            middle = handle.read(300)
            handle.seek(0)
            start = handle.read(10)

        assert middle == payload[1000:1300]
        assert start == payload[:10]

    def test_write_mode_truncates_an_existing_file(
        self, fs: FileSystem, root: str
    ) -> None:
        path = f"{root}/t.txt"
        _write(fs, path, b"a much longer first version")

        _write(fs, path, b"short")

        assert _read(fs, path) == b"short"

    def test_append_mode_adds_to_the_end_and_creates_missing_files(
        self, fs: FileSystem, root: str
    ) -> None:
        path = f"{root}/log/app.txt"

        with fs.open(path, "ab") as handle:
            handle.write(b"one,")
        with fs.open(path, "ab") as handle:
            handle.write(b"two")

        assert _read(fs, path) == b"one,two"

    def test_empty_file_round_trips(self, fs: FileSystem, root: str) -> None:
        path = f"{root}/empty"

        _write(fs, path, b"")

        assert fs.exists(path)
        assert fs.size(path) == 0
        assert _read(fs, path) == b""

    def test_missing_paths_raise_not_found(self, fs: FileSystem, root: str) -> None:
        missing = f"{root}/no/such/file"

        assert not fs.exists(missing)
        assert not fs.isdir(missing)
        with pytest.raises(NotFoundError):
            fs.open(missing, "rb")
        with pytest.raises(NotFoundError):
            fs.size(missing)
        with pytest.raises(NotFoundError):
            fs.remove(missing)
        with pytest.raises(NotFoundError):
            fs.listdir(missing)
        with pytest.raises(NotFoundError):
            fs.rmtree(missing)
        with pytest.raises(NotFoundError):
            fs.rename(missing, f"{root}/elsewhere")

    def test_not_found_is_also_a_builtin_file_not_found(
        self, fs: FileSystem, root: str
    ) -> None:
        with pytest.raises(FileNotFoundError):
            fs.open(f"{root}/nothing", "rb")

    def test_glob_is_sorted_and_keeps_the_uri_form(
        self, fs: FileSystem, root: str
    ) -> None:
        for name in ["part-2", "part-10", "part-1", "other"]:
            _write(fs, f"{root}/g/{name}", b"x")

        hits = fs.glob(f"{root}/g/part-*")

        assert hits == [f"{root}/g/part-1", f"{root}/g/part-10", f"{root}/g/part-2"]

    def test_glob_matches_across_directories_and_character_classes(
        self, fs: FileSystem, root: str
    ) -> None:
        for name in ["d1/x.rec", "d2/x.rec", "d3/y.rec", "d1/sub/x.rec"]:
            _write(fs, f"{root}/{name}", b"x")

        assert fs.glob(f"{root}/d*/x.rec") == [f"{root}/d1/x.rec", f"{root}/d2/x.rec"]
        assert fs.glob(f"{root}/d[23]/?.rec") == [
            f"{root}/d2/x.rec",
            f"{root}/d3/y.rec",
        ]

    def test_glob_without_a_match_is_empty(self, fs: FileSystem, root: str) -> None:
        fs.makedirs(root)

        assert fs.glob(f"{root}/nothing-*") == []
        assert fs.glob(f"{root}/missing-dir/*") == []

    def test_listdir_names_files_and_directories_sorted(
        self, fs: FileSystem, root: str
    ) -> None:
        _write(fs, f"{root}/l/b.txt", b"1")
        _write(fs, f"{root}/l/a.txt", b"2")
        fs.makedirs(f"{root}/l/sub")

        assert fs.listdir(f"{root}/l") == ["a.txt", "b.txt", "sub"]

    def test_makedirs_is_idempotent(self, fs: FileSystem, root: str) -> None:
        fs.makedirs(f"{root}/x/y/z")
        fs.makedirs(f"{root}/x/y/z")

        assert fs.isdir(f"{root}/x/y/z")
        assert fs.isdir(f"{root}/x")

    def test_remove_deletes_one_file(self, fs: FileSystem, root: str) -> None:
        _write(fs, f"{root}/r/keep", b"k")
        _write(fs, f"{root}/r/drop", b"d")

        fs.remove(f"{root}/r/drop")

        assert fs.listdir(f"{root}/r") == ["keep"]

    def test_rmtree_deletes_a_directory_and_everything_below(
        self, fs: FileSystem, root: str
    ) -> None:
        _write(fs, f"{root}/tree/a/1", b"1")
        _write(fs, f"{root}/tree/b/2", b"2")
        _write(fs, f"{root}/kept", b"3")

        fs.rmtree(f"{root}/tree")

        assert not fs.exists(f"{root}/tree")
        assert not fs.exists(f"{root}/tree/a/1")
        assert _read(fs, f"{root}/kept") == b"3"

    def test_rename_moves_a_file(self, fs: FileSystem, root: str) -> None:
        _write(fs, f"{root}/src", b"payload")

        fs.rename(f"{root}/src", f"{root}/moved/dst")

        assert not fs.exists(f"{root}/src")
        assert _read(fs, f"{root}/moved/dst") == b"payload"

    def test_rename_over_an_existing_file_replaces_it(
        self, fs: FileSystem, root: str
    ) -> None:
        _write(fs, f"{root}/new", b"new content")
        _write(fs, f"{root}/old", b"old content that is longer")

        fs.rename(f"{root}/new", f"{root}/old")

        assert _read(fs, f"{root}/old") == b"new content"
        assert not fs.exists(f"{root}/new")

    def test_walk_files_lists_every_file_below_sorted(
        self, fs: FileSystem, root: str
    ) -> None:
        for name in ["w/b", "w/a/2", "w/a/1", "w/c/d/e"]:
            _write(fs, f"{root}/{name}", b"x")

        found = list(fs.walk_files(f"{root}/w"))

        assert found == [f"{root}/w/{n}" for n in ["a/1", "a/2", "b", "c/d/e"]]

    def test_atomic_write_publishes_only_on_success(
        self, fs: FileSystem, root: str
    ) -> None:
        path = f"{root}/atomic/manifest.json"

        with fs.atomic_write(path) as handle:
            handle.write(b"{}")
            assert not fs.exists(path)

        assert _read(fs, path) == b"{}"
        assert fs.listdir(f"{root}/atomic") == ["manifest.json"]

    def test_atomic_write_that_fails_leaves_the_old_file_and_no_temp(
        self, fs: FileSystem, root: str
    ) -> None:
        path = f"{root}/atomic2/state"
        _write(fs, path, b"old")

        with pytest.raises(RuntimeError, match="boom"):
            with fs.atomic_write(path) as handle:
                handle.write(b"new but never finished")
                raise RuntimeError("boom")

        assert _read(fs, path) == b"old"
        assert fs.listdir(f"{root}/atomic2") == ["state"]

    def test_atomic_write_is_never_seen_partially_by_a_concurrent_reader(
        self, fs: FileSystem, root: str
    ) -> None:
        path = f"{root}/race/blob"
        size = 256 * 1024
        versions = [bytes([65 + i]) * size for i in range(6)]
        _write(fs, path, versions[0])
        seen: list[bytes] = []
        problems: list[str] = []
        done = threading.Event()

        def reader() -> None:
            for _ in range(500):
                if done.is_set() and seen:
                    return
                try:
                    data = _read(fs, path)
                except NotFoundError:
                    if not self.replace_may_vanish:
                        problems.append("file vanished during replace")
                    continue
                if data not in versions:
                    problems.append(f"partial read of {len(data)} bytes")
                seen.append(data[:1])

        thread = threading.Thread(target=reader)
        thread.start()
        for version in versions[1:]:
            with fs.atomic_write(path) as handle:
                for start in range(0, size, 16 * 1024):
                    handle.write(version[start : start + 16 * 1024])
        done.set()
        thread.join(timeout=60)

        assert not thread.is_alive()
        assert problems == []
        assert _read(fs, path) == versions[-1]

    def test_unicode_names_round_trip(self, fs: FileSystem, root: str) -> None:
        name = "données-ファイル-ü ß.txt"
        path = f"{root}/ünï/{name}"

        _write(fs, path, "héllo".encode())

        assert _read(fs, path) == "héllo".encode()
        assert fs.listdir(f"{root}/ünï") == [name]
        assert fs.glob(f"{root}/ünï/données-*") == [path]

    def test_errors_are_storage_errors(self, fs: FileSystem, root: str) -> None:
        _write(fs, f"{root}/file", b"x")

        with pytest.raises(StorageError):
            fs.listdir(f"{root}/file")

    def test_files_and_directories_are_not_interchangeable(
        self, fs: FileSystem, root: str
    ) -> None:
        _write(fs, f"{root}/d/file", b"x")

        with pytest.raises(StorageError):
            fs.open(f"{root}/d", "rb")
        with pytest.raises(StorageError):
            fs.remove(f"{root}/d")
        with pytest.raises(StorageError):
            fs.makedirs(f"{root}/d/file")
        with pytest.raises(StorageError):
            fs.rmtree(f"{root}/d/file")
        with pytest.raises(StorageError):
            fs.size(f"{root}/d")
        assert _read(fs, f"{root}/d/file") == b"x"

    def test_temporary_files_of_atomic_writes_are_hidden_from_globs(
        self, fs: FileSystem, root: str
    ) -> None:
        with fs.atomic_write(f"{root}/h/out") as handle:
            handle.write(b"partial")
            assert fs.glob(f"{root}/h/*") == []

        assert fs.glob(f"{root}/h/*") == [f"{root}/h/out"]

    @pytest.mark.slow
    def test_a_file_larger_than_64_mib_streams_through(
        self, fs: FileSystem, root: str
    ) -> None:
        path = f"{root}/big/blob"
        block = hashlib.sha256(b"seed").digest() * (MIB // 32)
        blocks = 65
        expected = hashlib.sha256()

        with fs.open(path, "wb") as handle:
            for i in range(blocks):
                chunk = bytes([i]) + block[1:]
                expected.update(chunk)
                handle.write(chunk)
        actual = hashlib.sha256()
        total = 0
        with fs.open(path, "rb") as handle:
            while chunk := handle.read(4 * MIB):
                actual.update(chunk)
                total += len(chunk)

        assert total == blocks * MIB
        assert fs.size(path) == blocks * MIB
        assert actual.hexdigest() == expected.hexdigest()

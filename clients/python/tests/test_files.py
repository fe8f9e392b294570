"""sandbox.files against the real bridge (skipped when it lacks the files capability)."""

import hashlib
import io
from datetime import datetime, timezone

import pytest

import sandbox_rpc._common

from sandbox_rpc import (
    AsyncSandbox,
    EntryInfo,
    FileNotFoundException,
    FileType,
    InvalidArgumentException,
    NotFoundException,
    Sandbox,
    WriteInfo,
)

pytestmark = pytest.mark.usefixtures("requires_files")


def home(sandbox: Sandbox) -> str:
    assert sandbox.home
    return sandbox.home.rstrip("/")


def test_write_creates_parents_and_read_formats(sandbox: Sandbox) -> None:
    path = f"{home(sandbox)}/a/b/c.txt"
    info = sandbox.files.write(path, "h\u00e9llo\n")
    assert info == WriteInfo(name="c.txt", type=FileType.FILE, path=path)
    assert sandbox.files.read(path) == "h\u00e9llo\n"
    data = sandbox.files.read(path, format="bytes")
    assert isinstance(data, bytearray) and data == bytearray("h\u00e9llo\n".encode())
    assert b"".join(sandbox.files.read(path, format="stream")) == "h\u00e9llo\n".encode()


def test_write_bytes_and_file_objects(sandbox: Sandbox) -> None:
    raw = bytes(range(256))
    sandbox.files.write("bin.dat", raw)
    assert bytes(sandbox.files.read("bin.dat", format="bytes")) == raw
    sandbox.files.write("from-bytesio", io.BytesIO(b"bytes io"))
    sandbox.files.write("from-stringio", io.StringIO("string io"))
    assert sandbox.files.read("from-bytesio") == "bytes io"
    assert sandbox.files.read("from-stringio") == "string io"


def test_large_files_move_in_pieces(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pieces are a few MiB; made small here so that a debug build of the bridge stays quick.
    monkeypatch.setattr(sandbox_rpc._common, "FILE_CHUNK_SIZE", 64 * 1024)
    raw = bytes(range(256)) * (2 * 512 + 3)  # 262 KiB: five pieces each way
    info = sandbox.files.write("big.bin", raw)
    assert info.path == f"{home(sandbox)}/big.bin"
    assert sandbox.files.get_info("big.bin").size == len(raw)
    assert sandbox.commands.run("md5sum < big.bin").stdout.split()[0] == hashlib.md5(raw).hexdigest()
    assert bytes(sandbox.files.read("big.bin", format="bytes")) == raw
    pieces = list(sandbox.files.read("big.bin", format="stream"))
    assert [len(p) for p in pieces] == [65536] * 4 + [len(raw) - 4 * 65536]
    assert b"".join(pieces) == raw
    sandbox.files.write("big-io.bin", io.BytesIO(raw))
    assert bytes(sandbox.files.read("big-io.bin", format="bytes")) == raw
    text = "\u00e9t\u00e9 " * 30_000  # 210 kB of UTF-8
    sandbox.files.write("big.txt", text)
    assert sandbox.files.read("big.txt") == text
    sandbox.files.write("big-text-io.txt", io.StringIO(text))
    assert sandbox.files.read("big-text-io.txt") == text


def test_a_file_of_several_mib(sandbox: Sandbox) -> None:
    raw = b"0123456789abcdef" * (9 * 65536)  # 9 MiB: three pieces of the real size
    sandbox.files.write("nine.bin", raw)
    assert sandbox.files.get_info("nine.bin").size == len(raw)
    assert [len(p) for p in sandbox.files.read("nine.bin", format="stream")] == [4 << 20, 4 << 20, 1 << 20]


def test_stream_of_a_missing_file_raises_at_once(sandbox: Sandbox) -> None:
    with pytest.raises(FileNotFoundException):
        sandbox.files.read("missing.bin", format="stream")
    sandbox.files.write("empty", b"")
    assert list(sandbox.files.read("empty", format="stream")) == []
    assert sandbox.files.read("empty", format="bytes") == bytearray()


def test_write_files(sandbox: Sandbox) -> None:
    infos = sandbox.files.write_files([{"path": "w/1.txt", "data": "one"}, {"path": "w/2.txt", "data": b"two"}])
    assert [i.name for i in infos] == ["1.txt", "2.txt"]
    assert [i.path for i in infos] == [f"{home(sandbox)}/w/1.txt", f"{home(sandbox)}/w/2.txt"]
    assert sandbox.commands.run("cat w/1.txt w/2.txt").stdout == "onetwo"


def test_read_missing_raises_file_not_found(sandbox: Sandbox) -> None:
    with pytest.raises(FileNotFoundException) as info:
        sandbox.files.read("missing.txt")
    assert isinstance(info.value, NotFoundException) and info.value.kind == "FileNotFound"


def test_relative_paths_and_command_cwd_share_the_home(sandbox: Sandbox) -> None:
    sandbox.files.write("rel.txt", "x")
    assert sandbox.commands.run("cat rel.txt").stdout == "x"
    sandbox.commands.run("echo made > made.txt")
    assert sandbox.files.read("made.txt") == "made\n"
    assert sandbox.files.read(f"{home(sandbox)}/made.txt") == "made\n"


def test_list_depth_and_walk_order(sandbox: Sandbox) -> None:
    root = f"{home(sandbox)}/tree"
    sandbox.files.write("tree/a/deep/file.txt", "1")
    sandbox.files.write("tree/b.txt", "22")
    level1 = sandbox.files.list("tree")
    assert sorted((e.name, e.type, e.path) for e in level1) == [
        ("a", FileType.DIR, f"{root}/a"),
        ("b.txt", FileType.FILE, f"{root}/b.txt"),
    ]
    level3 = sandbox.files.list("tree", depth=3)
    paths = [e.path for e in level3]
    assert sorted(paths) == sorted([f"{root}/a", f"{root}/a/deep", f"{root}/a/deep/file.txt", f"{root}/b.txt"])
    # walk order: a directory comes before what is inside it
    assert paths.index(f"{root}/a") < paths.index(f"{root}/a/deep") < paths.index(f"{root}/a/deep/file.txt")
    for entry in level3:
        assert entry.name == entry.path.rsplit("/", 1)[1]
    with pytest.raises(InvalidArgumentException, match="depth should be at least 1"):
        sandbox.files.list("tree", depth=0)


def test_exists_get_info_remove(sandbox: Sandbox) -> None:
    sandbox.files.write("info.txt", "12345")
    sandbox.commands.run("chmod 644 info.txt")
    assert sandbox.files.exists("info.txt") is True
    assert sandbox.files.exists("nope.txt") is False
    info = sandbox.files.get_info("info.txt")
    assert isinstance(info, EntryInfo)
    assert (info.name, info.type, info.path, info.size) == ("info.txt", FileType.FILE, f"{home(sandbox)}/info.txt", 5)
    assert (info.mode, info.permissions) == (0o644, "-rw-r--r--")
    assert info.modified_time.tzinfo is not None
    assert abs((datetime.now(timezone.utc) - info.modified_time).total_seconds()) < 120
    assert info.symlink_target is None
    me, group = sandbox.commands.run("id -un; id -gn").stdout.split()
    assert (info.owner, info.group) == (me, group)
    sandbox.commands.run("ln -s info.txt link")
    link = sandbox.files.get_info("link")
    assert (link.type, link.symlink_target, link.permissions[0]) == (FileType.SYMLINK, "info.txt", "l")
    sandbox.files.write("dir/inner/x", "x")
    assert sandbox.files.get_info("dir").type == FileType.DIR
    sandbox.files.remove("dir")
    assert sandbox.files.exists("dir") is False
    sandbox.files.remove("dir")  # missing: no error
    with pytest.raises(FileNotFoundException):
        sandbox.files.get_info("dir")


def test_rename_and_make_dir(sandbox: Sandbox) -> None:
    sandbox.files.write("old.txt", "content")
    entry = sandbox.files.rename("old.txt", "new.txt")
    assert (entry.name, entry.path, entry.type, entry.size) == ("new.txt", f"{home(sandbox)}/new.txt", FileType.FILE, 7)
    assert sandbox.files.exists("old.txt") is False
    assert sandbox.files.make_dir("made/dir") is True
    assert sandbox.files.make_dir("made/dir") is False
    assert sandbox.files.get_info("made/dir").type == FileType.DIR


async def test_async_files(bridge_path: str) -> None:
    async with await AsyncSandbox.create() as sandbox:
        info = await sandbox.files.write("x/y.txt", "async")
        assert info.name == "y.txt" and info.path.endswith("/x/y.txt")
        assert await sandbox.files.read("x/y.txt") == "async"
        assert await sandbox.files.read("x/y.txt", format="bytes") == bytearray(b"async")
        assert [piece async for piece in await sandbox.files.read("x/y.txt", format="stream")] == [b"async"]
        raw = b"0123456789" * 90_000
        await sandbox.files.write("x/big", raw)
        assert bytes(await sandbox.files.read("x/big", format="bytes")) == raw
        assert await sandbox.files.exists("x/y.txt") is True
        assert sorted(e.name for e in await sandbox.files.list("x")) == ["big", "y.txt"]
        assert (await sandbox.files.rename("x/y.txt", "x/z.txt")).name == "z.txt"
        assert await sandbox.files.make_dir("x") is False
        await sandbox.files.remove("x")
        assert await sandbox.files.exists("x") is False
        with pytest.raises(FileNotFoundException):
            await sandbox.files.read("x/z.txt")
        with pytest.raises(InvalidArgumentException):
            await sandbox.files.list(".", depth=0)

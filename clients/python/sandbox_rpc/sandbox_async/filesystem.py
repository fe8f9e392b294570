"""`sandbox.files` for the async client."""

from typing import IO, Any, AsyncIterator, List, Literal, Optional, Union, overload

from .._bridge import Bridge
from .._common import check_appended, check_depth, check_read_format, read_params, read_piece, upload_pieces
from ..exceptions import FileNotFoundException
from ..models import EntryInfo, WriteEntry, WriteInfo, entry_info, write_info


class AsyncFilesystem:
    """Files in the sandbox. Relative paths start at the sandbox home."""

    def __init__(self, bridge: Bridge, sandbox_id: str, request_timeout: Optional[float]) -> None:
        self._bridge = bridge
        self._sandbox_id = sandbox_id
        self._request_timeout = request_timeout

    async def _call(self, method: str, request_timeout: Optional[float], **params: Any) -> Any:
        self._bridge.require_capability("files")
        return await self._bridge.acall(
            method,
            {"sandboxId": self._sandbox_id, **params},
            timeout=request_timeout if request_timeout is not None else self._request_timeout,
        )

    @overload
    async def read(self, path: str, format: Literal["text"] = "text", user: Optional[str] = None, request_timeout: Optional[float] = None) -> str: ...

    @overload
    async def read(self, path: str, format: Literal["bytes"], user: Optional[str] = None, request_timeout: Optional[float] = None) -> bytearray: ...

    @overload
    async def read(self, path: str, format: Literal["stream"], user: Optional[str] = None, request_timeout: Optional[float] = None) -> AsyncIterator[bytes]: ...

    async def read(
        self,
        path: str,
        format: Literal["text", "bytes", "stream"] = "text",
        user: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> Union[str, bytearray, AsyncIterator[bytes]]:
        """The file's content as `str`, `bytearray` or an async iterator of `bytes` chunks (read
        piece by piece as you iterate). A missing file raises `FileNotFoundException`."""
        check_read_format(format)
        if format == "text":
            return str((await self._call("files.read", request_timeout, path=path, encoding="utf8")).get("content") or "")
        pieces = self._pieces(path, request_timeout)
        if format == "bytes":
            return bytearray(b"".join([piece async for piece in pieces]))
        try:
            first = await pieces.__anext__()  # errors such as a missing file are raised here
        except StopAsyncIteration:
            first = b""

        async def stream() -> AsyncIterator[bytes]:
            if first:
                yield first
            async for piece in pieces:
                yield piece

        return stream()

    async def _pieces(self, path: str, request_timeout: Optional[float]) -> AsyncIterator[bytes]:
        offset = 0
        while True:
            self._bridge.require_capability("files")
            result = await self._bridge.acall(
                "files.read", read_params(self._sandbox_id, path, offset),
                timeout=request_timeout if request_timeout is not None else self._request_timeout,
            )
            data, more = read_piece(result, offset)
            if data:
                yield data
            if not more:
                return
            offset += len(data)

    async def write(
        self,
        path: str,
        data: Union[str, bytes, IO[Any]],
        user: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> WriteInfo:
        written = pieces = 0
        result: Any = {}
        for content, encoding in upload_pieces(data):
            extra = {"append": True} if pieces else {}
            result = await self._call("files.write", request_timeout, path=path, content=content, encoding=encoding, **extra)
            written += int(result.get("size") or 0)
            pieces += 1
        if pieces > 1:
            check_appended(path, pieces, written, await self._call("files.info", request_timeout, path=path))
        return write_info(result.get("path") or path)

    async def write_files(
        self,
        files: List[WriteEntry],
        user: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> List[WriteInfo]:
        return [await self.write(f["path"], f["data"], user=user, request_timeout=request_timeout) for f in files]

    async def list(
        self,
        path: str,
        depth: Optional[int] = 1,
        user: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> List[EntryInfo]:
        check_depth(depth)
        result = await self._call("files.list", request_timeout, path=path, depth=depth or 1)
        return [entry_info(e) for e in result.get("entries", [])]

    async def exists(self, path: str, user: Optional[str] = None, request_timeout: Optional[float] = None) -> bool:
        return bool((await self._call("files.exists", request_timeout, path=path)).get("exists"))

    async def get_info(self, path: str, user: Optional[str] = None, request_timeout: Optional[float] = None) -> EntryInfo:
        return entry_info(await self._call("files.info", request_timeout, path=path))

    async def remove(self, path: str, user: Optional[str] = None, request_timeout: Optional[float] = None) -> None:
        try:
            await self._call("files.remove", request_timeout, path=path)
        except FileNotFoundException:
            pass

    async def rename(self, old_path: str, new_path: str, user: Optional[str] = None, request_timeout: Optional[float] = None) -> EntryInfo:
        result = await self._call("files.rename", request_timeout, **{"from": old_path, "to": new_path})
        if isinstance(result, dict) and (result.get("path") or result.get("entry")):
            return entry_info(result)
        return await self.get_info(new_path, request_timeout=request_timeout)

    async def make_dir(self, path: str, user: Optional[str] = None, request_timeout: Optional[float] = None) -> bool:
        return bool((await self._call("files.makeDir", request_timeout, path=path)).get("created"))

"""A small headless Chromium driver over the DevTools protocol (aiohttp's websocket client).

https://chromedevtools.github.io/devtools-protocol/ — `Page.navigate`, `Runtime.evaluate`,
`Page.captureScreenshot`; the browser writes its port to `DevToolsActivePort`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from tests.browser import chromium_binary

TIMEOUT = 30.0


class Tab:
    """One page target: navigate, evaluate, wait for loads, take screenshots."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._answers: dict[int, asyncio.Future[Any]] = {}
        self._loads: asyncio.Queue[None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            data = message.json()
            if "id" in data and data["id"] in self._answers:
                self._answers.pop(data["id"]).set_result(data)
            elif data.get("method") == "Page.loadEventFired":
                self._loads.put_nowait(None)

    async def send(self, method: str, **params: Any) -> Any:
        """Call a DevTools method; return its result or raise its error."""
        call = next(self._ids)
        answer = self._answers[call] = asyncio.get_running_loop().create_future()
        await self._ws.send_json({"id": call, "method": method, "params": params})
        data = await asyncio.wait_for(answer, TIMEOUT)
        if "error" in data:
            raise RuntimeError(f"{method}: {data['error']}")
        return data.get("result", {})

    async def evaluate(self, expression: str) -> Any:
        """Evaluate JavaScript in the page; return its value."""
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def _forget_loads(self) -> None:
        while not self._loads.empty():
            self._loads.get_nowait()

    async def navigate(self, url: str) -> None:
        """Open a URL and wait until it has loaded."""
        self._forget_loads()
        await self.send("Page.navigate", url=url)
        await asyncio.wait_for(self._loads.get(), TIMEOUT)

    async def click(self, selector: str) -> None:
        """Click an element that leads to a new page, and wait until that page has loaded."""
        self._forget_loads()
        found = await self.evaluate(
            f"(() => {{ const e = document.querySelector({selector!r}); "
            "if (!e) return false; e.click(); return true; })()"
        )
        assert found, f"no {selector} on {await self.evaluate('location.href')}"
        await asyncio.wait_for(self._loads.get(), TIMEOUT)

    async def screenshot(self, path: Path) -> Path:
        """Save a PNG of the whole page."""
        shot = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))
        return path

    async def close(self) -> None:
        """Stop reading and close the connection."""
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self._ws.close()


async def _port(profile: Path, process: asyncio.subprocess.Process) -> int:
    active = profile / "DevToolsActivePort"
    for _ in range(int(TIMEOUT / 0.05)):
        if active.is_file() and active.read_text().strip():
            return int(active.read_text().splitlines()[0])
        if process.returncode is not None:
            raise RuntimeError(f"chromium exited with {process.returncode}")
        await asyncio.sleep(0.05)  # the browser starting up, not time passing in a test
    raise RuntimeError("chromium did not open its DevTools port")


@contextlib.asynccontextmanager
async def browser_tab(profile: Path) -> AsyncIterator[Tab]:
    """Launch headless Chromium with a fresh profile; yield one tab; stop it afterwards."""
    process = await asyncio.create_subprocess_exec(
        chromium_binary(),
        "--headless=new",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        "--no-sandbox",  # containers run tests as root, where the sandbox cannot start
        "--no-first-run",
        "--disable-gpu",
        "--window-size=1000,1000",
        "about:blank",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port = await _port(profile, process)
        async with aiohttp.ClientSession() as session:
            async with session.put(f"http://127.0.0.1:{port}/json/new?about:blank") as resp:
                target = await resp.json()
            ws = await session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)
            tab = Tab(ws)
            await tab.send("Page.enable")
            try:
                yield tab
            finally:
                await tab.close()
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()

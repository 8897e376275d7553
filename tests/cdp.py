"""A small Chrome DevTools protocol client over ``--remote-debugging-pipe`` (plain Python, no
websocket package): headless Chromium with every network request refused, a page, its events.

Chromium reads commands from its file descriptor 3 and writes replies and events to 4, each a
JSON message ending in a NUL byte (https://chromedevtools.github.io/devtools-protocol/).
Used by tests/test_interactive_map.py and benchmarks/bench_report.py.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

__all__ = ["Chromium", "OFFLINE_FLAGS"]

#: Flags that leave Chromium no way out: every host name fails to resolve, every proxied request
#: goes to a closed port, and the background services that phone home are off.
OFFLINE_FLAGS = ("--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
                 "--no-first-run", "--disable-default-apps", "--disable-domain-reliability", "--no-pings")


class Chromium:
    """Headless Chromium driven through its DevTools pipe; a context manager.

    Example
    -------
    ::

        with Chromium(tmp_path / "profile") as browser:
            browser.open("file:///tmp/report.html")
            title = browser.evaluate("document.title")
    """

    def __init__(self, profile: Path, *, width: int = 1366, height: int = 900, timeout: float = 60.0):
        self.profile, self.width, self.height, self.timeout = Path(profile), width, height, timeout
        self.events: list[dict] = []
        self._replies: dict[int, dict] = {}
        self._cond = threading.Condition()
        self._next = 0
        self.session: str | None = None

    def __enter__(self) -> Chromium:
        binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        # Chromium's ends of the two pipes, moved above 10 so that placing them at 3 and 4 in the
        # child cannot overwrite one with the other; both close on exec except as 3 and 4.
        ends = []
        for pipe, keep in ((os.pipe(), 1), (os.pipe(), 0)):
            ends.append(fcntl.fcntl(pipe[1 - keep], fcntl.F_DUPFD_CLOEXEC, 10))
            os.close(pipe[1 - keep])
            if keep:
                self._to_chrome = pipe[keep]
            else:
                self._from_chrome = pipe[keep]

        def place_fds():
            os.dup2(ends[0], 3)  # dup2 clears close-on-exec on 3 and 4
            os.dup2(ends[1], 4)

        cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe", *OFFLINE_FLAGS,
               f"--user-data-dir={self.profile}", f"--window-size={self.width},{self.height}", "about:blank"]
        self.process = subprocess.Popen(cmd, preexec_fn=place_fds, close_fds=False,  # noqa: PLW1509 - only dup2
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in ends:
            os.close(fd)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.send("Browser.close", session=False, wait=False)
            self.process.wait(timeout=10)
        except Exception:  # noqa: BLE001 - closing down whatever state the browser is in
            self.process.kill()
            self.process.wait(timeout=10)
        finally:
            os.close(self._to_chrome)
            self._reader.join(timeout=5)
            os.close(self._from_chrome)

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_chrome, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._cond.notify_all()
                return
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            with self._cond:
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:
                        self._replies[message["id"]] = message
                    else:
                        self.events.append(message)
                self._cond.notify_all()

    def send(self, method: str, params: dict | None = None, *, session: bool = True, wait: bool = True) -> dict:
        """Send one command (to the page's session unless ``session=False``); its result."""
        self._next += 1
        message = {"id": self._next, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        if not wait:
            return {}
        reply = self._wait(lambda: self._replies.pop(self._next, None), f"a reply to {method}")
        if "error" in reply:
            msg = f"{method}: {reply['error']}"
            raise RuntimeError(msg)
        return reply.get("result", {})

    def _wait(self, found, what: str):
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while True:
                value = found()
                if value:
                    return value
                if self.process.poll() is not None:
                    msg = f"Chromium exited (code {self.process.returncode}) while waiting for {what}"
                    raise RuntimeError(msg)
                left = deadline - time.monotonic()
                if left <= 0:
                    msg = f"no {what} within {self.timeout:g} s"
                    raise TimeoutError(msg)
                self._cond.wait(min(left, 0.5))

    def open(self, url: str) -> None:
        """A new page with the Network, Runtime and Page domains on, then ``url`` loaded."""
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        for domain in ("Network", "Runtime", "Page"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False})
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def wait_event(self, method: str) -> dict:
        """The first event ``method`` of the page's session (waiting for it if needed)."""
        def first():
            return next((e for e in self.events if e["method"] == method and e.get("sessionId") == self.session), None)

        return self._wait(first, f"event {method}")

    def evaluate(self, expression: str, *, wait_promise: bool = True):
        """The value of a JavaScript expression in the page (a JS exception raises RuntimeError)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": wait_promise})
        if "exceptionDetails" in result:
            msg = f"{expression[:80]}: {result['exceptionDetails']}"
            raise RuntimeError(msg)
        return result["result"].get("value")

    def until(self, expression: str, *, timeout: float | None = None):
        """Poll a JavaScript expression until it is truthy; its value."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.02)
        msg = f"{expression!r} still false after {timeout or self.timeout:g} s"
        raise TimeoutError(msg)

    def click(self, x: float, y: float) -> None:
        """A left click at viewport pixel (x, y), as a mouse would give it."""
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left",
                                                   "buttons": 1 if kind == "mousePressed" else 0, "clickCount": 1})

    def drag(self, x0: float, y0: float, x1: float, y1: float, steps: int = 5) -> None:
        """Press the left button at (x0, y0), move to (x1, y1) in ``steps``, release."""
        self.send("Input.dispatchMouseEvent", {"type": "mousePressed", "x": x0, "y": y0, "button": "left", "buttons": 1,
                                               "clickCount": 1})
        for k in range(1, steps + 1):
            x, y = x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps
            self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y, "button": "left", "buttons": 1})
        self.send("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": x1, "y": y1, "button": "left", "buttons": 0,
                                               "clickCount": 1})

    def wheel(self, x: float, y: float, delta_y: float) -> None:
        """Turn the mouse wheel at (x, y) (negative ``delta_y``: away from the user, zoom in on a map)."""
        self.send("Input.dispatchMouseEvent", {"type": "mouseWheel", "x": x, "y": y, "deltaX": 0, "deltaY": delta_y})

    def requests(self) -> list[str]:
        """Every URL the page asked for."""
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def exceptions(self) -> list[str]:
        """Every uncaught JavaScript exception and console error of the page."""
        out = [e["params"]["exceptionDetails"].get("exception", {}).get("description")
               or e["params"]["exceptionDetails"].get("text") for e in self.events if e["method"] == "Runtime.exceptionThrown"]
        out += [" ".join(str(a.get("value", a.get("description", ""))) for a in e["params"]["args"])
                for e in self.events if e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] == "error"]
        return out

"""A tiny W3C WebDriver client for headless Chromium, standard library only (urllib, json, subprocess).

    from webdriver import Browser, check_page

    with Browser() as b:                  # starts chromedriver on a free port and a fresh headless Chromium
        b.open("file:///tmp/study/index.html")
        b.type("#rater", "alice")
        b.click("#start")
        print(b.text("#progress"), b.value("#export"))
        b.execute("return document.title")
        b.screenshot("/tmp/shot.png")
        b.assert_no_console_errors()      # console.error, uncaught exceptions, failed loads -- since the start

    check_page("/tmp/report.html", "/tmp/report.png")   # load, screenshot, not blank, no console errors

Errors raise AssertionError (a page check failed) or WebDriverError (the browser or the driver did).
Environment: GF_CHROMEDRIVER and GF_CHROMIUM override the programs (defaults: chromedriver and chromium on the
PATH, Debian's /usr/lib/chromium/chromium preferred over its /usr/bin/chromium launcher script).
"""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import zlib

CHROME_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1200,900",
    # chromedriver talks to the browser through a pipe, not a TCP port on "localhost": a minimal system (a chroot,
    # some containers) may have no /etc/hosts to resolve that name.
    "--remote-debugging-pipe",
]
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C element reference key


class WebDriverError(RuntimeError):
    pass


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chromium_binary():
    for candidate in (os.environ.get("GF_CHROMIUM"), "/usr/lib/chromium/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and os.path.exists(candidate):
            return candidate
    raise WebDriverError("no Chromium found (set GF_CHROMIUM)")


class Browser:
    """One chromedriver process and one browser session; use as a context manager (quit() ends both)."""

    def __init__(self, timeout=60):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="gf-chromium-")
        self.port = _free_port()
        driver = os.environ.get("GF_CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
        self.log_path = os.path.join(self.profile, "chromedriver.log")
        self.process = subprocess.Popen([driver, f"--port={self.port}", f"--log-path={self.log_path}"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        self.session = None
        self.console = []  # every browser log entry read so far
        try:
            self._wait_ready()
            caps = {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": _chromium_binary(),
                    "args": CHROME_ARGS + [f"--user-data-dir={os.path.join(self.profile, 'user-data')}"],
                },
                "goog:loggingPrefs": {"browser": "ALL"},
            }
            reply = self._call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})
            self.session = reply["sessionId"]
        except BaseException:
            self.quit()
            raise

    # ---- plumbing ----
    def _wait_ready(self):
        deadline = time.time() + self.timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise WebDriverError(f"chromedriver exited with {self.process.returncode}")
            try:
                if self._call("GET", "/status").get("ready"):
                    return
            except (OSError, WebDriverError):
                pass
            time.sleep(0.1)
        raise WebDriverError("chromedriver did not become ready")

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                payload = json.loads(reply.read().decode() or "{}")
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            try:
                value = json.loads(text).get("value", {})
                text = f"{value.get('error')}: {value.get('message', '').splitlines()[0] if value.get('message') else ''}"
            except ValueError:
                pass
            raise WebDriverError(f"{method} {path}: HTTP {e.code}: {text}") from None
        return payload.get("value", payload)

    def _session(self, method, path, body=None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def _element(self, css):
        found = self._session("POST", "/element", {"using": "css selector", "value": css})
        return found[ELEMENT]

    # ---- the API ----
    def open(self, url):
        """Loads `url` (a path is turned into a file:// URL) and waits for the document to be complete."""
        if "://" not in url:
            url = "file://" + os.path.abspath(url)
        self._session("POST", "/url", {"url": url})
        deadline = time.time() + self.timeout
        while self.execute("return document.readyState") != "complete":
            if time.time() > deadline:
                raise WebDriverError(f"{url} did not finish loading")
            time.sleep(0.05)

    def click(self, css):
        self._session("POST", f"/element/{self._element(css)}/click", {})

    def type(self, css, text):
        """Types `text` into the element (after what it holds)."""
        self._session("POST", f"/element/{self._element(css)}/value", {"text": text})

    def clear(self, css):
        self._session("POST", f"/element/{self._element(css)}/clear", {})

    def text(self, css):
        """The element's rendered text (empty for hidden elements)."""
        return self._session("GET", f"/element/{self._element(css)}/text")

    def value(self, css):
        """The element's current value property (inputs, text areas)."""
        return self._session("GET", f"/element/{self._element(css)}/property/value")

    def exists(self, css):
        return bool(self.execute("return document.querySelector(arguments[0]) !== null", css))

    def execute(self, script, *args):
        """Runs `script` as a function body (use `return`); arguments are arguments[0], ..."""
        return self._session("POST", "/execute/sync", {"script": script, "args": list(args)})

    def set_window(self, width, height):
        """Resizes the browser window (a taller window for a screenshot of a whole page)."""
        self._session("POST", "/window/rect", {"width": width, "height": height})

    def screenshot(self, path):
        """Saves the viewport as a PNG file; returns its bytes."""
        png = base64.b64decode(self._session("GET", "/screenshot"))
        with open(path, "wb") as out:
            out.write(png)
        return png

    def console_log(self):
        """All browser log entries so far ({"level", "message", "source", "timestamp"}), including those from
        before and during page load (chromedriver's log endpoint returns each entry once; they accumulate here)."""
        for path in ("/se/log", "/log"):
            try:
                self.console += self._session("POST", path, {"type": "browser"})
                break
            except WebDriverError as e:
                if "unknown command" not in str(e) and "HTTP 404" not in str(e):
                    raise
        return list(self.console)

    def console_errors(self):
        return [e for e in self.console_log() if e.get("level") == "SEVERE"]

    def assert_no_console_errors(self):
        errors = self.console_errors()
        assert not errors, "console errors:\n" + "\n".join(e.get("message", str(e)) for e in errors)

    def quit(self):
        if self.session:
            try:
                self._call("DELETE", f"/session/{self.session}")
            except (OSError, WebDriverError):
                pass
            self.session = None
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.quit()


# ---- PNG checks (stdlib: zlib) ----

def png_pixels(png):
    """Decodes an 8-bit non-interlaced PNG (grey, grey+alpha, RGB, RGBA; what screenshots are) into
    (width, height, channels, list of rows as bytes)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        chunk = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"unsupported PNG (depth {depth}, colour type {colour}, interlace {interlace})")
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = previous[x]
            c = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def ink_fraction(png):
    """The share of pixels whose colour differs from the most common one (the background): 0 for a blank image."""
    width, height, channels, rows = png_pixels(png)
    counts = {}
    for row in rows[::2]:  # every other row and column: plenty for a blank-or-not verdict
        for x in range(0, width * channels, 2 * channels):
            colour = row[x:x + min(channels, 3)]
            counts[colour] = counts.get(colour, 0) + 1
    total = sum(counts.values())
    return 1 - max(counts.values()) / total if total else 0.0


def inked_screenshot(browser, path, min_ink=0.002, wait=5.0):
    """Screenshots until at least `min_ink` of the pixels are drawn or `wait` seconds have passed (a loaded machine
    may paint late); returns (png, ink) of the last one, which the caller checks."""
    deadline = time.time() + wait
    while True:
        png = browser.screenshot(path)
        ink = ink_fraction(png)
        if ink >= min_ink or time.time() > deadline:
            return png, ink
        time.sleep(0.2)


def check_page(html_path, screenshot_path, min_ink=0.002, browser=None):
    """Loads a local HTML file in headless Chromium, saves a screenshot, and asserts that it is not blank (at least
    `min_ink` of the pixels differ from the background colour) and that the console shows no errors (SEVERE
    entries: console.error, uncaught exceptions, failed resource loads). Returns {"ink", "console"}. Pass a
    Browser to reuse one; otherwise a fresh one is started and closed."""
    own = browser is None
    browser = browser or Browser()
    try:
        browser.open(html_path)
        time.sleep(0.2)  # let scripts that run after load (timers, fonts) finish drawing
        png, ink = inked_screenshot(browser, screenshot_path, min_ink)
        assert ink >= min_ink, f"{html_path}: the screenshot {screenshot_path} looks blank (ink {ink:.5f})"
        browser.assert_no_console_errors()
        return {"ink": ink, "console": browser.console_log()}
    finally:
        if own:
            browser.quit()


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 3:
        sys.exit("usage: python3 webdriver.py PAGE.html SCREENSHOT.png")
    print(json.dumps(check_page(sys.argv[1], sys.argv[2]), indent=1))

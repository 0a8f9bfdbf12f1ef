"""Screenshots of the dashboard's main pages for docs/service.md (docs/img/service-*.png).

Starts ``wattbit serve`` (embedded twin) on a free loopback port in a temporary folder, lets the twin run a little,
proposes one drain as the control loop would, starts a short run, and photographs the fleet, operations and runs
pages in Debian's chromium (Playwright with ``executable_path``). Stops the server by its pid.

    PYTHONPATH=src python scripts/service_screenshots.py [--out docs/img] [--warmup 40]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from wattbit.api.server import create_token_at

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def main() -> None:
    """Take the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--warmup", type=float, default=40.0, help="Seconds the twin runs before the photographs.")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="wattbit-shots-"))
    db = f"sqlite:///{folder / 'wattbit.sqlite'}"
    operator = create_token_at(db, "ops-lead", "operator")
    admin = create_token_at(db, "heal-loop", "admin")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    cmd = [sys.executable, "-m", "wattbit.cli", "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(folder)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        drain = {"kind": "drain", "site": "inzai", "target": "inzai-n0042", "episode": "docs",
                 "reason": "XID 79 (GPU fell off the bus) on GPU 3", "evidence": {"xid": 79, "gpu": 3}}  # fmt: skip
        httpx.post(url + "/api/v1/ops/actions", json=drain, headers={"Authorization": f"Bearer {admin}"})
        run = {"kind": "simulate", "scenario_id": "builtin-japan-2022", "start": "2022-04-10", "end": "2022-04-12"}
        httpx.post(url + "/api/v1/runs", json=run, headers={"Authorization": f"Bearer {operator}"})
        time.sleep(args.warmup)
        args.out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1100})
            page.goto(url + "/login")
            page.fill("#token", operator)
            page.click("#login-button")
            for name, path in (("fleet", "/"), ("ops", "/ops"), ("runs", "/runs")):
                page.goto(url + path)
                page.wait_for_selector("body[data-ready='1']", state="attached", timeout=60_000)
                page.wait_for_timeout(2500)
                page.screenshot(path=str(args.out / f"service-{name}.png"))
                print(args.out / f"service-{name}.png")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()

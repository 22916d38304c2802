"""A local SMTP server for the mail benchmark: accepts everything, records each Message-ID.

    python -m tests.bench.smtp_sink PORT LOGFILE

Runs as its own process (as a real local MTA would), prints "ready" once it listens, appends one
line per received message to LOGFILE, and stops on SIGTERM.
"""

from __future__ import annotations

import re
import signal
import sys
import threading
from typing import Any

from aiosmtpd.controller import Controller

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


class Sink:
    def __init__(self, log_path: str) -> None:
        self.log = open(log_path, "a", buffering=1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content or b""
        headers = content.split(b"\r\n\r\n", 1)[0]
        match = MESSAGE_ID.search(headers)
        message_id = match.group(1).decode("ascii", "replace") if match else "<missing>"
        self.log.write(f"{message_id} {len(content)}\n")
        return "250 Message accepted for delivery"


def main() -> None:
    port, log_path = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Sink(log_path), hostname="127.0.0.1", port=port, decode_data=False)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()

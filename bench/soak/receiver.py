# Execution hook receiver of bench/soak.sh: an HTTP server on 127.0.0.1 (ephemeral port,
# printed on the first line of stdout) that answers every other POST 500, so the hook
# dispatcher's retries pile up, and the others 204. Counts the answers in COUNTS_FILE
# ("ok N fail N"), rewritten after each request.
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counts_file = sys.argv[1]
lock = threading.Lock()
counts = {"ok": 0, "fail": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with lock:
            fail = (counts["ok"] + counts["fail"]) % 2 == 0
            counts["fail" if fail else "ok"] += 1
            with open(counts_file, "w") as f:
                f.write("ok %d fail %d\n" % (counts["ok"], counts["fail"]))
        self.send_response(500 if fail else 204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()

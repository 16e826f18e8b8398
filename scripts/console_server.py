#!/usr/bin/env python3
"""The operator console locally: its files at /, the API at /api/ (proxied
to cargo lambda watch), one origin as the deployed CloudFront distribution
gives them (S3 for the files, /api/* to the HTTP API), so no CORS.

    console_server.py PORT API_URL DIR
"""
import http.server
import sys
import urllib.error
import urllib.request

PORT, API, ROOT = int(sys.argv[1]), sys.argv[2].rstrip("/"), sys.argv[3]
HOP = {"host", "connection", "content-length", "transfer-encoding", "keep-alive"}


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=ROOT, **kwargs)

    def end_headers(self):
        self.send_header("cache-control", "no-store")
        super().end_headers()

    def proxy(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else None
        req = urllib.request.Request(API + self.path[len("/api"):], data=body, method=self.command)
        for k, v in self.headers.items():
            if k.lower() not in HOP:
                req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                status, headers, data = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            status, headers, data = e.code, e.headers, e.read()
        except OSError as e:
            status, headers = 502, {}
            data = ('{"error": {"code": "api_unreachable", "message": "the API at %s does not answer: %s"}}'
                    % (API, e)).encode()
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() not in HOP:
                self.send_header(k, v)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.startswith("/api/"):
            return self.proxy()
        return super().do_GET()

    def do_POST(self):
        if self.path.startswith("/api/"):
            return self.proxy()
        self.send_error(404)

    do_PUT = do_POST

    def log_message(self, fmt, *args):
        sys.stderr.write("console %s\n" % (fmt % args))


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()

"""Moru's "Web Server Example", run on sandbox-rpc.

Changed from the page: the import; the request goes over plain `http://` (a local sandbox's
port is not behind a TLS proxy), with the standard library's urllib instead of `requests`.
Needs a bridge with the files capability and `sandbox.getHost`.
"""

import urllib.request

from sandbox_rpc import Sandbox

sandbox = Sandbox.create()

# Write a simple server
sandbox.files.write("/home/user/server.py", """
from http.server import HTTPServer, SimpleHTTPRequestHandler
print("Starting server on port 8080...")
HTTPServer(("0.0.0.0", 8080), SimpleHTTPRequestHandler).serve_forever()
""")

# Start the server
handle = sandbox.commands.run("python3 /home/user/server.py", background=True)

# Wait for server to start
import time
time.sleep(2)

# Get the public URL
host = sandbox.get_host(8080)
print(f"Server available at: http://{host}")

# Make a request
response = urllib.request.urlopen(f"http://{host}")
print(f"Response status: {response.status}")

# Clean up
handle.kill()
sandbox.kill()

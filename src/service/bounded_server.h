// An HTTP server (cpp-httplib) that slow or idle clients cannot take down.
//
// cpp-httplib (0.11 in Debian 12, and still upstream) bounds each read of a request but
// not the whole: a client sending a byte every two seconds holds one of its few worker
// threads for ever, and a dozen of them starve every other client (issue 10, finding 8).
// This server reads each request through a stream with one deadline for the whole request,
// counted from the connection's accept, and a byte budget; it serves one request per
// connection and then closes it, so keep-alive cannot hold a worker either.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace httplib {
class Server;
}

namespace derived {

struct HttpLimits {
  double request_seconds = 5;  // the request line, headers and body must all arrive within this
  double write_seconds = 5;    // each write of the answer may wait this long for the client
  size_t max_request_bytes = size_t{64} << 20;  // headers and body together
  int threads = 32;  // requests served at once; more wait for a free worker
};

// A server with every route, handler and setting of httplib::Server available, and the
// limits above applied to every connection (its payload limit is set from them too).
std::unique_ptr<httplib::Server> NewBoundedServer(const HttpLimits& limits);

// Binds `server` (made by NewBoundedServer) to a port of 127.0.0.1 the OS picks and
// returns it, or -1. Its queue of connections not yet accepted is the system's largest
// (httplib's is 5): a burst of connections then waits for a worker, never for the
// client to retry its connection a second or more later.
int BindLoopback(httplib::Server* server);

// Binds `server` (made by NewBoundedServer) to `address` ("127.0.0.1", "0.0.0.0", "::")
// and `port` (0: one the OS picks) and returns the port, or -1 (e.g. the port is in use:
// unlike httplib's default, the socket does not share it with another by SO_REUSEPORT).
// The same backlog as BindLoopback.
int BindAddress(httplib::Server* server, const std::string& address, int port);

}  // namespace derived

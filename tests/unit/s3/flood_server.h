// FloodServer: an HTTP server on 127.0.0.1 that answers every request with more than was
// asked for: a body without end (chunked), a huge or merely too large Content-Length, an error
// body without end, or headers without end. It stops by itself after cap bytes of a
// connection (ending that response properly where it can), so a client with no bound gets a
// complete, oversized answer instead of exhausting memory: the tests assert on an error and on
// the bytes the server managed to send, never on an out-of-memory kill.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <thread>

namespace s3disk::testing {

class FloodServer {
 public:
  enum class Mode {
    kChunkedEndless,  // 200, chunked, chunks until cap, then the last chunk
    kHugeLength,      // 200, Content-Length: 1 TiB, bytes until cap, then close
    kTooLongLength,   // 200, Content-Length: cap, the whole body
    kErrorEndless,    // 500, chunked, chunks until cap, then the last chunk
    kHeadersEndless,  // 200, header lines until cap, then Content-Length: 0
  };

  explicit FloodServer(Mode mode, uint64_t cap = 64ull << 20) : mode_(mode), cap_(cap) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(listen_fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    REQUIRE(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(listen(listen_fd_, 16) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FloodServer() { Stop(); }

  // "http://127.0.0.1:PORT/"
  std::string BaseUrl() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
  // Stops accepting and waits for the connection being served to end; then the counts are
  // final.
  void Stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    thread_.join();
    close(listen_fd_);
  }
  // The most bytes written on one connection.
  uint64_t most_sent() const { return most_sent_; }
  int connections() const { return connections_; }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      connections_++;
      sent_ = 0;
      if (ReadRequest(fd)) Answer(fd);
      close(fd);
      if (sent_ > most_sent_) most_sent_ = sent_.load();
    }
  }

  // Reads up to the blank line that ends the request's headers (no request has a body here).
  static bool ReadRequest(int fd) {
    std::string got;
    char buf[4096];
    while (got.find("\r\n\r\n") == std::string::npos && got.size() < 65536) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return false;
      got.append(buf, static_cast<size_t>(n));
    }
    return true;
  }

  bool Send(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;  // the client hung up
      off += static_cast<size_t>(n);
      sent_ += static_cast<uint64_t>(n);
    }
    return true;
  }

  // Sends chunks (chunked) or raw blocks until cap bytes of body went out or the client left.
  bool Flood(int fd, bool chunked) {
    const std::string block(64 << 10, 'x');
    char size_line[32];
    snprintf(size_line, sizeof size_line, "%zx\r\n", block.size());
    for (uint64_t body = 0; body < cap_; body += block.size()) {
      if (chunked ? !Send(fd, size_line + block + "\r\n") : !Send(fd, block)) return false;
    }
    return true;
  }

  void Answer(int fd) {
    const std::string cap = std::to_string(cap_);
    switch (mode_) {
      case Mode::kChunkedEndless:
      case Mode::kErrorEndless: {
        const char* status = mode_ == Mode::kErrorEndless ? "500 Internal Server Error" : "200 OK";
        if (Send(fd,
                 std::string("HTTP/1.1 ") + status + "\r\nTransfer-Encoding: chunked\r\n\r\n") &&
            Flood(fd, true)) {
          Send(fd, "0\r\n\r\n");
        }
        return;
      }
      case Mode::kHugeLength:
        if (Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1099511627776\r\n\r\n")) Flood(fd, false);
        return;
      case Mode::kTooLongLength:
        if (Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + cap + "\r\n\r\n")) Flood(fd, false);
        return;
      case Mode::kHeadersEndless: {
        if (!Send(fd, "HTTP/1.1 200 OK\r\n")) return;
        const std::string line = "X-Filler: " + std::string(1000, 'h') + "\r\n";
        for (uint64_t n = 0; n < cap_; n += line.size()) {
          if (!Send(fd, line)) return;
        }
        Send(fd, "Content-Length: 0\r\n\r\n");
        return;
      }
    }
  }

  const Mode mode_;
  const uint64_t cap_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sent_{0};  // on the connection being served
  std::atomic<uint64_t> most_sent_{0};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

}  // namespace s3disk::testing

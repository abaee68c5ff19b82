// Raw loopback TCP bandwidth: one thread writes 32 KiB chunks, another reads,
// for the given number of MiB. The ceiling the data plane is compared with.
// Usage: loopback_tcp [mib=2048]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  const long long mib = argc > 1 ? std::atoll(argv[1]) : 2048;
  const long long total = mib << 20;
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("listen");
    return 1;
  }
  long long received = 0;
  std::thread reader([&] {
    int fd = ::accept(listener, nullptr, nullptr);
    std::vector<char> buf(64 * 1024);
    ssize_t n;
    while ((n = ::read(fd, buf.data(), buf.size())) > 0) received += n;
    ::close(fd);
  });
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::perror("connect");
    return 1;
  }
  std::vector<char> chunk(32 * 1024, 'x');
  auto start = std::chrono::steady_clock::now();
  for (long long sent = 0; sent < total;) {
    ssize_t n = ::write(fd, chunk.data(), chunk.size());
    if (n <= 0) break;
    sent += n;
  }
  ::close(fd);
  reader.join();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("loopback TCP: %lld MiB in %.2f s = %.0f MB/s\n", received >> 20, s,
              static_cast<double>(received) / s / 1e6);
  return 0;
}

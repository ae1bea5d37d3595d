// What `s3disk --nbd` does: serve the bucket with nbdkit and our plugin (s3disk.so, see
// nbdkit_plugin.cc) on a Unix socket, and attach a kernel NBD device to it with nbd-client
// when one is given.
//
//   s3disk --nbd [options] BUCKET /dev/nbd0        serve on a private socket and attach
//   s3disk --nbd --socket=PATH [options] BUCKET    serve only (qemu, nbdcopy, nbdfuse, ...)
//
// Order: find the plugin, nbdkit (and nbd-client and the device when attaching); probe an S3
// bucket (OpenObjectStore: a bad setup is one line on stderr, before nbdkit starts); daemonize
// unless -f (the parent waits until the disk is served, and prints the start-up error if it
// is not); start nbdkit in the foreground as our child, in its own process group; wait until
// its socket accepts connections; run nbd-client; then wait for SIGINT/SIGTERM/SIGHUP (or
// nbdkit's death). Stopping: nbd-client -d (the kernel flushes and disconnects), then SIGTERM
// to nbdkit, whose plugin unload flushes every dirty block, shuts the stack down and clears
// the mount token; then wait for it. The stack itself lives only in nbdkit's process.
//
// The options reach the plugin as nbdkit key=value parameters: every option of the command
// line except the launcher's own becomes NAME=VALUE (flags NAME=true), and the bucket
// becomes bucket=BUCKET; the plugin turns them back into --NAME=VALUE for ParseArgs.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "app/config.h"
#include "base/status.h"

namespace s3disk {

// A seam for tests: does this path exist?
using PathExists = std::function<bool(const std::string& path)>;
bool PathExistsOnDisk(const std::string& path);

// The plugin's file name, in the build tree next to the s3disk binary and in pkglibdir.
inline constexpr const char* kNbdPluginName = "s3disk.so";

// The plugin's absolute path: next to the s3disk binary first (running from the build tree),
// then pkglibdir. ENOENT with both places named otherwise.
Result<std::string> FindNbdPlugin(const std::string& exe_dir, const std::string& pkglibdir,
                                  const PathExists& exists);

// The first PATH directory holding an executable name (an absolute path, for a daemon runs it
// in "/"), or ENOENT naming the package.
Result<std::string> FindInPath(const std::string& name, const std::string& path_env,
                               const PathExists& exists);

// The plugin parameters for argv (the s3disk command line, argv[0] the program): bucket=
// (the validated bucket: an absolute directory for --test), then every option in the order
// given as NAME=VALUE, flags as NAME=true, except --nbd, --socket, -f and -d (which becomes
// debug=true). The value of a file option (PathOptionNames: --blockCacheFile, --passwordFile,
// --accessFile, --cacert, --statsFile) is made absolute as Validate makes it, because a
// daemon's nbdkit runs in "/". Fails (EINVAL) on an unknown option; ParseArgs has already
// accepted argv, so that is a bug.
Result<std::vector<std::string>> NbdPluginParams(const std::vector<std::string>& argv,
                                                 const Config& config);

// nbdkit's command line: foreground, exits with its parent, its own Unix socket, logging to
// stderr (a daemon s3disk relays that to its own log).
std::vector<std::string> NbdkitArgv(const std::string& nbdkit, const std::string& plugin,
                                    const std::string& socket,
                                    const std::vector<std::string>& params);

// nbd-client's command lines: attach device to the Unix socket; detach it.
std::vector<std::string> NbdClientAttachArgv(const std::string& nbd_client,
                                             const std::string& socket, const std::string& device,
                                             uint32_t block_size);
std::vector<std::string> NbdClientDetachArgv(const std::string& nbd_client,
                                             const std::string& device);

// Checks that the kernel NBD device exists. When it does not: if the nbd module is not
// loaded (no /sys/module/nbd), the message says to run modprobe nbd or to use --socket;
// otherwise it names the device and how to list the existing ones.
Status CheckNbdDevice(const std::string& device, const PathExists& exists);

// Runs s3disk --nbd with a validated config; argv is the original command line. Returns the
// process exit code.
int RunNbd(const Config& config, const std::vector<std::string>& argv);

}  // namespace s3disk

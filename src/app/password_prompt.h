// Asking for the --encrypt password on the terminal, as s3backer does when neither --password
// nor --passwordFile is given.
//
// main.cc decides (CanPromptForPassword and isatty(stdin)) and sets Config::password_prompt
// before Validate; Validate then accepts the missing password and checks the cipher with a
// stand-in, so a mistake on the command line is reported before anyone types a password.
// After Validate, main calls PromptPassword. Without a terminal nothing is asked and Validate
// keeps its one-line error naming --passwordFile. NBD mode never asks: the nbdkit plugin reads
// the command line again in nbdkit's process, which has no terminal.
#pragma once

#include <string>

#include "app/config.h"
#include "base/status.h"

namespace s3disk {

// --encrypt with neither --password nor --passwordFile, and not --nbd, --help or --version.
bool CanPromptForPassword(const Config& config);

// Writes prompt to /dev/tty and reads one line from it with echo off, then restores the
// terminal's settings: on every return path, and also when SIGINT, SIGTERM, SIGHUP or SIGQUIT
// arrives while it waits (the handler restores the settings, then the signal does what it
// would have done). A newline is echoed after the line. EINVAL for an empty line; ENXIO (with
// the fix) when there is no terminal.
Result<std::string> PromptPassword(const std::string& prompt);

// The pure part: reads from fd up to the first '\n' or the end of input, without the newline
// or a '\r' before it. Retries on EINTR; EIO on a read error or on a line longer than
// max_bytes; ENODATA when the input ends before anything was read.
Result<std::string> ReadPasswordLine(int fd, size_t max_bytes = 4096);

}  // namespace s3disk

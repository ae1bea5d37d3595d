// The Catch2 v2 runner for all unit tests (kept alone: it is slow to compile).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "block/journal.h"

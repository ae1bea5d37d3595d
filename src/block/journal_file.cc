#include "block/journal_file.h"

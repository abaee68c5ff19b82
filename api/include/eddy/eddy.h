// The one header a job includes: the DataStream API, functions, state, sources,
// sinks and EDDY_PROGRAM.
#pragma once

#include "eddy/broadcast.h"
#include "eddy/checkpoint.h"
#include "eddy/datastream.h"
#include "eddy/environment.h"
#include "eddy/format.h"
#include "eddy/functions.h"
#include "eddy/program.h"
#include "eddy/serializer.h"
#include "eddy/sinks.h"
#include "eddy/sources.h"
#include "eddy/state.h"
#include "eddy/watermarks.h"
#include "eddy/joins.h"
